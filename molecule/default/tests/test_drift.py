"""multi1's drift: the Orion-era migration, the report of a check run, remediation.

prepare.yml set multi1 up by hand the Orion-era way, and the converge (with
the drift_report callback on, as for every step of this scenario) brought it
under management. The module fixture `drifted` keeps that converge's report,
runs drift.yml (every kind of drift, then the report command in check mode,
with snapshots of the files and units before and after it), then remediates
with a converge of multi1. The tests read what it left in the molecule
ephemeral directory and check the host with testinfra.
"""

import json
import os
import pathlib
import shutil
import urllib.parse

import pytest

testinfra_hosts = ["ansible://multi1"]

EPHEMERAL = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
SCENARIO = pathlib.Path(__file__).resolve().parents[1]
HOST = "multi1"
ROGUE_HBA_LINE = "host all all 0.0.0.0/0 trust"
PREFECT_HBA_LINE = "host orion prefect 127.0.0.1/32"
SERVER_PROFILES = "/var/lib/prefect/default/profiles.toml"
CLIENT_PROFILES = "/root/.prefect/profiles.toml"
UNIT = "/etc/systemd/system/prefect-server@.service"


@pytest.fixture(scope="module", autouse=True)
def drifted(run_playbook):
    """The converge's reports kept (Molecule's steps write to reports/, the
    idempotence run last, so previous/ is the converge's; the verify's runs
    write elsewhere, see molecule.yml), drift.yml run, multi1 remediated."""
    if not (EPHEMERAL / "migration-reports").exists():
        shutil.copytree(EPHEMERAL / "reports" / "previous", EPHEMERAL / "migration-reports")
    (EPHEMERAL / "snapshots").mkdir(exist_ok=True)
    # Its loop items hold the Orion-era password, as the forum post wrote it:
    # its own report goes apart from the ones the secret test reads.
    run = run_playbook(str(SCENARIO / "drift.yml"),
                       env={"SELFHOSTED_PREFECT_DRIFT_REPORT_DIR": str(EPHEMERAL / "hand-drift-report")})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    remediation = run_playbook("--limit", HOST, "selfhosted.prefect.site")
    assert remediation.returncode == 0, remediation.stdout[-4000:] + remediation.stderr[-2000:]
    assert f"{HOST}" in remediation.stdout and "changed=0" not in remediation.stdout


@pytest.fixture(scope="module")
def secrets(inventory_vars):
    """The database password as the inventory holds it (raw, untemplated),
    percent-encoded, and the forum post's password from prepare.yml."""
    password = inventory_vars[HOST]["vault_prefect_db_password"]
    return (password, urllib.parse.quote(password, safe=""), "yourTopSecretPassword")


def _report(directory):
    return json.loads((EPHEMERAL / directory / f"{HOST}.json").read_text())


@pytest.fixture(scope="module")
def drift():
    return _report("drift-reports")


@pytest.fixture(scope="module")
def migration():
    return _report("migration-reports")


def _entries(report, action, **match):
    found = [e for e in report["drifted"] if e["action"] == action]
    for key, value in match.items():
        found = [e for e in found if e.get(key) == value]
    return found


def _profile_entry(report, path, item=None):
    """The prefect_config entry for the profiles file `path` (and loop item)."""
    entries = [e for e in _entries(report, "selfhosted.prefect.prefect_config")
               if e["diff"] and path in e["diff"][0]["before_header"] and (item is None or e.get("item") == item)]
    assert len(entries) == 1, [(e["task"], e.get("item")) for e in report["drifted"]]
    return entries[0]


def _unit_entry(report, unit):
    entries = [e for e in _entries(report, "ansible.builtin.systemd_service")
               if e.get("result", {}).get("name") == unit and e["task"].startswith("Start ")]
    assert len(entries) == 1, [(e["task"], e.get("result")) for e in report["drifted"]]
    return entries[0]


# -- the check run -------------------------------------------------------------

def test_report_command_exits_2_and_names_the_host():
    run = json.loads((EPHEMERAL / "drift-run.json").read_text())
    assert run["rc"] == 2
    assert f"Drift on 1 host(s) ({HOST})" in run["stdout"] + run["stderr"]


def test_check_run_changed_no_file_and_no_service():
    before = (EPHEMERAL / "snapshots" / "before-check.txt").read_text()
    after = (EPHEMERAL / "snapshots" / "after-check.txt").read_text()
    assert SERVER_PROFILES in before and "unit prefect-server@default inactive" in before
    assert before == after


def test_report_is_a_check_mode_report_with_diffs(drift):
    assert drift["mode"] == "check" and drift["diff_mode"] is True and drift["complete"] is True
    assert drift["status"] == "drifted"
    assert drift["errors"] == []


def test_managed_server_profile_key_edited_by_hand(drift):
    entry = _profile_entry(drift, SERVER_PROFILES)
    assert {"key": "PREFECT_SERVER_API_HOST", "action": "set"} in entry["changes"]
    assert 'PREFECT_SERVER_API_HOST = "127.0.0.1"' in entry["diff"][0]["before"]
    assert 'PREFECT_SERVER_API_HOST = "0.0.0.0"' in entry["diff"][0]["after"]


def test_managed_client_profile_key_edited_by_hand(drift):
    entry = _profile_entry(drift, CLIENT_PROFILES, item="default")
    assert {"key": "PREFECT_API_URL", "action": "set"} in entry["changes"]
    assert 'PREFECT_API_URL = "http://127.0.0.1:4299/api"' in entry["diff"][0]["before"]
    assert 'PREFECT_API_URL = "http://127.0.0.1:4200/api"' in entry["diff"][0]["after"]
    assert "4299" not in entry["diff"][0]["after"]


def test_unmanaged_key_in_a_managed_profile(drift):
    entry = _profile_entry(drift, SERVER_PROFILES)
    assert {"key": "PREFECT_SERVER_LOGGING_LEVEL", "action": "unset"} in entry["changes"]
    assert "PREFECT_SERVER_LOGGING_LEVEL" in entry["diff"][0]["before"]
    assert "PREFECT_SERVER_LOGGING_LEVEL" not in entry["diff"][0]["after"]


@pytest.mark.parametrize("key", [
    "PREFECT_ORION_API_PORT", "PREFECT_ORION_DATABASE_CONNECTION_URL", "PREFECT_ORION_UI_API_URL"])
def test_orion_era_key_left_in_a_profile(drift, key):
    entry = _profile_entry(drift, SERVER_PROFILES)
    assert {"key": key, "action": "unset"} in entry["changes"]
    assert key in entry["diff"][0]["before"] and key not in entry["diff"][0]["after"]


def test_active_profile_switched(drift):
    entries = [e for e in _entries(drift, "selfhosted.prefect.prefect_profile") if e.get("item") == "default"]
    assert len(entries) == 1, [(e["task"], e.get("item")) for e in drift["drifted"]]
    diff = entries[0]["diff"][0]
    assert 'active = "personal"' in diff["before"] and 'active = "default"' not in diff["before"]
    assert 'active = "default"' in diff["after"] and 'active = "personal"' not in diff["after"]


def test_systemd_unit_edited(drift):
    entries = [e for e in _entries(drift, "ansible.builtin.template", hidden=False)
               if any(UNIT in (d.get("before_header") or "") for d in e["diff"] or [])]
    assert len(entries) == 1
    diff = entries[0]["diff"][0]
    assert "Environment=PREFECT_SERVER_LOGGING_LEVEL=DEBUG" in diff["before"]
    assert "Environment=PREFECT_SERVER_LOGGING_LEVEL=DEBUG" not in diff["after"]


def test_service_stopped(drift):
    result = _unit_entry(drift, "prefect-server@default.service")["result"]
    assert result["ActiveState"] == "inactive"


def test_service_disabled(drift):
    result = _unit_entry(drift, "prefect-server@personal.service")["result"]
    assert result["ActiveState"] == "active" and result["UnitFileState"] == "disabled"


def test_environment_file_mode_loosened_is_reported_hidden(drift):
    entries = [e for e in _entries(drift, "ansible.builtin.template")
               if "environment file" in e["task"] and e["task"].endswith(" default")]
    assert len(entries) == 1
    assert entries[0]["hidden"] is True and "before" not in json.dumps(entries[0])


def test_environment_file_mode_loosened_shows_the_modes(drift):
    entries = [e for e in _entries(drift, "ansible.builtin.file", hidden=False)
               if "/etc/prefect-server/default.env" in json.dumps(e["diff"])]
    assert len(entries) == 1, [(e["task"], e["action"]) for e in drift["drifted"]]
    diff = entries[0]["diff"]  # the file module returns one diff, not a list
    assert diff["before"]["mode"] == "0644"
    assert diff["after"]["mode"] == "0640"


def _pg_hba_diff(drift):
    entries = [e for e in _entries(drift, "ansible.builtin.template", hidden=False)
               if any((d.get("before_header") or "").endswith("/pg_hba.conf") for d in e["diff"] or [])]
    assert len(entries) == 1, [(e["task"], e["action"]) for e in drift["drifted"]]
    return entries[0]["diff"][0]


def _hba_lines(text):
    return [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_pg_hba_prefect_line_changed_to_trust(drift):
    before, after = (_hba_lines(text) for text in (_pg_hba_diff(drift)["before"], _pg_hba_diff(drift)["after"]))
    assert f"{PREFECT_HBA_LINE} trust" in before
    assert f"{PREFECT_HBA_LINE} scram-sha-256" in after
    assert not [line for line in after if line.endswith(" trust")]


def test_pg_hba_rogue_line_added_by_hand(drift):
    diff = _pg_hba_diff(drift)
    assert ROGUE_HBA_LINE in _hba_lines(diff["before"])
    assert ROGUE_HBA_LINE not in _hba_lines(diff["after"])


def test_prefect_version_in_the_venv_changed(drift):
    # side_effect.yml made pip read 3.8.7; the task name says what a converge changes.
    # The server and the client role both install into /opt/prefect-server/3.8.8 here.
    venv = "/opt/prefect-server/3.8.8"
    entries = [e for e in _entries(drift, "ansible.builtin.pip") if f" {venv} " in e["task"]]
    assert len(entries) == 2, [(e["task"], e["action"]) for e in drift["drifted"]]
    assert all(e["task"].endswith(f"{venv} (prefect 3.8.7 -> 3.8.8)") for e in entries), [e["task"] for e in entries]


def test_summary_lists_the_host_and_its_resources(drift):
    summary = json.loads((EPHEMERAL / "drift-reports" / "summary.json").read_text())
    assert summary["drifted_hosts"] == [HOST] and summary["error_hosts"] == []
    text = (EPHEMERAL / "drift-reports" / "summary.txt").read_text()
    assert f"{HOST}: {drift['drift_count']} resource(s) drifted" in text
    assert "[diff hidden by no_log]" in text


def test_no_secret_in_any_report_or_output(secrets):
    files = [p for d in ("drift-reports", "migration-reports", "reports", "verify-reports")
             for p in (EPHEMERAL / d).rglob("*")
             if p.is_file()]
    files.append(EPHEMERAL / "drift-run.json")
    assert len(files) > 6
    for path in files:
        text = path.read_text()
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {path}"


# -- the Orion-era host brought under management (prepare + first converge) ---

def test_migration_report_lists_the_renamed_keys(migration):
    assert migration["mode"] == "apply"
    migrated = {(m["profile"], m["from"], m["key"]) for m in migration["migrated"]}
    assert migrated == {
        ("default", "PREFECT_ORION_UI_API_URL", "PREFECT_SERVER_UI_API_URL"),
        ("default", "PREFECT_ORION_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"),
        ("personal", "PREFECT_ORION_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"),
        ("personal", "PREFECT_ORION_API_PORT", "PREFECT_SERVER_API_PORT"),
    }
    assert all(m["path"] == CLIENT_PROFILES for m in migration["migrated"])
    summary = (EPHEMERAL / "migration-reports" / "summary.txt").read_text()
    assert "migrated: PREFECT_ORION_API_PORT -> PREFECT_SERVER_API_PORT" in summary


def test_migration_report_lists_the_takeover_of_the_old_unit(migration):
    entries = [e for e in _entries(migration, "ansible.builtin.systemd_service") if e.get("item") == "prefect-orion.service"]
    assert len(entries) == 1
    assert entries[0]["result"]["ActiveState"] == "active"


def test_orion_era_keys_renamed_in_the_users_profiles(host):
    text = host.file(CLIENT_PROFILES).content_string
    assert "PREFECT_ORION_" not in text
    assert 'PREFECT_SERVER_API_PORT = "4202"' in text
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" in text


def test_old_server_unit_stopped_and_disabled_and_data_kept(host):
    unit = host.service("prefect-orion.service")
    assert not unit.is_running and not unit.is_enabled
    assert host.file("/root/.prefect/orion.db").is_file


def test_hosted_api_on_postgresql_took_over_port_4200(host):
    assert json.loads(host.check_output("curl -fsS --max-time 10 http://127.0.0.1:4200/api/health")) is True
    assert json.loads(host.check_output("curl -fsS --max-time 10 http://127.0.0.1:4200/api/ready")) == {"message": "OK"}
    tables = host.check_output(
        "runuser -u postgres -- psql -d orion -tAc "
        "\"select count(*) from information_schema.tables where table_name = 'flow_run'\"")
    assert tables.strip() == "1"


# -- after remediation (converge) and a further run (idempotence) -------------

def test_remediated_profiles(host):
    server = host.file(SERVER_PROFILES).content_string
    assert 'PREFECT_SERVER_API_HOST = "0.0.0.0"' in server
    assert "PREFECT_SERVER_LOGGING_LEVEL" not in server and "PREFECT_ORION_" not in server
    client = host.file(CLIENT_PROFILES).content_string
    assert 'active = "default"' in client
    assert 'PREFECT_API_URL = "http://127.0.0.1:4200/api"' in client


def test_remediated_unit_services_and_files(host):
    assert "PREFECT_SERVER_LOGGING_LEVEL" not in host.file(UNIT).content_string
    for name in ("default", "personal"):
        service = host.service(f"prefect-server@{name}.service")
        assert service.is_running and service.is_enabled, name
    assert host.file("/etc/prefect-server/default.env").mode == 0o640
    pg_hba = _hba_lines(host.check_output("cat /etc/postgresql/*/main/pg_hba.conf"))
    assert f"{PREFECT_HBA_LINE} scram-sha-256" in pg_hba
    assert ROGUE_HBA_LINE not in pg_hba
    assert not [line for line in pg_hba if line.endswith(" trust")]
    version = host.check_output("/opt/prefect-server/3.8.8/bin/python -c 'import importlib.metadata as m; print(m.version(\"prefect\"))'")
    assert version.strip() == "3.8.8"


def test_drift_report_is_clean_after_remediation(run_playbook, tmp_path):
    """The real report (check mode, diffs, the callback) over every host,
    with its exit status: multi1 remediated, and no other host drifted since
    the converge (Molecule's own check step fails only on failed tasks)."""
    run = run_playbook("selfhosted.prefect.drift_report", "--check", "--diff",
                       env={"ANSIBLE_CALLBACKS_ENABLED": "selfhosted.prefect.drift_report",
                            "SELFHOSTED_PREFECT_DRIFT_REPORT_DIR": str(tmp_path / "reports")})
    print((tmp_path / "reports" / "summary.txt").read_text())
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert sorted(summary["hosts"]) == ["client1", "db1", "multi1", "server1", "worker1"]
    assert summary["drifted_hosts"] == [] and summary["error_hosts"] == []
    assert summary["hosts"][HOST]["status"] == "in_sync"
