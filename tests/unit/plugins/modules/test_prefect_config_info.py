# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_config_info driven through main() on real temp files."""
from __future__ import annotations

import json

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_config_info

SAMPLE = '''active = "hosted"

[profiles.hosted]
PREFECT_API_URL = "https://ops:UrlSecret-1@prefect.example.com/api"
PREFECT_API_AUTH_STRING = "ops:AuthSecret-2"

[profiles.legacy]
PREFECT_ORION_API_PORT = "4202"
PREFECT_UI_API_URL = "http://old:4200/api"
PREFECT_API_ULR = "http://typo/api"
'''


def info(run_module, **args):
    return run_module(prefect_config_info, args)[0]


def test_reports_the_active_profile_with_secrets_masked(run_module, profiles, snapshot):
    before = snapshot(str(profiles))
    result = info(run_module, path=str(profiles))
    assert result["changed"] is False
    assert result["exists"] is True
    assert result["active"] == "hosted" and result["profile"] == "hosted"
    assert result["profiles"] == ["hosted", "legacy"]
    assert result["api_target"] == "hosted"
    assert result["api_url"] == "https://ops:********@prefect.example.com/api"
    assert result["settings"] == {"PREFECT_API_URL": "https://ops:********@prefect.example.com/api",
                                  "PREFECT_API_AUTH_STRING": "********"}
    dumped = json.dumps(result, default=str)
    assert "UrlSecret-1" not in dumped and "AuthSecret-2" not in dumped
    assert before.unchanged()


def test_reports_legacy_and_unknown_keys_across_profiles(run_module, profiles):
    result = info(run_module, path=str(profiles), profile="legacy")
    assert result["profile"] == "legacy"
    # No URL and no ephemeral server allowed: Prefect refuses the run.
    assert result["api_target"] == "refused" and result["api_url"] is None
    assert result["legacy_keys"] == [
        {"profile": "legacy", "key": "PREFECT_ORION_API_PORT", "current_name": "PREFECT_SERVER_API_PORT", "kind": "legacy"},
        {"profile": "legacy", "key": "PREFECT_UI_API_URL", "current_name": "PREFECT_SERVER_UI_API_URL", "kind": "alias"},
    ]
    assert result["unknown_keys"][0]["key"] == "PREFECT_API_ULR"
    assert "PREFECT_API_URL" in result["unknown_keys"][0]["suggestions"]


def test_missing_file_reports_ephemeral(run_module, tmp_path):
    """Prefect's own profile "ephemeral" is active and allows the server."""
    result = info(run_module, prefect_home=str(tmp_path / "nowhere"))
    assert result["exists"] is False
    assert result["profiles"] == [] and result["active"] is None and result["profile"] is None
    assert result["api_target"] == "ephemeral"
    assert not (tmp_path / "nowhere").exists()


def test_path_from_the_environment(run_module, profiles, monkeypatch):
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(profiles))
    result = info(run_module)
    assert result["path"] == str(profiles)
    assert result["active"] == "hosted"


def test_missing_profile_fails(run_module, profiles):
    result = info(run_module, path=str(profiles), profile="nope")
    assert result["failed"] is True
    assert "'nope' does not exist" in result["msg"]


def test_broken_file_fails_unchanged(run_module, tmp_path, snapshot):
    path = tmp_path / "profiles.toml"
    path.write_text('[profiles.a\n')
    before = snapshot(str(path))
    result = info(run_module, path=str(path))
    assert result["failed"] is True and "is not valid TOML" in result["msg"]
    assert before.unchanged()


def test_check_mode_is_supported(run_module, profiles):
    result, dummy = run_module(prefect_config_info, dict(path=str(profiles)), check=True)
    assert result["changed"] is False and result["active"] == "hosted"


def test_path_and_prefect_home_are_exclusive(run_module, profiles):
    result = info(run_module, path=str(profiles), prefect_home=str(profiles.parent))
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
