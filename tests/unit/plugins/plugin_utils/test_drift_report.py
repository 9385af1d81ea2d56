# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report's model, rendering and files, fed plain result dicts as the
callback gets them from Ansible; no playbook runs here.

The empty __init__.py next to this file lets pytest tell it apart from the
callback's test_drift_report.py."""
from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ansible_collections.selfhosted.prefect.plugins.plugin_utils import drift_report as dr

SECRET = "hunter2-Secret"
CONFIG = "selfhosted.prefect.prefect_config"


def entry(name="Write the file", role=None, action="ansible.builtin.copy"):
    return dr.task_entry(name, role, action, "/play.yml:3")


def changed(**result):
    return dict(changed=True, **result)


def meta(check_mode=True, diff_mode=True):
    return dr.report_meta(check_mode, diff_mode, "2026-11-22T02:00:01Z", ["/play.yml"], complete=True)


def drifted_report(host="web1"):
    report = dr.HostReport(host)
    report.record_ok(entry("Managed file"), changed(diff=[{"before": "old\n", "after": "new\n"}]))
    return report


# ---------------------------------------------------------------- statuses and counts

def test_a_host_with_no_change_is_in_sync():
    report = dr.HostReport("web1")
    report.record_ok(entry(), {"changed": False})
    report.record_skipped()
    assert report.status == "in_sync"
    assert report.drifted == []
    assert report.counts == {"ok": 1, "changed": 0, "skipped": 1, "failed": 0, "unreachable": 0}


def test_a_changed_result_is_drift_and_keeps_the_diff():
    report = drifted_report()
    assert report.status == "drifted"
    assert report.counts["changed"] == 1
    assert report.drifted == [dict(entry("Managed file"), hidden=False, diff=[{"before": "old\n", "after": "new\n"}])]


def test_a_failure_makes_the_host_an_error_unless_ignored():
    report = drifted_report()
    report.record_failed(entry("Tolerated"), {"msg": "tolerated"}, ignored=True)
    assert report.status == "drifted"
    assert report.counts["failed"] == 0
    report.record_failed(entry("Refuse"), {"msg": "cannot converge here"})
    assert report.status == "error"
    assert report.counts["failed"] == 1
    assert [(e["task"], e["kind"], e["msg"], e["ignored"]) for e in report.errors] == [
        ("Tolerated", "failed", "tolerated", True), ("Refuse", "failed", "cannot converge here", False)]


def test_an_unreachable_host_is_an_error():
    report = dr.HostReport("gone")
    report.record_unreachable(entry("Connect"), {"msg": "ssh: connect to host port 1: Connection refused"})
    assert report.status == "error"
    assert report.counts["unreachable"] == 1
    assert report.errors[0]["kind"] == "unreachable" and report.errors[0]["ignored"] is False


def test_handlers_that_would_run_are_listed_apart_and_not_drift():
    report = dr.HostReport("web1")
    report.record_ok(entry("Restart"), changed(), handler=True)
    assert report.status == "in_sync"
    assert [h["task"] for h in report.handlers] == ["Restart"]


def test_each_changed_loop_item_is_an_entry():
    report = dr.HostReport("web1")
    report.record_ok(entry("Files"), changed(results=[
        changed(item="one", diff={"after": "1"}), {"changed": False, "item": "two"}, changed(item="three")]))
    assert [(e["item"], e["diff"]) for e in report.drifted] == [("one", {"after": "1"}), ("three", None)]
    assert report.counts["changed"] == 1


def test_a_change_without_diff_keeps_a_few_result_fields():
    report = dr.HostReport("web1")
    report.record_ok(entry("Start", action="ansible.builtin.systemd_service"),
                     changed(name="prefect-server@default.service", state="started", cmd="not kept"))
    assert report.drifted[0]["result"] == {"name": "prefect-server@default.service", "state": "started"}


def test_prefect_config_changes_and_migrations_are_recorded():
    report = dr.HostReport("web1")
    migrate = {"key": "PREFECT_SERVER_API_PORT", "action": "migrate", "from": "PREFECT_ORION_API_PORT"}
    report.record_ok(entry("Profile", action=CONFIG),
                     changed(diff={}, changes=[migrate], profile="server", path="/p.toml"))
    assert report.drifted[0]["changes"] == [migrate]
    assert report.migrated == [{"key": "PREFECT_SERVER_API_PORT", "from": "PREFECT_ORION_API_PORT",
                                "profile": "server", "path": "/p.toml", "task": "Profile"}]


def test_the_given_entry_is_not_changed():
    given_entry = entry()
    dr.HostReport("web1").record_ok(given_entry, changed(diff={}))
    assert given_entry == entry()


def test_status_counts():
    failed = dr.HostReport("db1")
    failed.record_failed(entry(), {"msg": "no"})
    reports = {"web1": drifted_report(), "web2": drifted_report("web2"), "db1": failed, "db2": dr.HostReport("db2")}
    assert dr.status_counts(reports) == {"drifted": 2, "error": 1, "in_sync": 1}


# ---------------------------------------------------------------- hidden results keep no values

@pytest.mark.parametrize("data, no_log", [
    (changed(diff={"before": SECRET}, changes=[{"key": SECRET, "action": "migrate", "from": SECRET}]), True),
    (changed(censored="the output has been hidden", _ansible_no_log=True), False),
])
def test_a_hidden_change_keeps_no_values(data, no_log):
    report = dr.HostReport("web1")
    report.record_ok(entry("Env file", action=CONFIG), data, no_log=no_log)
    assert report.drifted == [dict(entry("Env file", action=CONFIG), hidden=True, diff=dr.HIDDEN)]
    assert report.migrated == []
    assert SECRET not in dr.to_json(report.as_dict(meta()))


def test_a_hidden_loop_is_one_hidden_entry():
    report = dr.HostReport("web1")
    report.record_ok(entry("Users"), changed(results=[changed(item=SECRET, diff={"after": SECRET})]), no_log=True)
    assert report.drifted == [dict(entry("Users"), hidden=True, diff=dr.HIDDEN)]


def test_a_hidden_loop_item_is_named_by_the_note_only():
    report = dr.HostReport("web1")
    report.record_ok(entry("Users"), changed(results=[
        changed(_ansible_no_log=True, item={"name": "alice", "password": SECRET}, diff={"after": SECRET})]))
    assert report.drifted == [dict(entry("Users"), item=dr.HIDDEN, hidden=True, diff=dr.HIDDEN)]


@pytest.mark.parametrize("data, no_log", [
    ({"msg": "password is %s" % SECRET}, True),
    ({"censored": "the output has been hidden"}, False),
    ({"results": [{"failed": True, "_ansible_no_log": True, "msg": SECRET}]}, False),
])
def test_a_hidden_failure_keeps_no_message(data, no_log):
    report = dr.HostReport("web1")
    report.record_failed(entry(), data, no_log=no_log)
    assert SECRET not in dr.to_json(report.as_dict(meta()))


# ---------------------------------------------------------------- item labels

# No deadline, no speed check: a busy CI host must not fail a test of logic on its timing.
@hsettings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text().filter(lambda key: key != "name"), st.just(SECRET), min_size=1),
       st.one_of(st.none(), st.text(max_size=20)))
def test_an_item_label_never_shows_a_mappings_other_values(item, name):
    if name is not None:
        item = dict(item, name=name)
    label = dr.item_label({"item": item})
    assert label == (name if name is not None else "(item with no name)")


def test_loop_entries_never_show_a_mappings_secrets():
    report = dr.HostReport("web1")
    report.record_ok(entry("Instances"), changed(results=[
        changed(item={"name": "default", "password": SECRET}, diff={}),
        changed(item=["personal", SECRET], diff={})]))
    assert [e["item"] for e in report.drifted] == ["default", "(list item)"]
    assert SECRET not in dr.to_json(report.as_dict(meta()))


# ---------------------------------------------------------------- messages and labels

def test_error_message_is_cut_at_the_maximum_length():
    assert dr.error_message({"msg": "x" * 12}, max_length=10) == "x" * 10 + "..."


def test_error_message_of_a_loop_joins_the_failed_items():
    data = {"results": [{"failed": True, "msg": "a"}, {"failed": False, "msg": "ok"}, {"failed": True, "msg": "b"}]}
    assert dr.error_message(data) == "a; b"


@pytest.mark.parametrize("data, expected", [
    ({"reason": "Host unreachable"}, "Host unreachable"),
    ({}, "failed"),
])
def test_error_message_falls_back_to_the_reason(data, expected):
    assert dr.error_message(data) == expected


@pytest.mark.parametrize("resource, expected", [
    (dict(entry("Install"), role="selfhosted.prefect.prefect_venv"), "prefect_venv : Install"),
    (dict(entry("Files"), item="one"), "Files (item=one)"),
    (dict(entry("Env"), role="prefect_server", hidden=True), "prefect_server : Env [diff hidden by no_log]"),
])
def test_resource_label(resource, expected):
    assert dr.resource_label(resource) == expected


# ---------------------------------------------------------------- summary

def mixed_reports():
    failed = drifted_report("db1")
    failed.record_failed(entry(), {"msg": "cannot converge here\nsecond line"})
    config = dr.HostReport("web2")
    config.record_ok(entry("Profile", role="selfhosted.prefect.prefect_client", action=CONFIG), changed(
        diff={}, changes=[{"key": "PREFECT_SERVER_API_PORT", "action": "migrate", "from": "PREFECT_ORION_API_PORT"}]))
    return {"web1": dr.HostReport("web1"), "db1": failed, "web2": config}


def test_summary_lists_hosts_by_status():
    summary = dr.build_summary(mixed_reports(), meta())
    assert summary["format"] == dr.REPORT_FORMAT and summary["mode"] == "check"
    assert list(summary["hosts"]) == ["db1", "web1", "web2"]
    assert summary["drifted_hosts"] == ["db1", "web2"]
    assert summary["error_hosts"] == ["db1"]
    assert summary["hosts"]["db1"] == {
        "status": "error", "drift_count": 1, "drifted": ["Managed file"], "ephemeral": [], "migrated": [],
        "errors": ["cannot converge here\nsecond line"], "report": "db1.json"}
    assert summary["hosts"]["web2"]["migrated"] == ["PREFECT_ORION_API_PORT -> PREFECT_SERVER_API_PORT"]


def test_summary_text_lines():
    summary = dr.build_summary(mixed_reports(), dict(meta(), written="2026-11-22T02:00:04Z"))
    assert dr.summary_text(summary).splitlines() == [
        "Prefect drift report (check mode, 2026-11-22T02:00:04Z)",
        "3 host(s): 2 drifted, 1 with errors",
        "db1: 1 resource(s) drifted, 1 error(s)",
        "  - Managed file",
        "  ERROR: cannot converge here",
        "web1: in sync",
        "web2: 1 resource(s) drifted",
        "  - prefect_client : Profile",
        "  migrated: PREFECT_ORION_API_PORT -> PREFECT_SERVER_API_PORT",
    ]


def test_summary_text_of_a_converge_and_of_a_check_without_diff():
    reports = {"web1": drifted_report()}
    applied = dr.summary_text(dr.build_summary(reports, meta(check_mode=False, diff_mode=False)))
    assert applied.splitlines()[1:] == ["1 host(s): 1 changed, 0 with errors", "web1: 1 resource(s) changed",
                                        "  - Managed file"]
    checked = dr.summary_text(dr.build_summary(reports, meta(diff_mode=False)))
    assert checked.splitlines()[1] == "warning: run without --diff, so the reports hold no diffs"


def test_report_meta():
    assert dict(dr.report_meta(False, True, "t0", [None, "/site.yml"], complete=False), written=None) == {
        "format": "selfhosted.prefect.drift_report/1", "mode": "apply", "diff_mode": True, "started": "t0",
        "written": None, "complete": False, "playbooks": ["/site.yml"]}


def test_host_report_as_dict_keys():
    assert list(drifted_report().as_dict(meta())) == [
        "format", "mode", "diff_mode", "started", "written", "complete", "playbooks",
        "host", "status", "drift_count", "drifted", "ephemeral_count", "processes", "migrated", "handlers", "errors",
        "counts"]


AUDIT = "selfhosted.prefect.prefect_process_audit"


def audited(*processes):
    return {"changed": False, "processes": list(processes), "counts": {}, "ephemeral": []}


def process(name, target, role="worker", kind="unit", **extra):
    return dict(dict(kind=kind, name=name, user="prefect-worker", role=role, command="prefect worker start",
                     source="unit", resolver="prefect", target=target, api_url=None, profile="ephemeral",
                     profiles_path="/p", credentials=False, api=None, error=None), **extra)


def test_a_process_on_an_ephemeral_api_makes_the_host_drift():
    report = dr.HostReport("worker1")
    report.record_ok(entry("Audit", action=AUDIT), audited(
        process("prefect-worker@etl.service", "ephemeral"),
        process("prefect-server@default.service", "ephemeral", role="server"),
        process("alice", "hosted", role="client", kind="user", api_url="https://x/api")))
    assert report.status == "drifted" and report.drifted == [] and report.counts["changed"] == 0
    assert [p["name"] for p in report.ephemeral] == ["prefect-worker@etl.service"]  # a server runs no flows
    summary = dr.build_summary({"worker1": report, "web1": dr.HostReport("web1")}, dict(meta(), written="w"))
    assert summary["drifted_hosts"] == summary["ephemeral_hosts"] == ["worker1"]
    assert summary["hosts"]["worker1"]["ephemeral"] == ["unit prefect-worker@etl.service (user prefect-worker)"]
    assert dr.summary_text(summary).splitlines()[2:] == [
        "web1: in sync",
        "worker1: 0 resource(s) drifted, 1 process(es) on an ephemeral API",
        "  ephemeral: unit prefect-worker@etl.service (user prefect-worker) would run its flows on a throwaway "
        "local API"]
    written = report.as_dict(meta())
    assert written["ephemeral_count"] == 1 and len(written["processes"]) == 3


def test_the_audit_keeps_only_its_own_keys_and_nothing_hidden():
    report = dr.HostReport("worker1")
    report.record_ok(entry("Audit", action=AUDIT), audited(process("x.service", "hosted", secret_env="pw")))
    assert "secret_env" not in report.processes[0] and report.status == "in_sync"
    hidden = dr.HostReport("worker1")
    hidden.record_ok(entry("Audit", action=AUDIT), audited(process("x.service", "ephemeral")), no_log=True)
    assert hidden.processes == [] and hidden.status == "in_sync"


# ---------------------------------------------------------------- files

def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_reports_writes_every_file_readable_by_the_group_only(tmp_path):
    report_dir = tmp_path / "reports"
    reports = {"web1": drifted_report(), "10.0.0.5:2222": dr.HostReport("10.0.0.5:2222")}
    paths = dr.write_reports(str(report_dir), reports, meta())
    assert sorted(paths) == ["10.0.0.5_2222.json", "summary.json", "summary.txt", "web1.json"]
    assert sorted(os.listdir(report_dir)) == sorted(paths)  # no temporary file left
    assert mode_of(report_dir) & ~dr.DIR_MODE == 0  # the umask may take more away, never add
    assert {mode_of(path) for path in paths.values()} == {dr.FILE_MODE} == {0o640}
    assert json.loads((report_dir / "web1.json").read_text()) == json.loads(dr.to_json(reports["web1"].as_dict(meta())))
    summary = json.loads((report_dir / "summary.json").read_text())
    assert (report_dir / "summary.txt").read_text() == dr.summary_text(summary)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    dr.write_atomically(str(tmp_path), "summary.txt", "old\n")
    with pytest.raises(UnicodeEncodeError):
        dr.write_atomically(str(tmp_path), "summary.txt", "\udcff")
    assert os.listdir(tmp_path) == ["summary.txt"]
    assert (tmp_path / "summary.txt").read_text() == "old\n"


def own_report(**fields):
    return json.dumps(dict(format=dr.REPORT_FORMAT, **fields))


def test_rotation_moves_only_files_in_the_report_format(tmp_path):
    (tmp_path / "web1.json").write_text(own_report(host="web1"))
    (tmp_path / "summary.json").write_text(own_report())
    (tmp_path / "summary.txt").write_text("last night\n")
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "other.json").write_text(json.dumps({"format": "someone.else/1"}))
    (tmp_path / "notes.txt").write_text("mine\n")
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "older.json").write_text(own_report(host="older"))
    (previous / "kept.json").write_text("[]")

    dr.rotate_reports(str(tmp_path))

    assert sorted(os.listdir(tmp_path)) == ["broken.json", "notes.json", "notes.txt", "other.json", "previous"]
    assert sorted(os.listdir(previous)) == ["kept.json", "summary.json", "summary.txt", "web1.json"]
    assert (previous / "summary.txt").read_text() == "last night\n"


def test_rotation_keeps_a_summary_txt_without_its_summary_json(tmp_path):
    (tmp_path / "web1.json").write_text(own_report(host="web1"))
    (tmp_path / "summary.txt").write_text("someone's notes\n")
    dr.rotate_reports(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["previous", "summary.txt"]
    assert os.listdir(tmp_path / "previous") == ["web1.json"]


@pytest.mark.parametrize("files", [{}, {"notes.json": "{}"}])
def test_rotation_without_reports_makes_no_previous_directory(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    dr.rotate_reports(str(tmp_path))
    dr.rotate_reports(str(tmp_path / "missing"))
    assert sorted(os.listdir(tmp_path)) == sorted(files)
