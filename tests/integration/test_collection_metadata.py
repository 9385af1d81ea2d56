# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's metadata says what the code needs: every collection the
roles and plugins use is declared, no other, each at least at the release
that added the modules we call; requires_ansible admits the ansible-core the
tests run on and nothing older; a built artifact leaves out what a checkout
collects at run time (drift reports, test caches)."""
from __future__ import annotations

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


def test_build_leaves_out_drift_reports_and_test_caches(tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(".cache", ".git", "tests"))
    for collected in ("drift-reports/summary.json", ".hypothesis/examples/x", ".pytest_cache/v/x"):
        (checkout / collected).parent.mkdir(parents=True, exist_ok=True)
        (checkout / collected).write_text("{}")
    subprocess.run([ANSIBLE_GALAXY, "collection", "build", "--output-path", str(tmp_path)],
                   cwd=checkout, check=True, capture_output=True)
    artifact = next(tmp_path.glob("selfhosted-prefect-*.tar.gz"))
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert "roles/prefect_server/tasks/main.yml" in names
    assert not [n for n in names if n.startswith(("drift-reports", ".cache", "scripts", ".hypothesis", ".pytest_cache"))]
