# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's metadata says what the code needs: every collection the
roles and plugins use is declared, no other, each at least at the release
that added the modules we call; requires_ansible admits the ansible-core the
tests run on and nothing older; a built artifact leaves out what a checkout
collects at run time (drift reports, test caches) and what runs only from a
checkout, and its shipped tests run where it is installed; every plugin and
role entry point has a version_added no later than the collection's."""
from __future__ import annotations

import ast
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import ansible
import pytest
import yaml
from ansible.module_utils.compat.version import LooseVersion
from ansible.parsing.plugin_docs import read_docstring

REPO = pathlib.Path(__file__).resolve().parents[2]
ANSIBLE_GALAXY = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
SHIPPED = [p for d in ("roles", "plugins", "playbooks") for p in (REPO / d).rglob("*") if p.is_file()]
FQCN = re.compile(r"\b([a-z_]+\.[a-z_]+)\.([a-z_]+)\b")


def module_path(collection, name):
    """The installed module file of collection.name, or None."""
    namespace, collection_name = collection.split(".")
    try:
        spec = importlib.util.find_spec(f"ansible_collections.{namespace}.{collection_name}")
    except ModuleNotFoundError:  # its namespace is no installed collection's
        return None
    if spec is None:
        return None
    path = pathlib.Path(spec.submodule_search_locations[0]) / "plugins" / "modules" / f"{name}.py"
    return path if path.is_file() else None


def used_modules():
    """collection -> module names used by the shipped roles, playbooks and plugins."""
    used = {}
    for path in SHIPPED:
        for collection, name in FQCN.findall(path.read_text(errors="replace")):
            if collection not in ("ansible.builtin", "selfhosted.prefect") and module_path(collection, name):
                used.setdefault(collection, set()).add(name)
    return used


def minimum(spec):
    return LooseVersion(re.match(r"\s*>=\s*([0-9.]+)", spec).group(1))


def test_every_used_collection_is_declared_and_no_other():
    assert set(used_modules()) == set(GALAXY["dependencies"])


def test_requirements_yml_matches_galaxy_yml():
    requirements = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]
    assert {r["name"]: r["version"] for r in requirements} == GALAXY["dependencies"]


@pytest.mark.parametrize("collection", sorted(used_modules()))
def test_declared_minimum_has_every_module_we_call(collection):
    floor = minimum(GALAXY["dependencies"][collection])
    for name in sorted(used_modules()[collection]):
        doc = read_docstring(str(module_path(collection, name).resolve()))["doc"] or {}
        added = str(doc.get("version_added", "0"))
        assert LooseVersion(added) <= floor, f"{collection}.{name} needs {added}, galaxy.yml says {floor}"


def test_requires_ansible_is_the_tested_ansible_core():
    spec = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["requires_ansible"]
    tested = LooseVersion(ansible.__version__).version[:2]
    assert minimum(spec).version[:2] == tested, (spec, ansible.__version__)


# What the built artifact must leave out: what a checkout collects at run time
# (drift reports, caches, a site's inventory), and what runs only from a
# checkout: the suite's tools and their tests, CI, Molecule, and tests that
# read galaxy.yml or name paths only a checkout has.
COLLECTED = ("drift-reports", ".cache", ".hypothesis", ".pytest_cache", ".benchmarks", ".ansible", "inventory")
CHECKOUT_ONLY = (
    "scripts", "tools", "molecule", "benchmarks", ".ci", ".config", ".gitignore", "requirements-dev.txt",
    "tests/output", "tests/unit/scripts", "tests/unit/molecule", "tests/unit/tools", "tests/unit/docs", "tests/sanity/get_pip_standin.py",
    "tests/integration/test_collection_metadata.py", "tests/integration/test_settings_catalog_current.py",
    "tests/integration/test_benchmark_smoke.py",
)
SHIPPED_FILES = ("LICENSE", "README.md", "meta/runtime.yml", "meta/execution-environment.yml",
                 "meta/ee-requirements.txt", "requirements.yml", "changelogs/changelog.yaml",
                 "changelogs/config.yaml", "roles/prefect_server/tasks/main.yml",
                 "roles/prefect_server/meta/argument_specs.yml", "plugins/modules/prefect_config.py",
                 "playbooks/site.yml")


def left_out(name, paths):
    return [p for p in paths if name == p or name.startswith(p + "/")]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """The artifact built from a copy of this checkout in which the tests ran and the README's steps were followed."""
    tmp_path = tmp_path_factory.mktemp("build")
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, symlinks=True,
                    ignore=shutil.ignore_patterns(".cache", ".git", "__pycache__", ".ansible", "output"))
    for collected in ("drift-reports/summary.json", ".hypothesis/examples/x", ".pytest_cache/v/x",
                      ".benchmarks/x", ".ansible/collections/x", "inventory/hosts.yml", "tests/output/x",
                      ".cache/x"):
        (checkout / collected).parent.mkdir(parents=True, exist_ok=True)
        (checkout / collected).write_text("{}")
    subprocess.run([ANSIBLE_GALAXY, "collection", "build", "--output-path", str(tmp_path)],
                   cwd=checkout, check=True, capture_output=True)
    return next(tmp_path.glob("selfhosted-prefect-*.tar.gz"))


@pytest.fixture(scope="module")
def artifact_names(artifact):
    with tarfile.open(artifact) as tar:
        return tar.getnames()


def test_build_leaves_out_what_a_checkout_collects(artifact_names):
    assert not [n for n in artifact_names if left_out(n, COLLECTED)]


def test_build_leaves_out_what_runs_only_from_a_checkout(artifact_names):
    assert not [n for n in artifact_names if left_out(n, CHECKOUT_ONLY)]


def test_build_ships_the_collection(artifact_names):
    assert [f for f in SHIPPED_FILES if f not in artifact_names] == []
    assert [n for n in artifact_names if n.startswith("tests/unit/plugins/")], "the unit tests of the plugins ship"


def test_shipped_tests_name_no_left_out_path(artifact):
    """A shipped test that reads tools/, scripts/, galaxy.yml, ... fails where the collection is installed."""
    named = {}
    with tarfile.open(artifact) as tar:
        for member in tar.getmembers():
            if not (member.isfile() and member.name.startswith("tests/") and member.name.endswith(".py")):
                continue
            tree = ast.parse(tar.extractfile(member).read())
            docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    if left_out(node.value, CHECKOUT_ONLY + ("galaxy.yml",)):
                        named.setdefault(member.name, set()).add(node.value)
    assert named == {}


def test_shipped_tests_collect_where_the_collection_is_installed(artifact, tmp_path):
    collections = tmp_path / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections))
    subprocess.run([ANSIBLE_GALAXY, "collection", "install", "--no-deps", "-p", str(collections), str(artifact)],
                   env=env, check=True, capture_output=True)
    installed = collections / "ansible_collections" / "selfhosted" / "prefect"
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
                            cwd=installed, env=dict(env, PYTHONPATH=str(collections)),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^\d+ tests collected", result.stdout, re.M), result.stdout[-3000:]


def test_license_is_the_gpl_v3_galaxy_yml_names():
    assert GALAXY["license"] == ["GPL-3.0-or-later"]
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    assert "Version 3, 29 June 2007" in text and "END OF TERMS AND CONDITIONS" in text


def documented_plugins():
    """(path, version_added) of every documented plugin."""
    for path in sorted((REPO / "plugins").rglob("*.py")):
        if path.parent.name in ("module_utils", "doc_fragments", "plugin_utils") or path.name == "__init__.py":
            continue
        doc = read_docstring(str(path))["doc"]
        if doc:
            yield path.relative_to(REPO), doc.get("version_added")


def role_entry_points():
    """(role:entry point, version_added) of every role entry point."""
    for spec in sorted((REPO / "roles").glob("*/meta/argument_specs.yml")):
        for name, entry in (yaml.safe_load(spec.read_text())["argument_specs"] or {}).items():
            yield f"{spec.parents[1].name}:{name}", entry.get("version_added")


def test_every_plugin_and_role_entry_point_has_a_version_added_no_later_than_the_collection():
    # antsibull-changelog announces a plugin, or a role by its main entry
    # point, in the release its version_added names, and only there.
    version = LooseVersion(str(GALAXY["version"]))
    items = list(documented_plugins()) + list(role_entry_points())
    assert len([i for i in items if str(i[0]).startswith("plugins/modules/")]) >= 6
    assert [(str(name), added) for name, added in items
            if added is None or LooseVersion(str(added)) > version] == []
