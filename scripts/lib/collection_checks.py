"""Checks of scripts/test's collection stage on what the release tools made.

    collection_checks.py importer IMPORTER_LOG IMPORTER_RESULT_JSON
    collection_checks.py release CHANGELOG_YAML METADATA_DUMP_JSON VERSION
    collection_checks.py ee CONTEXT_DIR EE_FILE REQUIREMENTS_YML
    collection_checks.py introspect INTROSPECT_OUTPUT

Each prints what it checked and exits 1 with the reasons when a check fails.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml

# Content galaxy-importer lists that has no documentation of its own.
UNDOCUMENTED = {"doc_fragments", "module_utils", "plugin_utils", "playbook", "role"}


def importer(log_path, result_path):
    """galaxy-importer warned about nothing and read every plugin's documentation."""
    log = pathlib.Path(log_path).read_text()
    problems = [line for line in log.splitlines() if line.startswith(("WARNING:", "ERROR:", "CRITICAL:"))]
    if "Importer processing completed successfully" not in log:
        problems.append("galaxy-importer did not complete")
    result = json.loads(pathlib.Path(result_path).read_text())
    documented = {(c["content_type"], c["content_name"]): bool(c.get("doc_strings"))
                  for c in result["docs_blob"]["contents"] if c["content_type"] not in UNDOCUMENTED}
    problems += [f"galaxy-importer found no documentation of the {kind} {name}"
                 for (kind, name), has_doc in sorted(documented.items()) if not has_doc]
    if not any(kind == "module" for kind, name in documented):
        problems.append("galaxy-importer found no module")
    roles = sorted(c["name"] for c in result["contents"] if c["content_type"] == "role")
    if not roles:
        problems.append("galaxy-importer found no role")
    print(f"galaxy-importer: {len(documented)} documented plugins, roles {', '.join(roles)}, "
          f"requires_ansible {result.get('requires_ansible')}")
    return problems


def release(changelog_path, metadata_path, version):
    """The trial release announces every plugin and role of the collection as new in VERSION, and no other release."""
    releases = yaml.safe_load(pathlib.Path(changelog_path).read_text())["releases"]
    problems = [f"changelog.yaml has a release {v}; only {version} is expected"
                for v in releases if v != version]
    this = releases.get(version)
    if not this:
        return problems + [f"changelog.yaml has no release {version}"]
    announced = {("module", m["name"]) for m in this.get("modules", [])}
    announced |= {(kind, p["name"]) for kind, plugins in this.get("plugins", {}).items() for p in plugins}
    announced |= {(kind, o["name"]) for kind, objects in this.get("objects", {}).items() for o in objects}
    dump = json.loads(pathlib.Path(metadata_path).read_text())["all"]
    prefix = "selfhosted.prefect."
    present = {(kind, name[len(prefix):]) for kind, entries in dump.items() if kind != "keyword"
               for name in entries if name.startswith(prefix)}
    problems += [f"{kind} {name} is not announced as new in {version} (its version_added?)"
                 for kind, name in sorted(present - announced)]
    problems += [f"{kind} {name} is announced but not in the collection"
                 for kind, name in sorted(announced - present)]
    if not this.get("changes", {}).get("release_summary"):
        problems.append(f"release {version} has no release_summary")
    counts = {}
    for kind, name in announced:
        counts[kind] = counts.get(kind, 0) + 1
    print(f"trial release {version} announces: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return problems


def ee(context_dir, ee_path, requirements_path):
    """ansible-builder's build context installs the base image, the collection requirements and tomlkit."""
    context = pathlib.Path(context_dir)
    containerfile = context / "Containerfile"
    if not containerfile.is_file():
        return [f"no {containerfile}"]
    text = containerfile.read_text()
    definition = yaml.safe_load(pathlib.Path(ee_path).read_text())
    problems = []
    base = definition["images"]["base_image"]["name"]
    if f'ARG EE_BASE_IMAGE="{base}"' not in text:
        problems.append(f"the Containerfile does not build on {base}")
    if not re.search(r"ansible-galaxy collection install .*-r requirements\.yml", text):
        problems.append("the Containerfile installs no collection requirements")
    core = definition["dependencies"]["ansible_core"]["package_pip"]
    if core not in text:
        problems.append(f"the Containerfile does not install {core}")
    built = context / "_build" / "requirements.yml"
    wanted = yaml.safe_load(pathlib.Path(requirements_path).read_text())
    if not built.is_file() or yaml.safe_load(built.read_text()) != wanted:
        problems.append(f"{built} is not {requirements_path}")
    python = context / "_build" / "requirements.txt"
    if not python.is_file() or not re.search(r"^tomlkit\b", python.read_text(), re.M):
        problems.append(f"{python} does not require tomlkit")
    names = sorted(c["name"] for c in wanted["collections"])
    print(f"execution environment context: FROM {base}, {core}, collections {', '.join(names)}, tomlkit")
    return problems


def introspect(output_path):
    """An execution environment that includes the installed collection gets its Python requirements."""
    data = yaml.safe_load(pathlib.Path(output_path).read_text().split("---", 1)[1])
    ours = [line for line in data.get("python") or [] if "from collection selfhosted.prefect" in line]
    print("ansible-builder introspect: " + "; ".join(ours))
    if not any(line.startswith("tomlkit") for line in ours):
        return ["ansible-builder introspect finds no tomlkit requirement of selfhosted.prefect"]
    return []


def main(argv):
    checks = {"importer": importer, "release": release, "ee": ee, "introspect": introspect}
    problems = checks[argv[1]](*argv[2:])
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
