# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How process_audit reads the contexts that start Prefect: systemd's view of
a unit, environment files, crontabs, shell command lines, and the module's
own resolver of Prefect's settings (cross-checked against Prefect's loader in
tests/integration/test_process_audit_resolver.py)."""
from __future__ import annotations

import os
import pwd
import tomllib

import pytest
from hypothesis import given, strategies as st

from ansible_collections.selfhosted.prefect.plugins.filter.systemd_environment import systemd_environment
from ansible_collections.selfhosted.prefect.plugins.module_utils import process_audit as pa

ROOT = pwd.struct_passwd(("root", "x", 0, 0, "root", "/root", "/bin/bash"))
WORKER = pwd.struct_passwd(("prefect-worker", "x", 998, 998, "", "/var/lib/prefect-worker", "/usr/sbin/nologin"))
ALICE = pwd.struct_passwd(("alice", "x", 1000, 1000, "", "/home/alice", "/bin/bash"))


def _prefect_only(words, env):
    return os.path.basename(words[0]) == "prefect"


# -- systemd ----------------------------------------------------------------

SHOW = """Id=prefect-worker@onprem.service
LoadState=loaded
ActiveState=inactive
MainPID=0
User=prefect-worker
WorkingDirectory=/var/lib/prefect-worker
ExecStart={ path=/opt/prefect-worker/bin/prefect ; argv[]=/opt/prefect-worker/bin/prefect worker start --pool "on prem" ; \
ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
Environment=PREFECT_HOME=/var/lib/prefect-worker/.prefect "GREETING=hello world"
EnvironmentFiles=/etc/prefect-worker/onprem.env (ignore_errors=no)
UnsetEnvironment=

Id=cron.service
LoadState=loaded
ActiveState=active
MainPID=42
"""


def test_systemctl_show_of_several_units():
    units = pa.parse_systemctl_show(SHOW)
    assert [unit["Id"] for unit in units] == ["prefect-worker@onprem.service", "cron.service"]
    assert units[1] == {"Id": "cron.service", "LoadState": "loaded", "ActiveState": "active", "MainPID": "42"}


def test_a_property_shown_on_several_lines_keeps_every_line():
    shown = ("Id=prefect-worker@etl.service\nEnvironmentFiles=/etc/prefect-worker/api.env (ignore_errors=no)\n"
             "EnvironmentFiles=/etc/prefect-worker/etl.env (ignore_errors=no)\n")
    unit = pa.parse_systemctl_show(shown)[0]
    assert pa.environment_files(unit["EnvironmentFiles"]) == [
        ("/etc/prefect-worker/api.env", False), ("/etc/prefect-worker/etl.env", False)]


def test_exec_start_command_lines_keep_quoted_words():
    unit = pa.parse_systemctl_show(SHOW)[0]
    assert pa.exec_argvs(unit["ExecStart"]) == [
        ["/opt/prefect-worker/bin/prefect", "worker", "start", "--pool", "on prem"]]
    assert pa.exec_argvs("") == []


def test_environment_and_environment_files_of_a_unit():
    unit = pa.parse_systemctl_show(SHOW)[0]
    assert pa.environment_assignments(unit["Environment"]) == {
        "PREFECT_HOME": "/var/lib/prefect-worker/.prefect", "GREETING": "hello world"}
    assert pa.environment_files(unit["EnvironmentFiles"]) == [("/etc/prefect-worker/onprem.env", False)]
    assert pa.environment_files("/a (ignore_errors=yes) /b (ignore_errors=no)") == [("/a", True), ("/b", False)]


def test_unit_environment_in_systemd_order():
    show = {
        "User": "prefect-worker",
        "Environment": "PREFECT_API_URL=http://from-environment/api KEEP=1 DROP=1",
        "EnvironmentFiles": "/file (ignore_errors=no) /optional (ignore_errors=yes)",
        "UnsetEnvironment": "DROP KEEP=other",
    }
    files = {"/file": 'PREFECT_API_URL="https://from-file/api"\n'}

    def read(path):
        if path not in files:
            raise OSError(path)
        return files[path]

    env = pa.unit_environment(show, read, WORKER)
    assert env["PREFECT_API_URL"] == "https://from-file/api"  # a file comes after Environment=
    assert "DROP" not in env and env["KEEP"] == "1"  # NAME=value unsets only that value
    assert env["HOME"] == "/var/lib/prefect-worker" and env["USER"] == "prefect-worker"
    assert env["PATH"] == pa.SYSTEMD_PATH


def test_unit_environment_refuses_a_missing_required_file():
    def read(path):
        raise OSError(path)

    with pytest.raises(pa.AuditError, match="cannot read its EnvironmentFile /gone"):
        pa.unit_environment({"EnvironmentFiles": "/gone (ignore_errors=no)"}, read, ROOT)


def test_environment_file_syntax():
    text = ("# comment\n; also a comment\n\nA=plain value  \nB='single $quoted'\nC=\"dq \\\"x\\\" \\\\ \\$y\"\n"
            "export D=exported\nE=one \\\ntwo\nnot a line\n9BAD=1\n")
    assert pa.parse_environment_file(text) == {
        "A": "plain value", "B": "single $quoted", "C": 'dq "x" \\ $y', "D": "exported", "E": "one two"}


@given(st.dictionaries(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), max_size=40),
    max_size=6))
def test_environment_files_the_collection_writes_read_back_exactly(variables):
    assert pa.parse_environment_file(systemd_environment(variables) + "\n") == variables


# -- cron -------------------------------------------------------------------

CRONTAB = """SHELL=/bin/bash
PREFECT_API_URL = "https://prefect.example.org/api"
# m h dom mon dow user command
*/5 * * * * etl cd /srv/etl && /opt/etl/bin/prefect deployment run x/y
@reboot root /usr/local/bin/start-thing % with stdin
0 2 * * * root echo 50\\% done
MAILTO=ops
broken line
"""


def test_system_crontab_jobs_with_their_assignments():
    jobs = pa.parse_crontab(CRONTAB)
    assert [(job["line"], job["user"], job["command"]) for job in jobs] == [
        (4, "etl", "cd /srv/etl && /opt/etl/bin/prefect deployment run x/y"),
        (5, "root", "/usr/local/bin/start-thing"),
        (6, "root", "echo 50% done"),
    ]
    assert jobs[0]["env"] == {"SHELL": "/bin/bash", "PREFECT_API_URL": "https://prefect.example.org/api"}


def test_user_crontab_has_no_user_field():
    jobs = pa.parse_crontab("30 1 * * 1-5 prefect flow-run ls\n", user="alice")
    assert jobs == [dict(line=1, user="alice", command="prefect flow-run ls", env={})]


def test_cron_environment_starts_as_debian_cron_does():
    job = dict(env={"PATH": "/opt/etl/bin:/usr/bin:/bin"})
    env = pa.cron_environment(job, ALICE, {"LANG": "C.UTF-8"})
    assert env == {"LANG": "C.UTF-8", "SHELL": "/bin/sh", "PATH": "/opt/etl/bin:/usr/bin:/bin",
                   "HOME": "/home/alice", "LOGNAME": "alice", "USER": "alice"}


# -- command lines -------------------------------------------------------------

@pytest.mark.parametrize("script, words, env, cwd", [
    ("prefect flow-run ls", ["prefect", "flow-run", "ls"], {"HOME": "/h"}, "/h"),
    ("cd /srv/etl && prefect deploy", ["prefect", "deploy"], {"HOME": "/h"}, "/srv/etl"),
    ("cd sub; cd ..; cd etl && prefect deploy", ["prefect", "deploy"], {"HOME": "/h"}, "/h/etl"),
    ("export PREFECT_API_URL=http://x/api; prefect version", ["prefect", "version"],
     {"HOME": "/h", "PREFECT_API_URL": "http://x/api"}, "/h"),
    ("unset HOME && prefect version", ["prefect", "version"], {}, "/h"),
    ("PREFECT_PROFILE=p prefect version", ["prefect", "version"], {"HOME": "/h", "PREFECT_PROFILE": "p"}, "/h"),
    ("env -u HOME A=1 prefect version", ["prefect", "version"], {"A": "1"}, "/h"),
    ("env -i prefect version", ["prefect", "version"], {}, "/h"),
    ("sh -c 'cd /srv && prefect deploy' 2>&1 | logger", ["prefect", "deploy"], {"HOME": "/h"}, "/srv"),
    ("echo hi; prefect version || true", ["prefect", "version"], {"HOME": "/h"}, "/h"),
])
def test_following_a_shell_command_to_prefect(script, words, env, cwd):
    assert pa.follow_shell(script, {"HOME": "/h"}, "/h", _prefect_only) == (words, env, cwd)


@pytest.mark.parametrize("script", ["echo prefect", "run-parts /etc/cron.daily", "'unclosed", "", "A=1"])
def test_commands_that_run_no_prefect(script):
    assert pa.follow_shell(script, {"HOME": "/h"}, "/h", _prefect_only) is None


def test_assignment_before_a_command_stays_with_it():
    found = pa.follow_shell("A=1 true; prefect version", {}, "/", _prefect_only)
    assert found == (["prefect", "version"], {}, "/")


@given(st.text(max_size=80))
def test_any_command_line_is_followed_or_refused_without_an_error(script):
    found = pa.follow_shell(script, {"HOME": "/h"}, "/h", _prefect_only)
    assert found is None or os.path.basename(found[0][0]) == "prefect"


def test_which_looks_along_path():
    executables = {"/opt/a/bin/prefect", "/usr/bin/prefect"}
    assert pa.which("prefect", "/usr/local/bin:/opt/a/bin:/usr/bin", executables.__contains__) == "/opt/a/bin/prefect"
    assert pa.which("prefect", "/usr/local/bin", executables.__contains__) is None
    assert pa.which("/x/prefect", "", executables.__contains__) == "/x/prefect"


def test_profile_given_on_prefect_command_line():
    assert pa.prefect_profile_argument(["/o/bin/prefect", "--profile", "hosted", "version"]) == "hosted"
    assert pa.prefect_profile_argument(["/o/bin/prefect", "version", "--profile", "x"]) is None


# -- users ------------------------------------------------------------------------

def test_which_users_count_as_running_prefect():
    assert pa.audited_user(True, {}, None) == "has a Prefect home"
    assert pa.audited_user(False, {"PREFECT_API_URL": "x"}, None) == "sets PREFECT_ variables at login"
    assert pa.audited_user(False, {}, "/usr/local/bin/prefect") == "finds prefect on the login PATH"
    assert pa.audited_user(False, {"PATH": "/bin"}, None) is None


# -- the module's own resolver ------------------------------------------------------

def _resolve(env, files, cwd="/work"):
    return pa.resolve_settings(env, cwd, files.get, tomllib.loads)


PROFILES = '''active = "hosted"
[profiles.hosted]
PREFECT_API_URL = "https://profile/api"
PREFECT_API_AUTH_STRING = "admin:pw"
[profiles.bare]
PREFECT_SERVER_EPHEMERAL_ENABLED = "false"
'''


def test_resolver_reads_the_active_profile():
    found = _resolve({"HOME": "/h"}, {"/h/.prefect/profiles.toml": PROFILES})
    assert found == dict(api_url="https://profile/api", ephemeral_enabled=False, credentials=True,
                         profile="hosted", profiles_path="/h/.prefect/profiles.toml")


def test_resolver_without_a_profiles_file_uses_prefects_ephemeral_profile():
    found = _resolve({"HOME": "/h"}, {})
    assert (found["api_url"], found["ephemeral_enabled"], found["profile"]) == (None, True, "ephemeral")
    assert pa.target_of(found["api_url"], found["ephemeral_enabled"]) == "ephemeral"


def test_resolver_profile_chosen_by_environment_and_its_path_by_prefect_home():
    found = _resolve({"PREFECT_HOME": "/srv/p", "PREFECT_PROFILE": "bare"}, {"/srv/p/profiles.toml": PROFILES})
    assert (found["profile"], found["api_url"], found["ephemeral_enabled"]) == ("bare", None, False)
    assert pa.target_of(found["api_url"], found["ephemeral_enabled"]) == "refused"


def test_resolver_precedence_environment_dotenv_prefect_toml_pyproject_profile():
    files = {"/h/.prefect/profiles.toml": PROFILES,
             "/work/pyproject.toml": '[tool.prefect.api]\nurl = "https://pyproject/api"\n',
             "/work/prefect.toml": '[api]\nurl = "https://prefect-toml/api"\n',
             "/work/.env": "PREFECT_API_URL=https://dotenv/api\n"}
    env = {"HOME": "/h", "PREFECT_API_URL": "https://env/api"}
    assert _resolve(env, files)["api_url"] == "https://env/api"
    assert _resolve({"HOME": "/h"}, files)["api_url"] == "https://dotenv/api"
    del files["/work/.env"]
    assert _resolve({"HOME": "/h"}, files)["api_url"] == "https://prefect-toml/api"
    del files["/work/prefect.toml"]
    assert _resolve({"HOME": "/h"}, files)["api_url"] == "https://pyproject/api"
    del files["/work/pyproject.toml"]
    assert _resolve({"HOME": "/h"}, files)["api_url"] == "https://profile/api"


def test_resolver_profiles_path_from_prefect_toml_and_the_old_ephemeral_name():
    files = {"/work/prefect.toml": 'profiles_path = "/etc/p.toml"\n',
             "/etc/p.toml": 'active = "x"\n[profiles.x]\nPREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\n'}
    found = _resolve({"HOME": "/h"}, files)
    assert (found["profiles_path"], found["profile"], found["ephemeral_enabled"]) == ("/etc/p.toml", "x", True)


def test_resolver_unknown_active_profile_falls_back_to_ephemeral():
    found = _resolve({"HOME": "/h", "PREFECT_PROFILE": "gone"}, {"/h/.prefect/profiles.toml": PROFILES})
    assert (found["profile"], found["api_url"], found["ephemeral_enabled"]) == ("ephemeral", None, True)
