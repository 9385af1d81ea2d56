# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests stand where a reader looks for them, and the roles build no URL:
each Molecule scenario's tests in its own directory, loaded without sys.path
patching; what needs the Prefect CLI or a live server under
tests/integration; URLs and their encoding in the instance model only."""
from __future__ import annotations

import pathlib

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
SCENARIOS = sorted(path.parent.name for path in (REPO / "molecule").glob("*/molecule.yml"))


def test_the_scenarios_are_found():
    assert {"default", "ha", "upgrade"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_runs_its_own_tests_directory(scenario):
    config = yaml.safe_load((REPO / "molecule" / scenario / "molecule.yml").read_text())
    assert config["verifier"]["directory"] == "tests"
    assert list((REPO / "molecule" / scenario / "tests").glob("test_*.py"))


def test_no_molecule_test_patches_sys_path():
    for path in (REPO / "molecule").rglob("*.py"):
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not any("sys.path.insert" in line or "sys.path.append" in line for line in code), path


def test_unit_tests_need_no_prefect_cli_or_server():
    for path in (REPO / "tests" / "unit").rglob("*.py"):
        if path == pathlib.Path(__file__).resolve():
            continue
        text = path.read_text()
        # $PREFECT_BIN is the real Prefect CLI (scripts/lib/host.sh, ensure_prefect_venv).
        assert "PREFECT_BIN" not in text, path


def test_the_roles_build_no_url():
    """Percent-encoding lives in plugins/plugin_utils/instance_model.py, tested on its own."""
    for path in list((REPO / "roles").rglob("*.yml")) + list((REPO / "roles").rglob("*.j2")) \
            + list((REPO / "playbooks").rglob("*.yml")):
        text = path.read_text()
        assert "urlencode" not in text and "postgresql+asyncpg://" not in text and "redis://" not in text, path
