# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Write a drift report per host, as JSON and as a short summary
version_added: 0.1.0
description:
  - Records, per host, every task that reports C(changed). In check mode (C(--check --diff)) that
    is configuration drift, what a converge would change. In a normal run it is what the run changed.
  - For each such task the report holds the task name, its role, its action, the task file and line,
    the loop item label, and the diff exactly as the module returned it. The modules of this
    collection mask secrets in their diffs; results censored by C(no_log) are recorded as
    C(hidden=true) with no diff and no values.
  - Changes that the M(selfhosted.prefect.prefect_config) module reports as V(migrate) (an Orion-era
    or aliased setting name renamed to its Prefect 3 name) are also listed under C(migrated).
  - Failed and unreachable hosts are recorded as errors. Handlers that would run are listed apart
    and are not counted as drift.
  - Writes C(<report_dir>/<host>.json) for every host, C(<report_dir>/summary.json) and a short
    readable C(<report_dir>/summary.txt). The files are rewritten at the start of every play and at
    the end of the run, so a later play (such as the last play of the
    C(selfhosted.prefect.drift_report) playbook) can read them.
  - Plays that set the variable C(selfhosted_prefect_drift_report_ignore=true) are not recorded;
    instead the callback gives them the variable C(selfhosted_prefect_drift_report_dir), the
    absolute path of the report directory. The drift playbook uses it to check that the callback
    is enabled and to read C(summary.json) in its last play.
  - Enable it for one command with
    C(ANSIBLE_CALLBACKS_ENABLED=selfhosted.prefect.drift_report), or in C(callbacks_enabled) of
    C(ansible.cfg).
requirements:
  - Enabled with C(callbacks_enabled) or E(ANSIBLE_CALLBACKS_ENABLED).
options:
  report_dir:
    description:
      - Directory for the reports; created when missing. A relative path is taken from the
        current directory (or from the directory of the C(ansible.cfg) that sets it).
      - At the start of a run the reports of the previous run move to C(<report_dir>/previous/)
        (replacing the ones there), so the directory describes one run and the one before it.
        Only files in this callback's report format move.
    type: path
    default: ./drift-reports
    env:
      - name: SELFHOSTED_PREFECT_DRIFT_REPORT_DIR
    ini:
      - section: callback_drift_report
        key: report_dir
  max_message_length:
    description:
      - Error messages longer than this are cut in the report.
    type: int
    default: 2000
    env:
      - name: SELFHOSTED_PREFECT_DRIFT_REPORT_MAX_MESSAGE_LENGTH
    ini:
      - section: callback_drift_report
        key: max_message_length
author:
  - selfhosted.prefect developers (@selfhosted)
"""

import datetime
import json
import os
import re
import tempfile

from ansible import context
from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

REPORT_FORMAT = "selfhosted.prefect.drift_report/1"
IGNORE_VAR = "selfhosted_prefect_drift_report_ignore"
REPORT_DIR_VAR = "selfhosted_prefect_drift_report_dir"
HIDDEN = "hidden: no_log is set for this result"
CONFIG_ACTIONS = frozenset(("selfhosted.prefect.prefect_config", "prefect_config"))
# Result keys worth keeping when a changed task returned no diff (a service
# started, a package installed): short, and never the task's arguments.
SUMMARY_KEYS = ("msg", "name", "path", "dest", "state", "enabled", "mode", "owner", "group")
UNIT_STATUS_KEYS = ("ActiveState", "SubState", "UnitFileState")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _task_of(result):
    return getattr(result, "task", None) or result._task


def _host_of(result):
    return getattr(result, "host", None) or result._host


def _data_of(result):
    data = getattr(result, "result", None)
    return data if isinstance(data, dict) else result._result


def _truthy(value):
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "1"))


def is_hidden(data, task=None):
    """True when no_log censored (or should have censored) this result."""
    if not isinstance(data, dict):
        return False
    if "censored" in data or _truthy(data.get("_ansible_no_log")):
        return True
    return task is not None and getattr(task, "no_log", None) is True


def safe_file_name(host):
    """A host name as a file name: anything but letters, digits, '.', '_' and '-' becomes '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", host) or "_"
    return "_" + name if name.startswith(".") else name


def role_name(task):
    role = getattr(task, "_role", None)
    if role is None:
        return None
    try:
        return role.get_name()
    except Exception:  # pragma: no cover - defensive, the name is informative only
        return str(role)


def action_name(task):
    return getattr(task, "resolved_action", None) or getattr(task, "action", None)


def is_handler(task):
    return isinstance(task, Handler)


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


class HostReport:
    """What happened on one host during the run."""

    def __init__(self, host):
        self.host = host
        self.drifted = []
        self.handlers = []
        self.migrated = []
        self.errors = []
        self.counts = {"ok": 0, "changed": 0, "skipped": 0, "failed": 0, "unreachable": 0}

    @property
    def status(self):
        if any(not error.get("ignored") for error in self.errors):
            return "error"
        return "drifted" if self.drifted else "in_sync"

    def as_dict(self, meta):
        return dict(
            meta,
            host=self.host,
            status=self.status,
            drift_count=len(self.drifted),
            drifted=self.drifted,
            migrated=self.migrated,
            handlers=self.handlers,
            errors=self.errors,
            counts=self.counts,
        )


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "selfhosted.prefect.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.hosts = {}
        self.playbooks = []
        self.started = _now()
        self.recording = True
        self.cleaned = False
        self.report_dir = None
        self.max_message_length = 2000

    # -- configuration -----------------------------------------------------

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.report_dir = self.get_option("report_dir")
        self.max_message_length = self.get_option("max_message_length")

    @property
    def check_mode(self):
        return bool(context.CLIARGS.get("check", False))

    @property
    def diff_mode(self):
        return bool(context.CLIARGS.get("diff", False))

    # -- recording ---------------------------------------------------------

    def _host(self, result):
        name = _host_of(result).get_name()
        if name not in self.hosts:
            self.hosts[name] = HostReport(name)
        return self.hosts[name]

    def _entry(self, result, data, task):
        entry = {
            "task": getattr(result, "task_name", None) or task.get_name(),
            "role": role_name(task),
            "action": action_name(task),
            "task_path": task.get_path() if hasattr(task, "get_path") else None,
        }
        return entry

    def _record_changed(self, report, entry, data, task, item=None):
        if item is not None:
            entry = dict(entry, item=item)
        if is_hidden(data, task):
            entry.update(hidden=True, diff=HIDDEN)
        else:
            entry.update(hidden=False, diff=data.get("diff"))
            if not data.get("diff"):
                entry["result"] = result_summary(data)
            if entry["action"] in CONFIG_ACTIONS:
                if data.get("changes"):
                    entry["changes"] = data["changes"]
                report.migrated.extend(migrations(data, entry["task"]))
        (report.handlers if is_handler(task) else report.drifted).append(entry)

    def v2_playbook_on_start(self, playbook):
        self.playbooks.append(getattr(playbook, "_file_name", None))
        if not self.cleaned:
            self.cleaned = True
            self._rotate_old_reports()

    def v2_playbook_on_play_start(self, play):
        self._write_reports()
        try:
            play_vars = play.get_vars() or {}
        except Exception:  # pragma: no cover - defensive
            play_vars = {}
        self.recording = not _truthy(play_vars.get(IGNORE_VAR))
        if not self.recording and isinstance(getattr(play, "vars", None), dict):
            # Plays that opt out of the report (the drift playbook's own first
            # and last plays) learn where the reports are, and so that this
            # callback is enabled: the play variable REPORT_DIR_VAR.
            play.vars[REPORT_DIR_VAR] = self.report_dir

    def v2_runner_on_ok(self, result):
        if not self.recording:
            return
        report, data, task = self._host(result), _data_of(result), _task_of(result)
        report.counts["ok"] += 1
        if not data.get("changed"):
            return
        report.counts["changed"] += 1
        entry = self._entry(result, data, task)
        loop_results = data.get("results") if isinstance(data.get("results"), list) else None
        if loop_results and not is_hidden(data, task):
            for item in loop_results:
                if isinstance(item, dict) and item.get("changed"):
                    label = HIDDEN if is_hidden(item) else item_label(item)
                    self._record_changed(report, entry, item, task, item=label)
        else:
            self._record_changed(report, entry, data, task)

    def v2_runner_on_skipped(self, result):
        if self.recording:
            self._host(result).counts["skipped"] += 1

    def _message(self, data, task):
        if is_hidden(data, task):
            return HIDDEN
        msg = data.get("msg")
        if not msg and isinstance(data.get("results"), list):
            msgs = [item.get("msg") for item in data["results"]
                    if isinstance(item, dict) and item.get("failed") and item.get("msg") and not is_hidden(item)]
            msg = "; ".join(str(m) for m in msgs)
        msg = str(msg or data.get("reason") or "failed")
        if len(msg) > self.max_message_length:
            msg = msg[:self.max_message_length] + "..."
        return msg

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not self.recording:
            return
        report, data, task = self._host(result), _data_of(result), _task_of(result)
        entry = self._entry(result, data, task)
        entry.update(kind="failed", msg=self._message(data, task), ignored=bool(ignore_errors))
        if not ignore_errors:
            report.counts["failed"] += 1
        report.errors.append(entry)

    def v2_runner_on_unreachable(self, result):
        if not self.recording:
            return
        report, data, task = self._host(result), _data_of(result), _task_of(result)
        report.counts["unreachable"] += 1
        entry = self._entry(result, data, task)
        entry.update(kind="unreachable", msg=self._message(data, task), ignored=False)
        report.errors.append(entry)

    def v2_playbook_on_stats(self, stats):
        self.recording = False
        paths = self._write_reports(final=True)
        if paths:
            drifted = sum(1 for report in self.hosts.values() if report.status == "drifted")
            errors = sum(1 for report in self.hosts.values() if report.status == "error")
            self._display.display(
                "drift report: %d host(s), %d drifted, %d with errors; see %s" % (
                    len(self.hosts), drifted, errors, paths["summary.txt"]))

    # -- output ------------------------------------------------------------

    def _meta(self, final):
        return {
            "format": REPORT_FORMAT,
            "mode": "check" if self.check_mode else "apply",
            "diff_mode": self.diff_mode,
            "started": self.started,
            "written": _now(),
            "complete": final,
            "playbooks": [p for p in self.playbooks if p],
        }

    def summary(self, final=False):
        hosts = {name: {"status": report.status,
                        "drift_count": len(report.drifted),
                        "drifted": [resource_label(entry) for entry in report.drifted],
                        "migrated": ["%s -> %s" % (m["from"], m["key"]) for m in report.migrated],
                        "errors": [entry["msg"] for entry in report.errors if not entry.get("ignored")],
                        "report": safe_file_name(name) + ".json"}
                 for name, report in sorted(self.hosts.items())}
        return dict(
            self._meta(final),
            drifted_hosts=[name for name, host in hosts.items() if host["drift_count"]],
            error_hosts=[name for name, host in hosts.items() if host["status"] == "error"],
            hosts=hosts,
        )

    def summary_text(self, summary):
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
            if host["errors"]:
                head += ", %d error(s)" % len(host["errors"])
            lines.append(head)
            lines.extend("  - %s" % task for task in host["drifted"])
            lines.extend("  migrated: %s" % change for change in host["migrated"])
            lines.extend("  ERROR: %s" % msg.splitlines()[0][:200] if msg else "  ERROR" for msg in host["errors"])
        return "\n".join(lines) + "\n"

    def _write(self, name, text):
        handle, tmp = tempfile.mkstemp(dir=self.report_dir, prefix=".%s." % name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.chmod(tmp, 0o640)
            os.replace(tmp, os.path.join(self.report_dir, name))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return os.path.join(self.report_dir, name)

    @staticmethod
    def _dumps(data):
        return json.dumps(data, cls=AnsibleJSONEncoder, indent=2, sort_keys=False) + "\n"

    def _write_reports(self, final=False):
        if not self.report_dir:
            return {}
        try:
            os.makedirs(self.report_dir, mode=0o750, exist_ok=True)
            paths = {}
            meta = self._meta(final)
            for name, report in self.hosts.items():
                file_name = safe_file_name(name) + ".json"
                paths[file_name] = self._write(file_name, self._dumps(report.as_dict(meta)))
            summary = self.summary(final)
            paths["summary.json"] = self._write("summary.json", self._dumps(summary))
            paths["summary.txt"] = self._write("summary.txt", self.summary_text(summary))
            return paths
        except (OSError, TypeError, ValueError) as exc:
            self._display.warning("drift report: cannot write the reports to %s: %s" % (self.report_dir, exc))
            return {}

    def _rotate_old_reports(self):
        """Move the reports of the previous run into <report_dir>/previous/ (replacing older ones).

        Only files this callback wrote move: JSON files in its report format,
        and summary.txt next to such a summary.json.
        """
        if not self.report_dir or not os.path.isdir(self.report_dir):
            return
        previous = os.path.join(self.report_dir, "previous")
        ours = self._own_files(self.report_dir)
        if not ours:
            return
        try:
            os.makedirs(previous, mode=0o750, exist_ok=True)
            for name in self._own_files(previous):
                os.unlink(os.path.join(previous, name))
            for name in ours:
                os.replace(os.path.join(self.report_dir, name), os.path.join(previous, name))
        except OSError as exc:
            self._display.warning("drift report: cannot move the previous reports to %s: %s" % (previous, exc))

    @staticmethod
    def _own_files(directory):
        names = []
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if not name.endswith(".json") or not os.path.isfile(path):
                continue
            try:
                with open(path, encoding="utf-8") as stream:
                    old = json.load(stream)
            except (OSError, ValueError):
                continue
            if isinstance(old, dict) and old.get("format") == REPORT_FORMAT:
                names.append(name)
        if "summary.json" in names and os.path.isfile(os.path.join(directory, "summary.txt")):
            names.append("summary.txt")
        return names
