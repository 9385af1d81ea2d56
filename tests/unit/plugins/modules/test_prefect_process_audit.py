# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_process_audit: how it tells a Prefect command and its interpreter,
and its refusals. The contexts of a real host are audited in the Molecule
scenario default (tests/test_process_audit.py)."""
from __future__ import annotations

import os

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_process_audit as audit


@pytest.mark.parametrize("words, role, command", [
    (["/opt/w/bin/prefect", "worker", "start", "--pool", "onprem"], "worker", "prefect worker start"),
    (["/opt/s/bin/prefect", "server", "start", "--host", "0.0.0.0"], "server", "prefect server start"),
    (["/opt/s/bin/python", "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--port", "1"],
     "server", "python prefect.server.api.server:create_app"),
    (["/opt/c/bin/python", "-m", "prefect", "deployment", "run", "x/y"], "client", "prefect deployment run"),
    (["/opt/c/bin/prefect", "--profile", "hosted", "flow-run", "ls"], "client", "prefect flow-run ls"),
    (["/opt/c/bin/python3", "/srv/etl/flow.py", "--token", "s3cret"], "client", "python3"),
    (["/opt/c/bin/python3", "-m", "etl.main"], "client", "python3 -m etl.main"),
])
def test_role_and_command_never_carry_an_argument_value(words, role, command):
    assert audit._role(words) == (role, command)
    assert "s3cret" not in command and "onprem" not in command


def _executable(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_interpreter_of_a_prefect_command(tmp_path):
    (tmp_path / "bin").mkdir()
    prefect = _executable(tmp_path / "bin" / "prefect", "#!/opt/venv/bin/python3\nimport prefect\n")
    assert audit.prefect_interpreter(prefect) == "/opt/venv/bin/python3"
    _executable(tmp_path / "bin" / "prefect", "#!/usr/bin/env python3\n")
    assert audit.prefect_interpreter(prefect) == str(tmp_path / "bin" / "python")
    python = _executable(tmp_path / "bin" / "python3.11", "")
    assert audit.prefect_interpreter(python) == python  # a flow script run by a Prefect venv's Python
    os.remove(prefect)
    assert audit.prefect_interpreter(python) is None  # a Python without Prefect beside it
    assert audit.prefect_interpreter("/usr/bin/rsync") is None


def test_refuses_to_run_as_another_user_than_root(run_module, run_module_as):
    run_module(audit, {"timeout": 0})  # its imports, which nobody may not read in this checkout
    result = run_module_as(65534, audit, {})[0]
    assert result["failed"] and "run it as root (become: true)" in result["msg"]


@pytest.mark.parametrize("args, message", [
    ({"timeout": 0}, "timeout must be 1 second or more, not 0"),
    ({"prefect_python": "/nonexistent/bin/python"}, "prefect_python /nonexistent/bin/python is not an executable"),
    ({"contexts": ["units", "containers"]}, "value of contexts must be one or more of: units, cron, users"),
])
def test_bad_arguments_fail_with_a_clear_message(run_module, args, message):
    result = run_module(audit, args)[0]
    assert result["failed"] and message in result["msg"]


def _auditor(prefect_python=None, interpreters=()):
    auditor = audit.Auditor.__new__(audit.Auditor)
    auditor.params = {"prefect_python": prefect_python}
    auditor.interpreters = set(interpreters)
    return auditor


def test_a_context_without_prefect_is_resolved_with_the_hosts_own(tmp_path, monkeypatch):
    venv = tmp_path / "opt" / "prefect-client" / "bin"
    venv.mkdir(parents=True)
    python = _executable(venv / "python3", "")
    _executable(venv / "prefect", "#!%s\n" % python)
    monkeypatch.setattr(audit, "HOST_PREFECT_PATHS", (str(tmp_path / "opt" / "*" / "bin" / "prefect"),))
    assert _auditor().host_prefect() == python  # a venv where the roles install one
    other = _executable(tmp_path / "python-of-a-unit", "")
    assert _auditor(interpreters=[other]).host_prefect() == other  # one a unit or cron job runs comes first
    assert _auditor("/given/python", [other]).host_prefect() == "/given/python"  # prefect_python before both
    monkeypatch.setattr(audit, "HOST_PREFECT_PATHS", (str(tmp_path / "none" / "prefect"),))
    assert _auditor().host_prefect() is None  # no Prefect on the host: the module's own resolver
