# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_config driven through main() on real temp files."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_config

NOBODY = 65534

SAMPLE = '''# Prefect profiles for the ops team -- hand-maintained comments matter.
active = "prod"

# Production: the hosted API
[profiles.prod]
PREFECT_API_URL = "http://prefect.example.com:4200/api"  # behind the proxy
PREFECT_SERVER_UI_ENABLED = "True"

# Local development, untouched by these tests
[profiles.dev]
PREFECT_LOGGING_LEVEL = "DEBUG"
PREFECT_SERVER_API_PORT = 4202
'''


def run(run_module, path, check=False, diff=False, **args):
    return run_module(prefect_config, dict(args, path=str(path)), check=check, diff=diff)


def parsed(path):
    return tomllib.loads(path.read_text())


def dev_block(text):
    return text[text.index("# Local development"):]


# ---------------------------------------------------------------- basics

def test_set_is_idempotent_and_keeps_everything_else(run_module, profiles, snapshot):
    result, dummy = run(run_module, profiles, profile="prod",
                        settings={"PREFECT_SERVER_API_HOST": "0.0.0.0", "PREFECT_SERVER_API_PORT": 4200})
    assert result["changed"] is True
    assert result["changes"] == [{"key": "PREFECT_SERVER_API_HOST", "action": "set"},
                                 {"key": "PREFECT_SERVER_API_PORT", "action": "set"}]
    expected = SAMPLE.replace(
        'PREFECT_SERVER_UI_ENABLED = "True"\n',
        'PREFECT_SERVER_UI_ENABLED = "True"\nPREFECT_SERVER_API_HOST = "0.0.0.0"\nPREFECT_SERVER_API_PORT = "4200"\n')
    assert profiles.read_text() == expected

    before = snapshot(str(profiles))
    again, dummy = run(run_module, profiles, profile="prod",
                       settings={"PREFECT_SERVER_API_HOST": "0.0.0.0", "PREFECT_SERVER_API_PORT": 4200})
    assert again["changed"] is False
    assert again["changes"] == []
    assert before.unchanged()


def test_default_profile_is_the_active_one(run_module, profiles):
    result, dummy = run(run_module, profiles, settings={"PREFECT_API_URL": "http://new:4200/api"})
    assert result["profile"] == "prod"
    assert parsed(profiles)["profiles"]["prod"]["PREFECT_API_URL"] == "http://new:4200/api"
    assert dev_block(profiles.read_text()) == dev_block(SAMPLE)


def test_value_replaced_in_place_keeps_inline_comment(run_module, profiles):
    run(run_module, profiles, profile="prod", settings={"PREFECT_API_URL": "http://other:4200/api"})
    assert profiles.read_text() == SAMPLE.replace("prefect.example.com:4200", "other:4200")


def test_no_active_profile_and_no_profile_option_fails(run_module, tmp_path, snapshot):
    path = tmp_path / "profiles.toml"
    path.write_text("[profiles.a]\n")
    before = snapshot(str(path))
    result, dummy = run(run_module, path, settings={"PREFECT_API_URL": "http://x/api"})
    assert result["failed"] is True
    assert "names no active profile" in result["msg"]
    assert before.unchanged()


# ---------------------------------------------------------------- check mode and diff

def test_check_mode_never_writes(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, check=True, diff=True, profile="dev",
                        settings={"PREFECT_SERVER_API_PORT": 4300}, unset=["PREFECT_LOGGING_LEVEL"])
    assert result["changed"] is True
    assert 'PREFECT_SERVER_API_PORT = "4300"' in result["diff"][0]["after"]
    assert "PREFECT_LOGGING_LEVEL" not in result["diff"][0]["after"]
    assert result["diff"][0]["before"] == SAMPLE
    assert before.unchanged()


def test_check_mode_on_a_missing_home_creates_nothing(run_module, tmp_path):
    home = tmp_path / "home" / "sub"
    result, dummy = run_module(prefect_config, dict(prefect_home=str(home), profile="x",
                                                    settings={"PREFECT_API_URL": "http://x/api"}), check=True)
    assert result["failed"] is True
    assert not (tmp_path / "home").exists()


SECRETS = {
    "PREFECT_API_AUTH_STRING": "admin:Hunter2-auth",
    "PREFECT_API_KEY": "pnu_Sup3rSecretKey",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://prefect:Db-Pa55word@db:5432/prefect",
}


def test_diff_and_results_mask_secrets(run_module, profiles):
    result, dummy = run(run_module, profiles, diff=True, profile="prod", settings=SECRETS)
    assert result["changed"] is True
    dumped = json.dumps(result, default=str)
    for secret in ("Hunter2-auth", "pnu_Sup3rSecretKey", "Db-Pa55word"):
        assert secret not in dumped
    after = result["diff"][0]["after"]
    assert 'PREFECT_API_AUTH_STRING = "********"' in after
    assert 'PREFECT_API_KEY = "********"' in after
    assert "postgresql+asyncpg://prefect:********@db:5432/prefect" in after
    assert result["settings"]["PREFECT_API_AUTH_STRING"] == "********"
    assert result["settings"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == \
        "postgresql+asyncpg://prefect:********@db:5432/prefect"
    # the file holds the real values
    stored = parsed(profiles)["profiles"]["prod"]
    assert {key: stored[key] for key in SECRETS} == SECRETS


def test_changed_secret_shows_changed_without_showing_it(run_module, profiles):
    run(run_module, profiles, profile="prod", settings=SECRETS)
    result, dummy = run(run_module, profiles, diff=True, profile="prod", settings={
        "PREFECT_API_AUTH_STRING": "admin:NewAuth-77",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://prefect:NewDbPw-88@db:5432/prefect",
    })
    assert result["changed"] is True
    diff = result["diff"][0]
    dumped = json.dumps(result, default=str)
    for secret in ("Hunter2-auth", "Db-Pa55word", "NewAuth-77", "NewDbPw-88", "pnu_Sup3rSecretKey"):
        assert secret not in dumped
    assert 'PREFECT_API_AUTH_STRING = "********"' in diff["before"]
    assert 'PREFECT_API_AUTH_STRING = "******** (changed)"' in diff["after"]
    assert "prefect:********@db:5432/prefect (changed)" in diff["after"]
    # an unchanged secret is not marked
    assert 'PREFECT_API_KEY = "********"\n' in diff["after"]
    assert diff["before"] != diff["after"]


def test_password_in_a_non_secret_url_is_masked(run_module, profiles):
    result, dummy = run(run_module, profiles, diff=True, profile="prod",
                        settings={"PREFECT_API_URL": "https://ops:Url-Pw-42@prefect.example.com/api"})
    dumped = json.dumps(result, default=str)
    assert "Url-Pw-42" not in dumped
    assert "https://ops:********@prefect.example.com/api" in result["diff"][0]["after"]


def test_secrets_already_in_the_file_are_masked_too(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "a"\n[profiles.a]\nPREFECT_API_KEY = "pnu_FileOnlyKey"\n'
                    '[profiles.b]\nPREFECT_SERVER_API_AUTH_STRING = "u:FileOnlyAuth"\n')
    result, dummy = run(run_module, path, diff=True, settings={"PREFECT_API_URL": "http://x/api"})
    dumped = json.dumps(result, default=str)
    assert "pnu_FileOnlyKey" not in dumped and "FileOnlyAuth" not in dumped
    assert result["settings"]["PREFECT_API_KEY"] == "********"


# ---------------------------------------------------------------- types

def test_yaml_types_are_stored_as_cli_strings(run_module, profiles):
    run(run_module, profiles, profile="prod", settings={
        "PREFECT_SERVER_ANALYTICS_ENABLED": False, "PREFECT_SERVER_API_PORT": 4202,
        "PREFECT_API_REQUEST_TIMEOUT": 30.5})
    stored = parsed(profiles)["profiles"]["prod"]
    assert stored["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert stored["PREFECT_SERVER_API_PORT"] == "4202"
    assert stored["PREFECT_API_REQUEST_TIMEOUT"] == "30.5"


def test_semantic_comparison_true_and_int(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    # file has "True" (prod) and a TOML int 4202 (dev)
    r1, dummy = run(run_module, profiles, profile="prod", settings={"PREFECT_SERVER_UI_ENABLED": True})
    r2, dummy = run(run_module, profiles, profile="dev",
                    settings={"PREFECT_SERVER_API_PORT": 4202, "PREFECT_LOGGING_LEVEL": "debug"})
    r3, dummy = run(run_module, profiles, profile="dev", settings={"PREFECT_SERVER_API_PORT": "4202"})
    assert (r1["changed"], r2["changed"], r3["changed"]) == (False, False, False)
    assert before.unchanged()
    r4, dummy = run(run_module, profiles, profile="prod", settings={"PREFECT_SERVER_UI_ENABLED": "false"})
    assert r4["changed"] is True
    assert parsed(profiles)["profiles"]["prod"]["PREFECT_SERVER_UI_ENABLED"] == "false"


# ---------------------------------------------------------------- names

def test_alias_and_orion_names_migrate_with_warning(run_module, profiles):
    result, warnings = run(run_module, profiles, profile="prod", settings={
        "PREFECT_ORION_API_PORT": 4202, "PREFECT_UI_API_URL": "http://prefect.example.com:4200/api"})
    assert result["changed"] is True
    assert {"key": "PREFECT_SERVER_API_PORT", "action": "migrate", "from": "PREFECT_ORION_API_PORT"} in result["changes"]
    assert {"key": "PREFECT_SERVER_UI_API_URL", "action": "migrate", "from": "PREFECT_UI_API_URL"} in result["changes"]
    assert any("PREFECT_ORION_API_PORT is an old name; stored as PREFECT_SERVER_API_PORT" in w for w in warnings)
    assert any("PREFECT_UI_API_URL is an old name" in w for w in warnings)
    stored = parsed(profiles)["profiles"]["prod"]
    assert stored["PREFECT_SERVER_API_PORT"] == "4202"
    assert stored["PREFECT_SERVER_UI_API_URL"] == "http://prefect.example.com:4200/api"
    assert "PREFECT_ORION_API_PORT" not in stored and "PREFECT_UI_API_URL" not in stored
    again, dummy = run(run_module, profiles, profile="prod", settings={
        "PREFECT_ORION_API_PORT": 4202, "PREFECT_UI_API_URL": "http://prefect.example.com:4200/api"})
    assert again["changed"] is False


def test_orion_keys_in_the_file_are_renamed_in_place(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "old"\n[profiles.old]\n# from 2022\nPREFECT_ORION_API_HOST = "0.0.0.0"\n'
                    'PREFECT_ORION_DATABASE_CONNECTION_URL = "postgresql+asyncpg://u:OrionPw@db/orion"\n')
    result, warnings = run(run_module, path, settings={"PREFECT_API_URL": "http://h:4200/api"})
    stored = parsed(path)["profiles"]["old"]
    assert stored == {"PREFECT_SERVER_API_HOST": "0.0.0.0",
                      "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://u:OrionPw@db/orion",
                      "PREFECT_API_URL": "http://h:4200/api"}
    assert "# from 2022" in path.read_text()
    assert {"key": "PREFECT_SERVER_API_HOST", "action": "migrate", "from": "PREFECT_ORION_API_HOST"} in result["changes"]
    assert any("PREFECT_ORION_API_HOST in profile old was renamed" in w for w in warnings)
    assert "OrionPw" not in json.dumps(result, default=str)


def test_legacy_names_fail_refuses_and_leaves_file(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    for name in ("PREFECT_ORION_API_PORT", "PREFECT_UI_API_URL"):
        result, dummy = run(run_module, profiles, profile="prod", legacy_names="fail", settings={name: "4202"})
        assert result["failed"] is True
        assert "old name of" in result["msg"] and "legacy_names=fail" in result["msg"]
    assert before.unchanged()


def test_legacy_names_fail_leaves_old_keys_in_the_file(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "a"\n[profiles.a]\nPREFECT_UI_API_URL = "http://x/api"\n')
    result, dummy = run(run_module, path, legacy_names="fail", settings={"PREFECT_API_URL": "http://h/api"})
    assert result["changed"] is True
    assert parsed(path)["profiles"]["a"] == {"PREFECT_UI_API_URL": "http://x/api", "PREFECT_API_URL": "http://h/api"}


def test_unknown_name_fails_with_suggestion(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, profile="prod", settings={"PREFECT_API_ULR": "http://x/api"})
    assert result["failed"] is True
    assert "Unknown setting name PREFECT_API_ULR" in result["msg"]
    assert "did you mean PREFECT_API_URL" in result["msg"]
    assert before.unchanged()


@pytest.mark.parametrize("key", ["PREFECT_HOME", "PREFECT_PROFILES_PATH"])
def test_refused_names(run_module, profiles, snapshot, key):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, profile="prod", settings={key: "/tmp/x"})
    assert result["failed"] is True
    assert "cannot be stored in a profile" in result["msg"]
    assert before.unchanged()


def test_same_setting_twice_through_an_alias_fails(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, profile="prod", settings={
        "PREFECT_SERVER_UI_API_URL": "http://a/api", "PREFECT_UI_API_URL": "http://b/api"})
    assert result["failed"] is True
    assert "same setting PREFECT_SERVER_UI_API_URL" in result["msg"]
    assert before.unchanged()


# ---------------------------------------------------------------- unset and exclusive

def test_unset_including_an_alias(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "a"\n[profiles.a]\nPREFECT_UI_API_URL = "http://old/api"\n'
                    'PREFECT_SERVER_UI_API_URL = "http://new/api"\nPREFECT_API_KEY = "k"\n# tail\n')
    result, dummy = run(run_module, path, unset=["PREFECT_UI_API_URL", "PREFECT_API_KEY", "PREFECT_DEBUG_MODE"])
    assert result["changed"] is True
    assert path.read_text() == 'active = "a"\n[profiles.a]\n# tail\n'
    assert sorted(c["key"] for c in result["changes"]) == [
        "PREFECT_API_KEY", "PREFECT_SERVER_UI_API_URL", "PREFECT_UI_API_URL"]
    again, dummy = run(run_module, path, unset=["PREFECT_UI_API_URL", "PREFECT_API_KEY"])
    assert again["changed"] is False


def test_unset_of_a_hand_added_unknown_key_present_in_the_file(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "a"\n[profiles.a]\nPREFECT_API_ULR = "typo"\n')
    result, dummy = run(run_module, path, unset=["PREFECT_API_ULR"])
    assert result["changed"] is True
    assert parsed(path)["profiles"]["a"] == {}


def test_unset_unknown_absent_key_fails(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, profile="prod", unset=["PREFECT_API_ULR"])
    assert result["failed"] is True and "did you mean PREFECT_API_URL" in result["msg"]
    assert before.unchanged()


def test_set_and_unset_same_key_fails(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, profile="prod",
                        settings={"PREFECT_SERVER_UI_API_URL": "http://a/api"}, unset=["PREFECT_UI_API_URL"])
    assert result["failed"] is True and "both set and unset" in result["msg"]
    assert before.unchanged()


def test_exclusive_removes_unmanaged_unknown_and_orion_keys(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    text = ('active = "srv"\n\n[profiles.srv]\n# managed by ansible\nPREFECT_SERVER_API_HOST = "0.0.0.0"\n'
            'PREFECT_ORION_API_PORT = "4200"\nPREFECT_HAND_ADDED = "x"\nPREFECT_DEBUG_MODE = "true"\n\n'
            '[profiles.other]\nPREFECT_DEBUG_MODE = "true"\n')
    path.write_text(text)
    result, dummy = run(run_module, path, profile="srv", exclusive=True,
                        settings={"PREFECT_SERVER_API_HOST": "0.0.0.0", "PREFECT_SERVER_API_PORT": 4200})
    assert result["changed"] is True
    assert parsed(path)["profiles"] == {
        "srv": {"PREFECT_SERVER_API_HOST": "0.0.0.0", "PREFECT_SERVER_API_PORT": "4200"},
        "other": {"PREFECT_DEBUG_MODE": "true"}}
    assert "# managed by ansible" in path.read_text()
    assert path.read_text().endswith('\n\n[profiles.other]\nPREFECT_DEBUG_MODE = "true"\n')
    removed = {c["key"] for c in result["changes"] if c["action"] == "unset"}
    renamed = {c["from"] for c in result["changes"] if c["action"] == "migrate"}
    assert {"PREFECT_HAND_ADDED", "PREFECT_DEBUG_MODE"} <= removed
    # the Orion-era key is reported, as renamed (its value matched) or removed
    assert "PREFECT_ORION_API_PORT" in removed | renamed
    assert removed | renamed == {"PREFECT_ORION_API_PORT", "PREFECT_HAND_ADDED", "PREFECT_DEBUG_MODE"}
    again, dummy = run(run_module, path, profile="srv", exclusive=True,
                       settings={"PREFECT_SERVER_API_HOST": "0.0.0.0", "PREFECT_SERVER_API_PORT": 4200})
    assert again["changed"] is False


# ---------------------------------------------------------------- bad input leaves the file alone

BAD_FILES = {
    "broken_toml": '[profiles.prod\nPREFECT_API_URL = "x"\n',
    "not_profiles": '[tool.black]\nline-length = 100\n',
    "nested_table": '[profiles.prod.extra]\nX = "1"\n',
    "active_not_string": 'active = 1\n[profiles.prod]\n',
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_fail_and_stay_unchanged(run_module, tmp_path, snapshot, name):
    path = tmp_path / "profiles.toml"
    path.write_text(BAD_FILES[name])
    before = snapshot(str(path))
    result, dummy = run(run_module, path, profile="prod", settings={"PREFECT_API_URL": "http://x/api"})
    assert result["failed"] is True
    assert str(path) in result["msg"]
    assert before.unchanged()


def test_undecodable_file_fails_and_stays_unchanged(run_module, tmp_path, snapshot):
    path = tmp_path / "profiles.toml"
    path.write_bytes(b'active = "a"\n[profiles.a]\nPREFECT_API_URL = "\xff"\n')
    before = snapshot(str(path))
    result, dummy = run(run_module, path, settings={"PREFECT_DEBUG_MODE": True})
    assert result["failed"] is True and "Cannot read" in result["msg"]
    assert before.unchanged()


@pytest.mark.parametrize("settings, message", [
    ({"PREFECT_SERVER_API_PORT": "forty-two"}, "expects an integer"),
    ({"PREFECT_SERVER_UI_ENABLED": "sometimes"}, "expects a boolean"),
    ({"PREFECT_LOGGING_LEVEL": "CHATTY"}, "expects one of"),
    # past a bound Prefect sets: it would then load no setting at all
    ({"PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": "PT1H"}, "must be more than 3600 seconds, got 'PT1H'"),
    ({"PREFECT_API_URL": ["a", "b"]}, "must be a string, number or boolean"),
    ({"PREFECT_API_URL": None}, "has no value"),
])
def test_wrong_value_types_fail_and_leave_file(run_module, profiles, snapshot, settings, message):
    before = snapshot(str(profiles))
    # a valid key alongside proves nothing is half-applied
    result, dummy = run(run_module, profiles, profile="prod", settings=dict(settings, PREFECT_DEBUG_MODE=True))
    assert result["failed"] is True
    assert message in result["msg"]
    assert before.unchanged()


def test_missing_profile_names_prefect_profile(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result, dummy = run(run_module, profiles, profile="staging", settings={"PREFECT_API_URL": "http://x/api"})
    assert result["failed"] is True
    assert "'staging' does not exist" in result["msg"]
    assert "selfhosted.prefect.prefect_profile" in result["msg"]
    assert "prod, dev" in result["msg"]
    assert before.unchanged()


def test_missing_file_fails_without_creating_it(run_module, tmp_path):
    path = tmp_path / "new" / "profiles.toml"
    result, dummy = run(run_module, path, profile="default", settings={"PREFECT_API_URL": "http://x/api"})
    assert result["failed"] is True and "does not exist" in result["msg"]
    assert not (tmp_path / "new").exists()


@pytest.fixture
def open_dir(tmp_path):
    """A directory other users may enter (pytest's own tmp root is 0700)."""
    import shutil
    import tempfile
    path = tempfile.mkdtemp(prefix="prefect-profiles-")
    os.chmod(path, 0o755)
    yield __import__("pathlib").Path(path)
    shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another uid")
def test_unreadable_file_fails_and_stays_unchanged(run_module_as, open_dir, snapshot):
    profiles = open_dir / "profiles.toml"
    profiles.write_text(SAMPLE)
    os.chmod(profiles, 0o600)
    before = snapshot(str(profiles))
    result, dummy = run_module_as(NOBODY, prefect_config, dict(path=str(profiles), settings={"PREFECT_DEBUG_MODE": True}))
    assert result["failed"] is True
    assert "Cannot read" in result["msg"] and "Permission denied" in result["msg"]
    assert before.unchanged()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another uid")
def test_unwritable_directory_fails_and_file_stays_unchanged(run_module_as, open_dir, snapshot):
    home = open_dir
    path = home / "profiles.toml"
    path.write_text(SAMPLE)
    os.chmod(path, 0o666)        # readable and writable, but no new file (the
    os.chmod(home, 0o755)        # temp file) may be made beside it
    before = snapshot(str(path))
    result, dummy = run_module_as(NOBODY, prefect_config, dict(path=str(path), settings={"PREFECT_DEBUG_MODE": True}))
    assert result["failed"] is True
    assert "Cannot write" in result["msg"]
    assert before.unchanged()
    assert os.listdir(home) == ["profiles.toml"]   # no temp file left behind


# ---------------------------------------------------------------- files

def test_existing_mode_is_kept(run_module, profiles):
    os.chmod(profiles, 0o640)
    run(run_module, profiles, profile="prod", settings={"PREFECT_DEBUG_MODE": True})
    assert stat.S_IMODE(os.stat(profiles).st_mode) == 0o640


def test_mode_option_changes_only_the_mode(run_module, profiles):
    os.chmod(profiles, 0o644)
    result, dummy = run(run_module, profiles, profile="prod", mode="0600", settings={"PREFECT_SERVER_UI_ENABLED": True})
    assert result["changed"] is True
    assert result["msg"] == "ownership, perms or SE linux context changed"
    assert stat.S_IMODE(os.stat(profiles).st_mode) == 0o600
    assert profiles.read_text() == SAMPLE


def test_backup(run_module, profiles):
    result, dummy = run(run_module, profiles, profile="prod", backup=True, settings={"PREFECT_DEBUG_MODE": True})
    backup = result["backup_file"]
    assert os.path.dirname(backup) == str(profiles.parent)
    with open(backup) as handle:
        assert handle.read() == SAMPLE
    again, dummy = run(run_module, profiles, profile="prod", backup=True, settings={"PREFECT_DEBUG_MODE": True})
    assert "backup_file" not in again


def test_no_log_masks_secret_arguments_in_invocation(run_module, profiles):
    result, dummy = run(run_module, profiles, profile="prod", settings=SECRETS)
    invocation = json.dumps(result["invocation"])
    for secret in ("Hunter2-auth", "pnu_Sup3rSecretKey", "Db-Pa55word"):
        assert secret not in invocation
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in invocation


# ---------------------------------------------------------------- concurrency

def test_concurrent_writers_lose_no_update(tmp_path):
    """8 processes run the module file at once, each setting its own keys."""
    path = tmp_path / "profiles.toml"
    path.write_text('active = "shared"\n\n# shared by everyone\n[profiles.shared]\n')
    keys = [
        ("PREFECT_SERVER_API_HOST", "0.0.0.0"), ("PREFECT_SERVER_API_PORT", "4200"),
        ("PREFECT_API_URL", "http://h:4200/api"), ("PREFECT_LOGGING_LEVEL", "INFO"),
        ("PREFECT_DEBUG_MODE", "false"), ("PREFECT_SERVER_UI_ENABLED", "true"),
        ("PREFECT_API_REQUEST_TIMEOUT", "60.0"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
    ]
    module_file = prefect_config.__file__
    collections = os.path.abspath(os.path.join(os.path.dirname(module_file), "..", "..", "..", "..", ".."))
    env = dict(os.environ, PYTHONPATH=collections)
    procs = []
    for index, (key, value) in enumerate(keys):
        args = tmp_path / ("args%d.json" % index)
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(path), "settings": {key: value}}}))
        procs.append(subprocess.Popen([sys.executable, module_file, str(args)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert json.loads(out)["changed"] is True
    assert parsed(path)["profiles"]["shared"] == dict(keys)
    assert "# shared by everyone\n[profiles.shared]\n" in path.read_text()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".profiles.")]


# ---------------------------------------------------------------- property test through main()

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st  # noqa: E402

POOL = {
    "PREFECT_API_URL": st.sampled_from(["http://a:4200/api", "http://b.example.com/api"]),
    "PREFECT_SERVER_API_PORT": st.integers(min_value=1, max_value=65535),
    "PREFECT_SERVER_UI_ENABLED": st.booleans(),
    "PREFECT_LOGGING_LEVEL": st.sampled_from(["DEBUG", "INFO"]),
    "PREFECT_API_AUTH_STRING": st.text(alphabet="klmnop", min_size=4, max_size=8).map(lambda s: "Zq7Secret-" + s),
}
BASE = '''# header comment
active = "one"

# one's comment
[profiles.one]
PREFECT_DEBUG_MODE = "false"  # inline

# two's comment
[profiles.two]
PREFECT_API_URL = "http://two/api"

# three's comment
[profiles.three]
'''


def _cli(value):
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@hsettings(max_examples=40, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(
    st.sampled_from(["one", "two", "three"]),
    st.dictionaries(st.sampled_from(sorted(POOL)), st.none(), max_size=3),
    st.data()), min_size=1, max_size=4))
def test_random_module_runs_keep_comments_and_reach_the_expected_mapping(run_module, steps):
    import tempfile
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "profiles.toml")
        with open(path, "w") as handle:
            handle.write(BASE)
        expected = tomllib.loads(BASE)["profiles"]
        for profile, keys, data in steps:
            settings = {key: data.draw(POOL[key]) for key in keys if data.draw(st.booleans())}
            unset = [key for key in keys if key not in settings]
            result, dummy = run_module(prefect_config, dict(path=path, profile=profile, settings=settings, unset=unset),
                                       diff=True)
            assert "failed" not in result, result
            for key in unset:
                expected[profile].pop(key, None)
            for key, value in settings.items():
                expected[profile][key] = _cli(value)
            secrets = [v for k, v in settings.items() if k == "PREFECT_API_AUTH_STRING"]
            dumped = json.dumps(result, default=str)
            assert not [secret for secret in secrets if secret in dumped]
            again, dummy = run_module(prefect_config, dict(path=path, profile=profile, settings=settings, unset=unset))
            assert again["changed"] is False
        with open(path) as handle:
            text = handle.read()
        assert tomllib.loads(text)["profiles"] == expected
        assert [line for line in text.splitlines() if line.startswith("#")] == [
            "# header comment", "# one's comment", "# two's comment", "# three's comment"]
        for name in ("one", "two", "three"):
            assert "# %s's comment\n[profiles.%s]\n" % (name, name) in text
        if "one" not in [step[0] for step in steps]:
            assert 'PREFECT_DEBUG_MODE = "false"  # inline\n' in text
