# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report without Ansible's objects: what a host's report holds, how
the reports render as JSON and text, and how their files are written and
rotated. The drift_report callback feeds it result dicts and names."""
from __future__ import annotations

import collections
import datetime
import json
import os
import re
import tempfile

from ansible.parsing.ajson import AnsibleJSONEncoder

REPORT_FORMAT = "selfhosted.prefect.drift_report/1"
HIDDEN = "hidden: no_log is set for this result"
MAX_MESSAGE_LENGTH = 2000
CONFIG_ACTIONS = frozenset(("selfhosted.prefect.prefect_config", "prefect_config"))
AUDIT_ACTIONS = frozenset(("selfhosted.prefect.prefect_process_audit", "prefect_process_audit"))
# What the report keeps of each audited process (prefect_process_audit's keys).
PROCESS_KEYS = ("kind", "name", "user", "role", "command", "source", "resolver", "target", "api_url", "profile",
                "profiles_path", "credentials", "api", "error")
# Result keys worth keeping when a changed task returned no diff (a service
# started, a package installed): short, and never the task's arguments.
SUMMARY_KEYS = ("msg", "name", "path", "dest", "state", "enabled", "mode", "owner", "group")
UNIT_STATUS_KEYS = ("ActiveState", "SubState", "UnitFileState")
# Reports describe the hosts' configuration: readable by the operations group only.
FILE_MODE = 0o640
DIR_MODE = 0o750


def utc_timestamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def truthy(value):
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "1"))


# -- the model ---------------------------------------------------------------

def is_hidden(data, no_log=False):
    """True when no_log censored (or should have censored) this result."""
    if not isinstance(data, dict):
        return False
    return "censored" in data or truthy(data.get("_ansible_no_log")) or no_log


def safe_file_name(host):
    """A host name as a file name: anything but letters, digits, '.', '_' and '-' becomes '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", host) or "_"
    return "_" + name if name.startswith(".") else name


def report_file_name(host):
    return safe_file_name(host) + ".json"


def item_label(data):
    """The loop item's label; a structured item (which may hold secrets) only by its name."""
    if "_ansible_item_label" in data:
        label = data["_ansible_item_label"]
    else:
        label = data.get(data.get("ansible_loop_var", "item"))
    if isinstance(label, dict):
        label = label.get("name", "(item with no name)")
    elif isinstance(label, (list, tuple)):
        label = "(list item)"
    return label


def result_summary(data):
    """The few informative result keys of a changed task that returned no diff.

    For a systemd unit, its state before the task (active, enabled) comes from
    the module's status mapping.
    """
    summary = {key: data[key] for key in SUMMARY_KEYS if key in data and not isinstance(data[key], (dict, list))}
    status = data.get("status")
    if isinstance(status, dict):
        summary.update((key, status[key]) for key in UNIT_STATUS_KEYS if key in status)
    return summary


def migrations(data, task_name):
    """prefect_config's migrate changes in this result."""
    found = []
    for change in data.get("changes") or []:
        if isinstance(change, dict) and change.get("action") == "migrate":
            found.append({
                "key": change.get("key"),
                "from": change.get("from"),
                "profile": data.get("profile"),
                "path": data.get("path"),
                "task": task_name,
            })
    return found


def resource_label(entry):
    """One line naming a drifted resource: the task, its loop item, whether it is hidden."""
    label = entry["task"]
    if entry.get("role"):
        label = "%s : %s" % (entry["role"].rsplit(".", 1)[-1], label)
    if entry.get("item") is not None:
        label += " (item=%s)" % (entry["item"],)
    if entry.get("hidden"):
        label += " [diff hidden by no_log]"
    return label


def task_entry(name, role, action, task_path):
    """What every entry of a report says about its task; never the task's arguments."""
    return {"task": name, "role": role, "action": action, "task_path": task_path}


def _failed_item_messages(results):
    return "; ".join(str(item["msg"]) for item in results
                     if isinstance(item, dict) and item.get("failed") and item.get("msg") and not is_hidden(item))


def error_message(data, no_log=False, max_length=MAX_MESSAGE_LENGTH):
    """A failed or unreachable result's message, cut at max_length; only a note when it is hidden."""
    if is_hidden(data, no_log):
        return HIDDEN
    msg = data.get("msg")
    if not msg and isinstance(data.get("results"), list):
        msg = _failed_item_messages(data["results"])
    msg = str(msg or data.get("reason") or "failed")
    if len(msg) > max_length:
        msg = msg[:max_length] + "..."
    return msg


class HostReport:
    """What happened on one host during the run."""

    def __init__(self, host, max_message_length=MAX_MESSAGE_LENGTH):
        self.host = host
        self.max_message_length = max_message_length
        self.processes = []
        self.drifted = []
        self.handlers = []
        self.migrated = []
        self.errors = []
        self.counts = {"ok": 0, "changed": 0, "skipped": 0, "failed": 0, "unreachable": 0}

    @property
    def status(self):
        if any(not error.get("ignored") for error in self.errors):
            return "error"
        return "drifted" if self.drifted or self.ephemeral else "in_sync"

    @property
    def ephemeral(self):
        """The audited processes, servers aside, whose flow runs would go to an ephemeral API."""
        return [process for process in self.processes
                if process.get("target") == "ephemeral" and process.get("role") != "server"]

    def record_ok(self, entry, data, no_log=False, handler=False):
        """Count a result; a changed one is drift (or a handler that would run), each changed loop item apart.
        The process audit's answer is kept whole: it holds no setting's value."""
        self.counts["ok"] += 1
        if entry["action"] in AUDIT_ACTIONS and not is_hidden(data, no_log):
            self.processes = [{key: process.get(key) for key in PROCESS_KEYS}
                              for process in data.get("processes") or [] if isinstance(process, dict)]
        if not data.get("changed"):
            return
        self.counts["changed"] += 1
        loop_results = data.get("results") if isinstance(data.get("results"), list) else None
        if loop_results and not is_hidden(data, no_log):
            for item in loop_results:
                if isinstance(item, dict) and item.get("changed"):
                    label = HIDDEN if is_hidden(item) else item_label(item)
                    self._record_changed(entry, item, no_log, handler, item=label)
        else:
            self._record_changed(entry, data, no_log, handler)

    def _record_changed(self, entry, data, no_log, handler, item=None):
        entry = dict(entry) if item is None else dict(entry, item=item)
        if is_hidden(data, no_log):
            entry.update(hidden=True, diff=HIDDEN)
        else:
            entry.update(hidden=False, diff=data.get("diff"))
            if not data.get("diff"):
                entry["result"] = result_summary(data)
            if entry["action"] in CONFIG_ACTIONS:
                if data.get("changes"):
                    entry["changes"] = data["changes"]
                self.migrated.extend(migrations(data, entry["task"]))
        (self.handlers if handler else self.drifted).append(entry)

    def record_skipped(self):
        self.counts["skipped"] += 1

    def record_failed(self, entry, data, no_log=False, ignored=False):
        """A failed task; one the play ignores is listed but does not make the host an error."""
        if not ignored:
            self.counts["failed"] += 1
        self._record_error(entry, data, no_log, kind="failed", ignored=bool(ignored))

    def record_unreachable(self, entry, data, no_log=False):
        self.counts["unreachable"] += 1
        self._record_error(entry, data, no_log, kind="unreachable", ignored=False)

    def _record_error(self, entry, data, no_log, kind, ignored):
        msg = error_message(data, no_log, self.max_message_length)
        self.errors.append(dict(entry, kind=kind, msg=msg, ignored=ignored))

    def as_dict(self, meta):
        return dict(
            meta,
            host=self.host,
            status=self.status,
            drift_count=len(self.drifted),
            drifted=self.drifted,
            ephemeral_count=len(self.ephemeral),
            processes=self.processes,
            migrated=self.migrated,
            handlers=self.handlers,
            errors=self.errors,
            counts=self.counts,
        )


def status_counts(reports):
    """How many hosts are in each status, from {host name: HostReport}."""
    return collections.Counter(report.status for report in reports.values())


# -- rendering ---------------------------------------------------------------

def report_meta(check_mode, diff_mode, started, playbooks, complete):
    """The keys every report file starts with."""
    return {
        "format": REPORT_FORMAT,
        "mode": "check" if check_mode else "apply",
        "diff_mode": diff_mode,
        "started": started,
        "written": utc_timestamp(),
        "complete": complete,
        "playbooks": [playbook for playbook in playbooks if playbook],
    }


def _host_summary(name, report):
    return {
        "status": report.status,
        "drift_count": len(report.drifted),
        "drifted": [resource_label(entry) for entry in report.drifted],
        "ephemeral": ["%s %s (user %s)" % (process.get("kind"), process.get("name"), process.get("user"))
                      for process in report.ephemeral],
        "migrated": ["%s -> %s" % (change["from"], change["key"]) for change in report.migrated],
        "errors": [entry["msg"] for entry in report.errors if not entry.get("ignored")],
        "report": report_file_name(name),
    }


def build_summary(reports, meta):
    """summary.json: every host's status and drifted resources, from {host name: HostReport}."""
    hosts = {name: _host_summary(name, report) for name, report in sorted(reports.items())}
    return dict(
        meta,
        drifted_hosts=[name for name, host in hosts.items() if host["drift_count"] or host["ephemeral"]],
        ephemeral_hosts=[name for name, host in hosts.items() if host["ephemeral"]],
        error_hosts=[name for name, host in hosts.items() if host["status"] == "error"],
        hosts=hosts,
    )


def summary_text(summary):
    """summary.txt, from build_summary's dict: one line per host in sync, a block per other host."""
    verb = "drifted" if summary["mode"] == "check" else "changed"
    lines = ["Prefect drift report (%s mode, %s)" % (summary["mode"], summary["written"])]
    if summary["mode"] == "check" and not summary["diff_mode"]:
        lines.append("warning: run without --diff, so the reports hold no diffs")
    lines.append("%d host(s): %d %s, %d with errors" % (
        len(summary["hosts"]), len(summary["drifted_hosts"]), verb, len(summary["error_hosts"])))
    for name, host in summary["hosts"].items():
        if host["status"] == "in_sync":
            lines.append("%s: in sync" % name)
            continue
        head = "%s: %d resource(s) %s" % (name, host["drift_count"], verb)
        if host["ephemeral"]:
            head += ", %d process(es) on an ephemeral API" % len(host["ephemeral"])
        if host["errors"]:
            head += ", %d error(s)" % len(host["errors"])
        lines.append(head)
        lines.extend("  - %s" % task for task in host["drifted"])
        lines.extend("  ephemeral: %s would run its flows on a throwaway local API" % process
                     for process in host["ephemeral"])
        lines.extend("  migrated: %s" % change for change in host["migrated"])
        lines.extend("  ERROR: %s" % msg.splitlines()[0][:200] if msg else "  ERROR" for msg in host["errors"])
    return "\n".join(lines) + "\n"


def to_json(data):
    return json.dumps(data, cls=AnsibleJSONEncoder, indent=2, sort_keys=False) + "\n"


# -- report files ------------------------------------------------------------

def write_atomically(directory, name, text):
    """Write directory/name through a temporary file, so that a reader never sees half a report."""
    path = os.path.join(directory, name)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_reports(report_dir, reports, meta):
    """Every host's report, summary.json and summary.txt; returns their paths by file name."""
    os.makedirs(report_dir, mode=DIR_MODE, exist_ok=True)
    paths = {}
    for name, report in reports.items():
        file_name = report_file_name(name)
        paths[file_name] = write_atomically(report_dir, file_name, to_json(report.as_dict(meta)))
    summary = build_summary(reports, meta)
    paths["summary.json"] = write_atomically(report_dir, "summary.json", to_json(summary))
    paths["summary.txt"] = write_atomically(report_dir, "summary.txt", summary_text(summary))
    return paths


def previous_dir(report_dir):
    return os.path.join(report_dir, "previous")


def _is_report_file(path):
    if not path.endswith(".json") or not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == REPORT_FORMAT


def own_report_files(directory):
    """Names of the files in directory that these reports wrote: JSON files in the
    report format, and summary.txt next to such a summary.json."""
    names = [name for name in sorted(os.listdir(directory)) if _is_report_file(os.path.join(directory, name))]
    if "summary.json" in names and os.path.isfile(os.path.join(directory, "summary.txt")):
        names.append("summary.txt")
    return names


def rotate_reports(report_dir):
    """Move the reports of the previous run into previous/ (replacing the ones there).

    Only the reports' own files move: other files a user keeps there stay.
    """
    if not os.path.isdir(report_dir):
        return
    ours = own_report_files(report_dir)
    if not ours:
        return
    previous = previous_dir(report_dir)
    os.makedirs(previous, mode=DIR_MODE, exist_ok=True)
    for name in own_report_files(previous):
        os.unlink(os.path.join(previous, name))
    for name in ours:
        os.replace(os.path.join(report_dir, name), os.path.join(previous, name))
