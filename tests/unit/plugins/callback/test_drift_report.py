# -*- coding: utf-8 -*-
"""The drift_report callback, driven by real ansible-playbook runs against localhost.

Each test writes a tiny playbook, runs it with the callback enabled through
ANSIBLE_CALLBACKS_ENABLED (as docs/drift.md tells users to) and asserts on
the JSON and text the callback wrote.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.selfhosted.prefect.plugins.callback import drift_report
from ansible_collections.selfhosted.prefect.plugins.plugin_utils import drift_report as report_model

SECRET = "hunter2-Secret"
DB_PASSWORD = "s3cr3t-pw"
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(drift_report.__file__), *[".."] * 5))

PLAYBOOK = """
- name: Not recorded (marked as the drift playbook's own plays are)
  hosts: localhost
  gather_facts: false
  vars:
    selfhosted_prefect_drift_report_ignore: true
  tasks:
    - name: Changed but ignored
      ansible.builtin.debug:
        msg: ignored
      changed_when: true

- name: Recorded
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Managed file
      ansible.builtin.copy:
        dest: "{{ work }}/managed.txt"
        content: "declared\\n"
        mode: "0640"
      notify: Restart something

    - name: File holding a secret
      ansible.builtin.copy:
        dest: "{{ work }}/secret.env"
        content: "PASSWORD=%(secret)s\\n"
        mode: "0600"
      no_log: true

    - name: Files in a loop
      ansible.builtin.copy:
        dest: "{{ work }}/{{ item.name }}.txt"
        content: "{{ item.name }}\\n"
        mode: "0644"
      loop:
        - {name: one, password: "%(secret)s"}
        - {name: two, password: "%(secret)s"}

    - name: Server profile
      selfhosted.prefect.prefect_config:
        prefect_home: "{{ work }}/home"
        profile: server
        exclusive: true
        settings:
          PREFECT_SERVER_API_PORT: 4202
          PREFECT_SERVER_DATABASE_CONNECTION_URL: "postgresql+asyncpg://prefect:%(db)s@db1:5432/orion"

    - name: Nothing to change
      ansible.builtin.stat:
        path: "{{ work }}"

    - name: Tolerated failure
      ansible.builtin.fail:
        msg: tolerated
      ignore_errors: true

  handlers:
    - name: Restart something
      ansible.builtin.debug:
        msg: restarted
      changed_when: true
""" % {"secret": SECRET, "db": DB_PASSWORD}

PROFILES = """\
active = "server"

[profiles.server]
PREFECT_ORION_API_PORT = "4202"
PREFECT_SERVER_DATABASE_CONNECTION_URL = "postgresql+asyncpg://prefect:%s@db1:5432/orion"
PREFECT_HAND_ADDED = "1"
""" % DB_PASSWORD


def run_playbook(tmp_path, playbook, *args, inventory="localhost ansible_connection=local\n", env=None):
    (tmp_path / "pb.yml").write_text(textwrap.dedent(playbook))
    (tmp_path / "inventory").write_text(inventory)
    environ = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT + os.pathsep + os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
        ANSIBLE_CALLBACKS_ENABLED="selfhosted.prefect.drift_report",
        SELFHOSTED_PREFECT_DRIFT_REPORT_DIR=str(tmp_path / "reports"),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / ".ansible-remote"),
    )
    environ.update(env or {})
    environ.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ansible", "playbook", "-i", str(tmp_path / "inventory"), str(tmp_path / "pb.yml"),
         "-e", "work=%s" % (tmp_path / "work"), *args],
        cwd=str(tmp_path), env=environ, capture_output=True, text=True, timeout=300, check=False,
    )
    return proc


def load(tmp_path, name):
    return json.loads((tmp_path / "reports" / name).read_text())


def all_report_text(tmp_path):
    return "".join(path.read_text() for path in sorted((tmp_path / "reports").iterdir()))


@pytest.fixture
def drifted_host(tmp_path):
    """A work directory that differs from PLAYBOOK's declaration in every recorded task."""
    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    (work / "managed.txt").write_text("edited by hand\n")
    (work / "home" / "profiles.toml").write_text(PROFILES)
    return work


def snapshot(path):
    return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_check_mode_records_every_drifted_task(tmp_path, drifted_host):
    before = snapshot(drifted_host)
    proc = run_playbook(tmp_path, PLAYBOOK, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshot(drifted_host) == before, "check mode wrote to the host"

    report = load(tmp_path, "localhost.json")
    assert report["format"] == report_model.REPORT_FORMAT
    assert report["mode"] == "check" and report["diff_mode"] is True and report["complete"] is True
    assert report["status"] == "drifted"
    tasks = [(entry["task"], entry.get("item")) for entry in report["drifted"]]
    assert tasks == [
        ("Managed file", None),
        ("File holding a secret", None),
        ("Files in a loop", "one"),
        ("Files in a loop", "two"),
        ("Server profile", None),
    ]
    assert report["drift_count"] == 5
    assert "Changed but ignored" not in json.dumps(report)

    managed = report["drifted"][0]
    assert managed["action"] == "ansible.builtin.copy"
    assert managed["role"] is None
    line = PLAYBOOK.splitlines().index("    - name: Managed file") + 1
    assert managed["task_path"] == "%s:%d" % (tmp_path / "pb.yml", line)
    assert managed["hidden"] is False
    assert managed["diff"][0]["before"] == "edited by hand\n"
    assert managed["diff"][0]["after"] == "declared\n"

    hidden = report["drifted"][1]
    assert hidden["hidden"] is True
    assert "diff" in hidden and "before" not in json.dumps(hidden)

    profile = report["drifted"][4]
    assert profile["action"] == "selfhosted.prefect.prefect_config"
    assert {"key": "PREFECT_SERVER_API_PORT", "action": "migrate", "from": "PREFECT_ORION_API_PORT"} in profile["changes"]
    assert {"key": "PREFECT_HAND_ADDED", "action": "unset"} in profile["changes"]
    assert "PREFECT_HAND_ADDED" in profile["diff"][0]["before"]
    assert "PREFECT_HAND_ADDED" not in profile["diff"][0]["after"]
    assert report["migrated"] == [{
        "key": "PREFECT_SERVER_API_PORT",
        "from": "PREFECT_ORION_API_PORT",
        "profile": "server",
        "path": str(drifted_host / "home" / "profiles.toml"),
        "task": "Server profile",
    }]

    # Handlers that would run are listed, not counted as drift.
    assert [entry["task"] for entry in report["handlers"]] == ["Restart something"]
    # A failure the play tolerates is listed but does not make the host an error.
    assert [(e["task"], e["kind"], e["ignored"]) for e in report["errors"]] == [("Tolerated failure", "failed", True)]

    text = all_report_text(tmp_path)
    assert SECRET not in text
    assert DB_PASSWORD not in text

    summary = load(tmp_path, "summary.json")
    assert summary["drifted_hosts"] == ["localhost"]
    assert summary["error_hosts"] == []
    assert summary["hosts"]["localhost"]["report"] == "localhost.json"
    assert "PREFECT_ORION_API_PORT -> PREFECT_SERVER_API_PORT" in summary["hosts"]["localhost"]["migrated"]

    lines = (tmp_path / "reports" / "summary.txt").read_text().splitlines()
    assert lines[1] == "1 host(s): 1 drifted, 0 with errors"
    assert "localhost: 5 resource(s) drifted" in lines
    assert "  - File holding a secret [diff hidden by no_log]" in lines
    assert "  - Files in a loop (item=one)" in lines
    assert "  migrated: PREFECT_ORION_API_PORT -> PREFECT_SERVER_API_PORT" in lines
    assert "drift report: 1 host(s), 1 drifted, 0 with errors" in proc.stdout


def test_apply_then_check_is_in_sync_and_old_reports_go(tmp_path, drifted_host):
    applied = run_playbook(tmp_path, PLAYBOOK, "--diff")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    report = load(tmp_path, "localhost.json")
    assert report["mode"] == "apply"
    assert report["drift_count"] == 5
    assert report["migrated"][0]["from"] == "PREFECT_ORION_API_PORT"
    assert "1 host(s): 1 changed, 0 with errors" in (tmp_path / "reports" / "summary.txt").read_text()

    # The reports of the previous run move to previous/; other files stay.
    (tmp_path / "reports" / "gone.json").write_text(json.dumps({"format": report_model.REPORT_FORMAT, "host": "gone"}))
    (tmp_path / "reports" / "notes.json").write_text("{}")
    (tmp_path / "reports" / "previous").mkdir()
    (tmp_path / "reports" / "previous" / "older.json").write_text(json.dumps({"format": report_model.REPORT_FORMAT}))

    checked = run_playbook(tmp_path, PLAYBOOK, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = load(tmp_path, "localhost.json")
    assert report["status"] == "in_sync"
    assert report["drifted"] == [] and report["migrated"] == []
    assert not (tmp_path / "reports" / "gone.json").exists()
    assert (tmp_path / "reports" / "notes.json").exists()
    previous = tmp_path / "reports" / "previous"
    assert sorted(p.name for p in previous.iterdir()) == [
        "gone.json", "localhost.json", "summary.json", "summary.txt"]
    assert load(tmp_path, "previous/localhost.json")["mode"] == "apply"
    assert "1 changed" in (previous / "summary.txt").read_text()
    summary = load(tmp_path, "summary.json")
    assert summary["drifted_hosts"] == [] and list(summary["hosts"]) == ["localhost"]
    assert "localhost: in sync" in (tmp_path / "reports" / "summary.txt").read_text()


FAILING = """
- name: Failing and unreachable hosts
  hosts: all
  gather_facts: false
  tasks:
    - name: Connect
      ansible.builtin.ping:

    - name: Refuse
      ansible.builtin.fail:
        msg: "cannot converge here"
      when: inventory_hostname == 'localhost'

    - name: Secret failure
      ansible.builtin.fail:
        msg: "password is %s"
      no_log: true
""" % SECRET


def test_failed_and_unreachable_hosts_are_errors(tmp_path):
    inventory = (
        "localhost ansible_connection=local\n"
        "gone.example ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody\n"
    )
    proc = run_playbook(tmp_path, FAILING, "--check", inventory=inventory,
                        env={"ANSIBLE_HOST_KEY_CHECKING": "0", "ANSIBLE_TIMEOUT": "5"})
    assert proc.returncode != 0

    local = load(tmp_path, "localhost.json")
    assert local["status"] == "error"
    assert [(e["task"], e["kind"], e["msg"]) for e in local["errors"]] == [("Refuse", "failed", "cannot converge here")]

    gone = load(tmp_path, "gone.example.json")
    assert gone["status"] == "error"
    assert gone["errors"][0]["kind"] == "unreachable"
    assert gone["counts"]["unreachable"] == 1

    summary = load(tmp_path, "summary.json")
    assert summary["error_hosts"] == ["gone.example", "localhost"]
    assert SECRET not in all_report_text(tmp_path)


def test_secret_failure_message_is_hidden(tmp_path):
    proc = run_playbook(tmp_path, FAILING.replace("when: inventory_hostname == 'localhost'", "when: false"), "--check")
    assert proc.returncode != 0
    errors = load(tmp_path, "localhost.json")["errors"]
    assert errors == [dict(errors[0], task="Secret failure", kind="failed", msg=report_model.HIDDEN)]
    assert SECRET not in all_report_text(tmp_path)


@pytest.mark.parametrize("host, expected", [
    ("server1", "server1"),
    ("db-1.example.com", "db-1.example.com"),
    ("10.0.0.5:2222", "10.0.0.5_2222"),
    ("../etc/passwd", "_.._etc_passwd"),
    ("", "_"),
])
def test_safe_file_name(host, expected):
    assert report_model.safe_file_name(host) == expected


@pytest.mark.parametrize("data, expected", [
    ({"_ansible_item_label": "default", "item": {"name": "x", "password": SECRET}}, "default"),
    ({"item": {"name": "personal", "password": SECRET}}, "personal"),
    ({"item": {"password": SECRET}}, "(item with no name)"),
    ({"ansible_loop_var": "instance", "instance": "a"}, "a"),
    ({"item": ["a", SECRET]}, "(list item)"),
])
def test_item_label_never_shows_structured_items(data, expected):
    assert report_model.item_label(data) == expected


@pytest.mark.parametrize("data, hidden", [
    ({"censored": "the output has been hidden", "changed": True}, True),
    ({"_ansible_no_log": True, "changed": True}, True),
    ({"_ansible_no_log": False, "changed": True, "diff": {}}, False),
    ({"changed": True}, False),
])
def test_is_hidden(data, hidden):
    assert report_model.is_hidden(data) is hidden


def test_migrations_only_lists_migrate_changes():
    data = {"profile": "p", "path": "/x/profiles.toml", "changes": [
        {"key": "PREFECT_SERVER_UI_API_URL", "action": "migrate", "from": "PREFECT_ORION_UI_API_URL"},
        {"key": "PREFECT_API_URL", "action": "set"},
        {"key": "PREFECT_X", "action": "unset"},
    ]}
    assert report_model.migrations(data, "t") == [{
        "key": "PREFECT_SERVER_UI_API_URL", "from": "PREFECT_ORION_UI_API_URL",
        "profile": "p", "path": "/x/profiles.toml", "task": "t",
    }]


# -- playbooks/drift_report.yml, with a stand-in site.yml next to it ----------

FAKE_SITE = """
- name: Stand-in for site.yml
  hosts: prefect_server
  gather_facts: false
  tasks:
    - name: Managed file
      ansible.builtin.copy:
        dest: "{{ work }}/managed.txt"
        content: "declared\\n"
        mode: "0644"
"""
DRIFT_PLAYBOOK = os.path.join(os.path.dirname(drift_report.__file__), "..", "..", "playbooks", "drift_report.yml")


@pytest.fixture
def drift_playbook(tmp_path):
    (tmp_path / "site.yml").write_text(FAKE_SITE)
    with open(DRIFT_PLAYBOOK, encoding="utf-8") as stream:
        playbook = stream.read()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "managed.txt").write_text("edited by hand\n")
    return playbook


# The process audit of the machine running the tests would depend on it:
# none of its contexts are audited (the scenario default audits real ones).
SERVER_INVENTORY = "[prefect_server]\nlocalhost ansible_connection=local prefect_process_audit_contexts=[]\n"


def test_drift_playbook_refuses_to_converge(tmp_path, drift_playbook):
    proc = run_playbook(tmp_path, drift_playbook, inventory=SERVER_INVENTORY)
    assert proc.returncode == 2
    assert "run it in check mode, with diffs" in proc.stdout
    assert "check mode False, diff mode False, callback enabled" in proc.stdout
    assert (tmp_path / "work" / "managed.txt").read_text() == "edited by hand\n"


def test_drift_playbook_needs_the_callback(tmp_path, drift_playbook):
    proc = run_playbook(tmp_path, drift_playbook, "--check", "--diff", inventory=SERVER_INVENTORY,
                        env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.junit", "JUNIT_OUTPUT_DIR": str(tmp_path / "junit")})
    assert proc.returncode == 2
    assert "callback not enabled" in proc.stdout
    assert not (tmp_path / "reports").exists()


def test_drift_playbook_exit_status(tmp_path, drift_playbook):
    drifted = run_playbook(tmp_path, drift_playbook, "--check", "--diff", inventory=SERVER_INVENTORY)
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    assert "Drift on 1 host(s) (localhost)" in drifted.stdout
    assert (tmp_path / "work" / "managed.txt").read_text() == "edited by hand\n"
    report = load(tmp_path, "localhost.json")
    assert [entry["task"] for entry in report["drifted"]] == ["Managed file"]
    assert report["errors"] == []  # the playbook's own failing play is not recorded

    (tmp_path / "work" / "managed.txt").write_text("declared\n")
    clean = run_playbook(tmp_path, drift_playbook, "--check", "--diff", inventory=SERVER_INVENTORY)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No drift on 1 host(s)" in clean.stdout
    assert load(tmp_path, "summary.json")["drifted_hosts"] == []


def test_drift_playbook_fails_when_no_host_was_checked(tmp_path, drift_playbook):
    proc = run_playbook(tmp_path, drift_playbook, "--check", "--diff", inventory="[prefect_server]\n")
    assert proc.returncode == 2
    assert "No host was checked" in proc.stdout


def test_result_summary_keeps_scalars_and_the_unit_state():
    data = {"changed": True, "name": "prefect-server@default.service", "state": "started", "enabled": True,
            "cmd": "secret", "invocation": {"module_args": {"password": SECRET}},
            "status": {"ActiveState": "inactive", "SubState": "dead", "UnitFileState": "disabled",
                       "Environment": "PASSWORD=%s" % SECRET}}
    assert report_model.result_summary(data) == {
        "name": "prefect-server@default.service", "state": "started", "enabled": True,
        "ActiveState": "inactive", "SubState": "dead", "UnitFileState": "disabled"}
