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

from ansible import context
from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.drift_report import (
    MAX_MESSAGE_LENGTH,
    HostReport,
    previous_dir,
    report_meta,
    rotate_reports,
    status_counts,
    task_entry,
    truthy,
    utc_timestamp,
    write_reports,
)

IGNORE_VAR = "selfhosted_prefect_drift_report_ignore"
REPORT_DIR_VAR = "selfhosted_prefect_drift_report_dir"


def _task_of(result):
    return getattr(result, "task", None) or result._task


def _host_of(result):
    return getattr(result, "host", None) or result._host


def _data_of(result):
    data = getattr(result, "result", None)
    return data if isinstance(data, dict) else result._result


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


def has_no_log(task):
    return getattr(task, "no_log", None) is True


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "selfhosted.prefect.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.hosts = {}
        self.playbooks = []
        self.started = utc_timestamp()
        self.recording = True
        self.cleaned = False
        self.report_dir = None
        self.max_message_length = MAX_MESSAGE_LENGTH

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
            self.hosts[name] = HostReport(name, self.max_message_length)
        return self.hosts[name]

    @staticmethod
    def _entry(result, task):
        return task_entry(
            name=getattr(result, "task_name", None) or task.get_name(),
            role=role_name(task),
            action=action_name(task),
            task_path=task.get_path() if hasattr(task, "get_path") else None,
        )

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
        self.recording = not truthy(play_vars.get(IGNORE_VAR))
        if not self.recording and isinstance(getattr(play, "vars", None), dict):
            # Plays that opt out of the report (the drift playbook's own first
            # and last plays) learn where the reports are, and so that this
            # callback is enabled: the play variable REPORT_DIR_VAR.
            play.vars[REPORT_DIR_VAR] = self.report_dir

    def v2_runner_on_ok(self, result):
        if not self.recording:
            return
        task = _task_of(result)
        self._host(result).record_ok(self._entry(result, task), _data_of(result),
                                     no_log=has_no_log(task), handler=is_handler(task))

    def v2_runner_on_skipped(self, result):
        if self.recording:
            self._host(result).record_skipped()

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not self.recording:
            return
        task = _task_of(result)
        self._host(result).record_failed(self._entry(result, task), _data_of(result),
                                         no_log=has_no_log(task), ignored=ignore_errors)

    def v2_runner_on_unreachable(self, result):
        if not self.recording:
            return
        task = _task_of(result)
        self._host(result).record_unreachable(self._entry(result, task), _data_of(result), no_log=has_no_log(task))

    def v2_playbook_on_stats(self, stats):
        self.recording = False
        paths = self._write_reports(final=True)
        if paths:
            statuses = status_counts(self.hosts)
            self._display.display(
                "drift report: %d host(s), %d drifted, %d with errors; see %s" % (
                    len(self.hosts), statuses["drifted"], statuses["error"], paths["summary.txt"]))

    # -- output ------------------------------------------------------------

    def _write_reports(self, final=False):
        if not self.report_dir:
            return {}
        meta = report_meta(self.check_mode, self.diff_mode, self.started, self.playbooks, complete=final)
        try:
            return write_reports(self.report_dir, self.hosts, meta)
        except (OSError, TypeError, ValueError) as exc:
            self._display.warning("drift report: cannot write the reports to %s: %s" % (self.report_dir, exc))
            return {}

    def _rotate_old_reports(self):
        if not self.report_dir:
            return
        try:
            rotate_reports(self.report_dir)
        except OSError as exc:
            self._display.warning("drift report: cannot move the previous reports to %s: %s" % (
                previous_dir(self.report_dir), exc))
