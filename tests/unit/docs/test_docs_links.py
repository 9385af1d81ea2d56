"""The Markdown of this collection names only what exists.

Every relative link leads to a file or directory of the checkout (and to a
heading, when it names one); every path it names from the top of the
checkout (roles/..., docs/..., playbooks/..., plugins/..., tests/...) exists;
every role variable it names is used by a role or playbook; every
selfhosted.prefect.NAME is a module, plugin, role, playbook or action group.
So a renamed file, task file, heading or variable cannot leave a document
describing what is no longer there.
"""
from __future__ import annotations

import os
import pathlib
import re

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
# Directories holding no documentation of this collection; changelogs keep
# the names things had in their release.
SKIP_DIRS = {"changelogs", "node_modules"}
SKIP_FILES = {"CHANGELOG.md"}

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
# A path from the top of the checkout: not part of a longer path (an
# absolute path on a host, a URL) unless it follows "…/" (a path elided).
TOP_DIRS = ("roles", "docs", "playbooks", "plugins", "tools", "tests", "molecule", "benchmarks", "scripts",
            "changelogs")
NAMED_PATH = re.compile(r"(?:(?<=…/)|(?<![\w./~$@-]))((?:" + "|".join(TOP_DIRS) + r")/[\w.@/-]*)")
# A placeholder in a path (prefect-<version>.txt, molecule/*/) makes it a pattern, not a path.
PLACEHOLDER_NEXT = set("<*{$[")
ROLE_PREFIXES = ("server", "client", "worker", "postgresql", "redis", "loadbalancer", "venv", "common")
VARIABLE = re.compile(r"\bprefect_(?:" + "|".join(ROLE_PREFIXES) + r")_[a-z0-9_]*[a-z0-9]_?(?=(\*?))")
FQCN = re.compile(r"(?<![\w.])selfhosted\.prefect\.([a-z_][a-z0-9_]*)")


def markdown_files():
    """Every Markdown file of the checkout, outside hidden directories (.cache, .git) and test output."""
    files = []
    for top, dirs, names in os.walk(REPO):
        here = pathlib.Path(top)
        dirs[:] = sorted(name for name in dirs if not name.startswith(".") and name not in SKIP_DIRS
                         and (here / name) != REPO / "tests" / "output")
        files.extend(here / name for name in sorted(names) if name.endswith(".md") and name not in SKIP_FILES)
    return sorted(files)


FILES = markdown_files()
IDS = [str(path.relative_to(REPO)) for path in FILES]


def prose_lines(text):
    """The lines outside fenced code blocks, with their code spans removed."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield CODE_SPAN.sub("", line)


def slug(heading):
    """The anchor GitHub gives a heading."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        found.update(ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path):
    for line in prose_lines(path.read_text(encoding="utf-8")):
        yield from INLINE_LINK.findall(line)
        match = REFERENCE.match(line)
        if match:
            yield match.group(1)


def broken_links(path):
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
            continue  # a URL (https:, mailto:) or a path on some host
        file_part, fragment = (target.split("#", 1) + [""])[:2]
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(REPO)}")
    return broken


def named_paths(text):
    for match in NAMED_PATH.finditer(text):
        named = match.group(1).rstrip(".,:;")
        following = text[match.end():match.end() + 1]
        if following in PLACEHOLDER_NEXT or "NAME" in named or "VERSION" in named:
            continue
        yield named


def _words_in(patterns):
    words = set()
    for pattern in patterns:
        for path in REPO.glob(pattern):
            if path.is_file():
                words.update(re.findall(r"\b\w+\b", path.read_text(encoding="utf-8", errors="replace")))
    return words


# Every name a role or playbook uses: options, defaults, facts and returns.
KNOWN_WORDS = _words_in(["roles/**/*.yml", "roles/**/*.j2", "playbooks/**/*.yml"])


def collection_names():
    names = {path.stem for path in REPO.glob("plugins/*/*.py")}
    names |= {path.name for path in (REPO / "roles").iterdir() if path.is_dir()}
    names |= {path.stem for path in REPO.glob("playbooks/*.yml")}
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8")) or {}
    names |= set(runtime.get("action_groups") or {})
    for path in REPO.glob("plugins/filter/*.py"):  # filters are named by their plugin's mapping
        names |= set(re.findall(r"[\"'](\w+)[\"']\s*:", path.read_text(encoding="utf-8")))
    return names


def test_there_is_markdown_to_check():
    assert REPO / "README.md" in FILES and REPO / "docs" / "roles.md" in FILES


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_relative_links_lead_somewhere(path):
    broken = broken_links(path)
    assert not broken, f"{path.relative_to(REPO)} links what is not there: " + "; ".join(broken)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_named_paths_exist(path):
    missing = sorted({named for named in named_paths(path.read_text(encoding="utf-8"))
                      if not (REPO / named).exists()})
    assert not missing, f"{path.relative_to(REPO)} names paths that do not exist: " + ", ".join(missing)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_named_role_variables_exist(path):
    unknown = set()
    for match in VARIABLE.finditer(path.read_text(encoding="utf-8")):
        name = match.group(0)
        if name.endswith("_") or match.group(1):  # a prefix: prefect_postgresql_backup_*
            if not any(word.startswith(name.rstrip("*")) for word in KNOWN_WORDS):
                unknown.add(name + "*")
        elif name not in KNOWN_WORDS:
            unknown.add(name)
    assert not unknown, (f"{path.relative_to(REPO)} names role variables no role or playbook uses: "
                         + ", ".join(sorted(unknown)))


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_named_collection_content_exists(path):
    known = collection_names()
    unknown = sorted({name for name in FQCN.findall(path.read_text(encoding="utf-8")) if name not in known})
    assert not unknown, f"{path.relative_to(REPO)} names what the collection does not have: " + ", ".join(
        f"selfhosted.prefect.{name}" for name in unknown)


# The checks themselves.

def test_slugs_are_githubs():
    assert slug("Retention: what is deleted, and when") == "retention-what-is-deleted-and-when"
    assert slug("The API modules: `prefect_work_pool`, `prefect_variable`") == (
        "the-api-modules-prefect_work_pool-prefect_variable")
    assert slug("[Links](x.md) and <b>tags</b>") == "links-and-tags"


def test_named_paths_skip_hosts_urls_and_patterns():
    text = ("see docs/roles.md. /opt/roles/x https://h/docs/y roles/prefect_venv/files/constraints/prefect-<version>.txt "
            "molecule/*/ …/roles/prefect_server/tasks/main.yml:31 (playbooks/site.yml) ~/docs/x prefect-server@NAME "
            "tests/unit/plugins/NAME.py")
    assert list(named_paths(text)) == ["docs/roles.md", "roles/prefect_server/tasks/main.yml", "playbooks/site.yml"]


def test_links_outside_code_only(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("# Top\n[ok](a.md#top) [gone](b.md) `[code](c.md)` [web](https://x.org/y)\n"
                   "```\n[fenced](d.md)\n```\n[ref]: e.md\n")
    assert list(links(doc)) == ["a.md#top", "b.md", "https://x.org/y", "e.md"]
    assert anchors(doc) == {"top"}
