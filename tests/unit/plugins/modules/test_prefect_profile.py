# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_profile driven through main() on real temp files."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_profile

SAMPLE = '''# team profiles
active = "prod"

# production
[profiles.prod]
PREFECT_API_URL = "http://prefect.example.com:4200/api"  # proxy

# personal sandbox
[profiles.sandbox]
PREFECT_DEBUG_MODE = "true"
'''


def run(run_module, path, check=False, diff=False, **args):
    return run_module(prefect_profile, dict(args, path=str(path)), check=check, diff=diff)


def test_create_in_a_new_home_uses_private_modes(run_module, tmp_path):
    home = tmp_path / "var" / "prefect"
    result, dummy = run_module(prefect_profile, dict(prefect_home=str(home), name="server", active=True))
    path = home / "profiles.toml"
    assert result["changed"] is True
    assert result["path"] == str(path)
    assert result["active"] == "server" and result["profiles"] == ["server"]
    assert tomllib.loads(path.read_text()) == {"active": "server", "profiles": {"server": {}}}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(home.parent).st_mode) == 0o700

    before = path.read_bytes(), os.stat(path).st_mtime_ns
    again, dummy = run_module(prefect_profile, dict(prefect_home=str(home), name="server", active=True))
    assert again["changed"] is False
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_mode_option_on_a_new_file(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    run(run_module, path, name="a", mode="0640")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_existing_profile_is_not_an_error(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, name="sandbox")
    assert result["changed"] is False
    assert result["profiles"] == ["prod", "sandbox"]
    assert before.unchanged()


def test_new_profile_is_appended_and_the_rest_kept(run_module, profiles):
    os.chmod(profiles, 0o644)
    result, dummy = run(run_module, profiles, name="staging")
    assert result["changed"] is True
    assert result["active"] == "prod"
    text = profiles.read_text()
    assert text.startswith(SAMPLE)
    assert tomllib.loads(text)["profiles"]["staging"] == {}
    assert stat.S_IMODE(os.stat(profiles).st_mode) == 0o644


def test_switching_the_active_profile(run_module, profiles):
    result, dummy = run(run_module, profiles, diff=True, name="sandbox", active=True)
    assert result["changed"] is True
    assert result["active"] == "sandbox"
    assert profiles.read_text() == SAMPLE.replace('active = "prod"', 'active = "sandbox"')
    assert 'active = "prod"' in result["diff"][0]["before"]
    assert 'active = "sandbox"' in result["diff"][0]["after"]
    again, dummy = run(run_module, profiles, name="sandbox", active=True)
    assert again["changed"] is False


def test_create_and_activate_in_one_task(run_module, profiles):
    run(run_module, profiles, name="staging", active=True)
    data = tomllib.loads(profiles.read_text())
    assert data["active"] == "staging"
    assert set(data["profiles"]) == {"prod", "sandbox", "staging"}


def test_active_false_leaves_the_active_profile(run_module, profiles):
    run(run_module, profiles, name="staging", active=False)
    assert tomllib.loads(profiles.read_text())["active"] == "prod"


def test_remove_a_profile(run_module, profiles):
    result, dummy = run(run_module, profiles, name="sandbox", state="absent")
    assert result["changed"] is True
    assert result["profiles"] == ["prod"]
    # The table goes; comments outside it are never deleted.
    assert profiles.read_text() == SAMPLE[:SAMPLE.index("[profiles.sandbox]")]
    again, dummy = run(run_module, profiles, name="sandbox", state="absent")
    assert again["changed"] is False


def test_removing_a_profile_keeps_the_comment_above_the_next_one(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    text = ('active = "c"\n\n# about a\n[profiles.a]\nPREFECT_DEBUG_MODE = "true"\n\n'
            '# about b\n[profiles.b]\nPREFECT_DEBUG_MODE = "false"\n# about c\n# (two lines)\n'
            '[profiles.c]\nPREFECT_API_URL = "http://c/api"\n')
    path.write_text(text)
    run(run_module, path, name="a", state="absent")
    assert path.read_text() == text.replace('[profiles.a]\nPREFECT_DEBUG_MODE = "true"\n\n', "")
    run(run_module, path, name="b", state="absent")
    assert path.read_text() == ('active = "c"\n\n# about a\n# about b\n# about c\n# (two lines)\n'
                                '[profiles.c]\nPREFECT_API_URL = "http://c/api"\n')


def test_removing_the_active_profile_fails(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, name="prod", state="absent")
    assert result["failed"] is True
    assert "is the active profile" in result["msg"]
    assert before.unchanged()


def test_absent_and_active_contradict(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, name="sandbox", state="absent", active=True)
    assert result["failed"] is True and "contradicts" in result["msg"]
    assert before.unchanged()


def test_empty_name_fails(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, name="  ")
    assert result["failed"] is True and "must not be empty" in result["msg"]
    assert before.unchanged()


def test_check_mode_creates_nothing(run_module, tmp_path):
    home = tmp_path / "new-home"
    result, dummy = run_module(prefect_profile, dict(prefect_home=str(home), name="x", active=True),
                               check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"][0]["before"] == ""
    assert 'active = "x"' in result["diff"][0]["after"]
    assert not home.exists()


def test_check_mode_never_writes_an_existing_file(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, check=True, name="sandbox", state="absent")
    assert result["changed"] is True
    assert before.unchanged()


@pytest.mark.parametrize("text", ['[profiles.prod\n', 'title = "x"\n'])
def test_bad_files_fail_and_stay_unchanged(run_module, tmp_path, snapshot, text):
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    before = snapshot(str(path))
    result, dummy = run(run_module, path, name="new", active=True)
    assert result["failed"] is True
    assert before.unchanged()


def test_backup(run_module, profiles):
    result, dummy = run(run_module, profiles, name="sandbox", state="absent", backup=True)
    with open(result["backup_file"]) as handle:
        assert handle.read() == SAMPLE


def test_secrets_in_other_profiles_are_masked_in_the_diff(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "a"\n[profiles.a]\nPREFECT_API_KEY = "pnu_SecretInFile"\n')
    result, dummy = run(run_module, path, diff=True, name="b")
    dumped = json.dumps(result, default=str)
    assert "pnu_SecretInFile" not in dumped
    assert 'PREFECT_API_KEY = "********"' in result["diff"][0]["after"]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_profile_creation_in_a_new_home(tmp_path, round_):
    """8 processes create 8 profiles at once in a home that does not exist yet
    (no directory to lock at first: the first writers used to overwrite each other)."""
    home = tmp_path / "fresh" / "home"
    module_file = prefect_profile.__file__
    collections = os.path.abspath(os.path.join(os.path.dirname(module_file), "..", "..", "..", "..", ".."))
    env = dict(os.environ, PYTHONPATH=collections)
    procs = []
    for index in range(8):
        args = tmp_path / ("args%d.json" % index)
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"prefect_home": str(home), "name": "p%d" % index}}))
        procs.append(subprocess.Popen([sys.executable, module_file, str(args)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, out + err
    data = tomllib.loads((home / "profiles.toml").read_text())
    assert sorted(data["profiles"]) == ["p%d" % index for index in range(8)]
    assert stat.S_IMODE(os.stat(home / "profiles.toml").st_mode) == 0o600
