# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-check the profile modules, run through ansible-playbook against
localhost, with the real Prefect CLI ($PREFECT_BIN) on the same PREFECT_HOME.

Values are compared, secrets included: the CLI shows them with
`config view --show-secrets`. Each CLI call costs 1-2 s, so every test keeps
to a handful of them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PREFECT_BIN = os.environ.get("PREFECT_BIN")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

pytestmark = pytest.mark.skipif(
    not PREFECT_BIN, reason="PREFECT_BIN is not set (source scripts/lib/host.sh and run ensure_prefect_venv)")


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "prefect-home"
    path.mkdir()
    return path


def _clean_env(home):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    return env


def prefect(home, *args, check=True):
    """Run the real CLI with only PREFECT_HOME set, from a directory holding
    no .env or prefect.toml."""
    proc = subprocess.run([PREFECT_BIN, *args], env=_clean_env(home), cwd=str(home.parent),
                          capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def flow_run_outcome(home):
    """Start a flow with only PREFECT_HOME set, as a process on the host
    would: "refused" when Prefect fails for want of an API URL, else what
    the run printed."""
    script = "from prefect import flow\n@flow\ndef probe():\n    return 1\nprint('RAN', probe())\n"
    proc = subprocess.run([str(Path(PREFECT_BIN).with_name("python")), "-c", script], env=_clean_env(home),
                          cwd=str(home.parent), capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 and "No Prefect API URL provided" in proc.stderr:
        return "refused"
    return proc.stdout + proc.stderr


def config_view(home, profile=None):
    """`prefect config view --show-secrets` as (the profile the CLI picked,
    {name: value} of the settings it took from that profile), secrets in clear."""
    args = (["--profile", profile] if profile else []) + ["config", "view", "--show-secrets"]
    out = prefect(home, *args).stdout
    picked = re.search(r"^PREFECT_PROFILE='([^']*)'", out, re.M).group(1)
    return picked, dict(re.findall(r"^(PREFECT_[A-Z0-9_]+)='(.*)' \(from profile\)$", out, re.M))


def profile_list(home):
    """`prefect profile ls` as (active profile, sorted profile names)."""
    rows = re.findall(r"^│\s*(\* )?(\S+)\s*│$", prefect(home, "profile", "ls").stdout, re.M)
    active = [name for star, name in rows if star]
    return (active[0] if active else None), sorted(name for star, name in rows)


def stored_profile(home, profile):
    """A profile as the file holds it, read by the test itself (secrets in clear)."""
    return tomllib.loads((home / "profiles.toml").read_text())["profiles"][profile]


def as_stored(settings):
    """Task values (YAML types) as strings, the way the module and the CLI store them."""
    return {key: ("true" if value else "false") if isinstance(value, bool) else str(value)
            for key, value in settings.items()}


def playbook(tmp_path, tasks, check=False):
    """Run tasks against localhost through ansible-playbook; returns the task results."""
    book = tmp_path / "play.yml"
    book.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }]))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PREFECT_", "ANSIBLE_CALLBACK"))}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".cache", "collections"),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_NOCOLOR="1",
    )
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    return [task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]]


def profile_task(home, name, **args):
    return {"selfhosted.prefect.prefect_profile": dict(args, name=name, prefect_home=str(home))}


def config_task(home, profile, settings, **args):
    return {"selfhosted.prefect.prefect_config": dict(args, profile=profile, settings=settings,
                                                      prefect_home=str(home))}


def info_task(home, **args):
    return {"selfhosted.prefect.prefect_config_info": dict(args, prefect_home=str(home))}


def cli_pairs(settings):
    return ["%s=%s" % item for item in as_stored(settings).items()]


SERVER = {
    "PREFECT_SERVER_API_HOST": "0.0.0.0",
    "PREFECT_SERVER_API_PORT": 4202,
    "PREFECT_SERVER_UI_ENABLED": False,
    "PREFECT_SERVER_UI_API_URL": "http://prefect.example.com:4202/api",
    "PREFECT_LOGGING_LEVEL": "INFO",
}
SERVER_WITH_DATABASE = dict(
    SERVER, PREFECT_SERVER_DATABASE_CONNECTION_URL="postgresql+asyncpg://prefect:Db-Cr0ss@db:5432/prefect")
CLIENT = {
    "PREFECT_API_URL": "http://prefect.example.com:4202/api",
    "PREFECT_API_AUTH_STRING": "ops:Cr0ssCheck",
    "PREFECT_API_KEY": "pnu_Cr0ssCheckKey",
}
# Every secret value here contains this; no module result may show it.
SECRET_MARKER = "Cr0ss"
# How prefect_config_info shows those secrets.
MASKED = {
    "PREFECT_API_AUTH_STRING": "********",
    "PREFECT_API_KEY": "********",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://prefect:********@db:5432/prefect",
}


def assert_no_secret_in(results):
    assert SECRET_MARKER not in json.dumps(results)


def test_modules_then_cli(tmp_path, home):
    tasks = [
        profile_task(home, "server", active=True),
        profile_task(home, "client"),
        config_task(home, "server", SERVER_WITH_DATABASE),
        config_task(home, "client", CLIENT),
    ]
    first = playbook(tmp_path, tasks)
    assert [result["changed"] for result in first] == [True, True, True, True]
    path = home / "profiles.toml"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert_no_secret_in(first)
    text = path.read_bytes()

    second = playbook(tmp_path, tasks)
    assert [result["changed"] for result in second] == [False, False, False, False]
    assert path.read_bytes() == text

    assert profile_list(home) == ("server", ["client", "server"])
    assert config_view(home) == ("server", as_stored(SERVER_WITH_DATABASE))
    assert config_view(home, "client") == ("client", as_stored(CLIENT))
    # The CLI only read the file.
    assert path.read_bytes() == text


def test_cli_then_modules(tmp_path, home):
    prefect(home, "profile", "create", "ops")
    prefect(home, "--profile", "ops", "config", "set",
            "PREFECT_SERVER_API_HOST=0.0.0.0", "PREFECT_SERVER_API_PORT=4202", "PREFECT_SERVER_UI_ENABLED=False",
            "PREFECT_SERVER_UI_API_URL=http://prefect.example.com:4202/api", "PREFECT_LOGGING_LEVEL=INFO",
            # an alias: the CLI stores it under its current name
            "PREFECT_UI_SERVE_BASE=/ui")
    path = home / "profiles.toml"
    written = path.read_bytes()
    stored = tomllib.loads(written.decode())["profiles"]["ops"]
    assert stored["PREFECT_SERVER_API_PORT"] == "4202"
    assert stored["PREFECT_SERVER_UI_SERVE_BASE"] == "/ui"

    # The same desired state, typed as YAML types it and partly under old names.
    desired = dict(SERVER, PREFECT_UI_SERVE_BASE="/ui")
    results = playbook(tmp_path, [profile_task(home, "ops"), config_task(home, "ops", desired)])
    assert [result["changed"] for result in results] == [False, False]
    assert path.read_bytes() == written

    # A real change by the module, then the CLI sets the same value: no drift either way.
    results = playbook(tmp_path, [config_task(home, "ops", {"PREFECT_SERVER_API_PORT": 4300})])
    assert results[0]["changed"] is True
    prefect(home, "--profile", "ops", "config", "set", "PREFECT_SERVER_API_PORT=4300")
    results = playbook(tmp_path, [config_task(home, "ops", dict(desired, PREFECT_SERVER_API_PORT=4300))])
    assert results[0]["changed"] is False


def test_orion_runbook_lands_under_current_names(tmp_path, home):
    runbook = {
        "PREFECT_ORION_API_HOST": "0.0.0.0",
        "PREFECT_ORION_API_PORT": 4202,
        "PREFECT_ORION_UI_API_URL": "http://prefect.example.com:4202/api",
        "PREFECT_ORION_ANALYTICS_ENABLED": False,
    }
    results = playbook(tmp_path, [profile_task(home, "orion", active=True), config_task(home, "orion", runbook)])
    assert results[1]["changed"] is True
    migrated = {change["from"]: change["key"] for change in results[1]["changes"] if change["action"] == "migrate"}
    assert migrated == {
        "PREFECT_ORION_API_HOST": "PREFECT_SERVER_API_HOST",
        "PREFECT_ORION_API_PORT": "PREFECT_SERVER_API_PORT",
        "PREFECT_ORION_UI_API_URL": "PREFECT_SERVER_UI_API_URL",
        "PREFECT_ORION_ANALYTICS_ENABLED": "PREFECT_SERVER_ANALYTICS_ENABLED",
    }
    assert any("PREFECT_ORION_API_PORT is an old name" in warning for warning in results[1].get("warnings", []))

    assert config_view(home) == ("orion", {migrated[old]: value for old, value in as_stored(runbook).items()})

    before = (home / "profiles.toml").read_bytes()
    refused = prefect(home, "config", "set", "PREFECT_ORION_API_PORT=4202", check=False)
    assert refused.returncode != 0
    assert "Unknown setting name" in refused.stdout + refused.stderr
    assert (home / "profiles.toml").read_bytes() == before

    # The runbook applied again, and in check mode, changes nothing.
    again = playbook(tmp_path, [config_task(home, "orion", runbook)], check=True)
    assert again[0]["changed"] is False


def test_cli_then_module_unset_and_exclusive(tmp_path, home):
    written = dict(CLIENT, PREFECT_LOGGING_LEVEL="DEBUG", PREFECT_SERVER_API_PORT=4202)
    prefect(home, "profile", "create", "ops")
    prefect(home, "--profile", "ops", "config", "set", *cli_pairs(written))

    # unset: the keys are gone for the CLI too, the rest keeps its values.
    unset = ["PREFECT_API_AUTH_STRING", "PREFECT_LOGGING_LEVEL"]
    results = playbook(tmp_path, [config_task(home, "ops", {}, unset=unset)])
    assert results[0]["changes"] == [{"key": key, "action": "unset"} for key in unset]
    kept = {key: value for key, value in written.items() if key not in unset}
    assert config_view(home, "ops") == ("ops", as_stored(kept))

    # exclusive: unmanaged keys are gone, managed ones hold the task's values.
    managed = {"PREFECT_API_URL": CLIENT["PREFECT_API_URL"], "PREFECT_API_KEY": "pnu_Rotated-Cr0ss",
               "PREFECT_SERVER_API_HOST": "0.0.0.0"}
    exclusive = config_task(home, "ops", managed, exclusive=True)
    results = playbook(tmp_path, [exclusive])
    assert results[0]["changed"] is True
    assert_no_secret_in(results)
    assert config_view(home, "ops") == ("ops", as_stored(managed))

    # The CLI removes a managed key: the module sees the drift.
    prefect(home, "--profile", "ops", "config", "unset", "PREFECT_API_KEY", "--yes")
    results = playbook(tmp_path, [exclusive], check=True)
    assert results[0]["changes"] == [{"key": "PREFECT_API_KEY", "action": "set"}]


def test_config_info_reports_what_the_cli_shows(tmp_path, home):
    for name, settings in (("client", CLIENT), ("server", SERVER_WITH_DATABASE)):
        prefect(home, "profile", "create", name)
        prefect(home, "--profile", name, "config", "set", *cli_pairs(settings))
    # Saves the switch, then exits 1: the profile names no API URL to check.
    prefect(home, "profile", "use", "server", check=False)

    results = playbook(tmp_path, [info_task(home), info_task(home, profile="client")])
    assert_no_secret_in(results)
    active, client = results
    assert profile_list(home) == (active["active"], sorted(active["profiles"])) == ("server", ["client", "server"])

    for result, cli_profile in ((active, None), (client, "client")):
        picked, view = config_view(home, cli_profile)
        assert result["profile"] == picked
        # Secrets compared by value through the file, masked in the result.
        assert stored_profile(home, picked) == view
        assert result["settings"] == dict(view, **{key: MASKED[key] for key in view if key in MASKED})
    # No URL, and no ephemeral server allowed (only Prefect's own "ephemeral"
    # profile allows one): a flow run fails at once.
    assert (active["api_target"], active["api_url"]) == ("refused", None)
    assert flow_run_outcome(home) == "refused"
    assert (client["api_target"], client["api_url"]) == ("hosted", CLIENT["PREFECT_API_URL"])
