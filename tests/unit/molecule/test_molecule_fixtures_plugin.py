"""The scheduling hooks of the Molecule scenarios' pytest plugin
(molecule/shared/pytest_plugin/molecule_fixtures.py), run in a real pytest
session on stand-in tests: test_wire.py first, the tests marked
machine_to_itself last, and only they wait for MOLECULE_VERIFY_AFTER."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

PLUGIN_DIR = pathlib.Path(__file__).resolve().parents[3] / "molecule" / "shared" / "pytest_plugin"

MEASURING = '''
import pathlib
import pytest

@pytest.mark.machine_to_itself
def test_measures(tmp_path):
    assert pathlib.Path({ended!r}).exists()
    print("ORDER measures")

def test_plain():
    print("ORDER plain")
'''

OTHERS = '''
import pathlib

def test_ends_the_other_scenario():
    pathlib.Path({ended!r}).write_text("scenario other passed in 1 s")
    print("ORDER others")
'''

WIRE = '''
def test_capture():
    print("ORDER wire")
'''


def run_session(tmp_path, after):
    ended = str(tmp_path / "molecule-other.time")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_a_measuring.py").write_text(MEASURING.format(ended=ended))
    (tests / "test_b_others.py").write_text(OTHERS.format(ended=ended))
    (tests / "test_wire.py").write_text(WIRE)
    env = dict(os.environ, PYTHONPATH=str(PLUGIN_DIR), PYTEST_PLUGINS="molecule_fixtures",
               MOLECULE_VERIFY_AFTER=ended if after else "")
    return subprocess.run([sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", str(tests)],
                          capture_output=True, text=True, check=False, env=env, timeout=120, cwd=tmp_path), ended


def test_the_measuring_tests_run_last_once_the_others_have_ended(tmp_path):
    # The measuring test comes first by name; it would wait for ever if the
    # plain tests did not run before it.
    result, ended = run_session(tmp_path, after=True)
    assert result.returncode == 0, result.stdout + result.stderr
    order = [line.split("ORDER ")[1] for line in result.stdout.splitlines() if "ORDER " in line]
    assert order == ["wire", "plain", "others", "measures"], result.stdout
    assert f"for {ended} before " in result.stdout and "test_measures" in result.stdout


def test_without_verify_after_nothing_waits(tmp_path):
    result, _ended = run_session(tmp_path, after=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waited" not in result.stdout
