#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_process_audit
short_description: Tell, for every process of a host that runs Prefect, where its flow runs go
version_added: 0.1.0
description:
  - Finds every context of the host that starts Prefect, systemd services, cron jobs and users, and
    says for each where its flow runs would go. V(hosted) is an API URL, with whether it answers and
    takes the context's credentials. V(ephemeral) is Prefect's in-process server on a throwaway SQLite
    database, which the team's server never sees. V(refused) is neither, so Prefect fails the run at once.
  - Each context is resolved by Prefect's own settings loader, run with the Prefect interpreter the context
    runs, as its user, with its environment and in its working directory. So C(.env), C(prefect.toml),
    C(pyproject.toml), E(PREFECT_HOME), E(PREFECT_PROFILES_PATH), E(PREFECT_PROFILE) and the active profile
    count exactly as they do for the process. The audit leaves no Prefect home behind.
  - A running service is read from its process (its environment and working directory). A stopped one is read
    from its unit (C(Environment=), C(EnvironmentFile=), C(UnsetEnvironment=), C(User=),
    C(WorkingDirectory=)).
  - A cron job gets what Debian's cron gives it (C(/etc/environment), C(SHELL), C(PATH), C(HOME), the crontab's
    assignments), and its command line is followed through C(cd), C(export), C(unset), C(env) and C(sh -c)
    to the command that runs Prefect.
  - A user counts when they can log in (root, and UIDs from 1000) and have a Prefect home, set E(PREFECT_*)
    variables at login, or find C(prefect) on their login E(PATH). Their environment is what their login shell
    sets (run as them, with a time limit), in their home directory. Service accounts that cannot log in run
    Prefect through their units and cron jobs, which are audited instead.
  - A context whose command names no Prefect interpreter (a user without C(prefect) on their E(PATH)) is resolved
    with O(prefect_python), else with one that a unit or cron job of the host runs, else with a Prefect venv under
    C(/opt) (where the collection's roles install one) or C(/usr/local/bin/prefect). Only a host without any is
    resolved by the module's own reading of the same sources, which its result says (RV(processes[].resolver) is
    V(module)).
  - Runs as root (C(become)), which it needs to run each context as its user. Nothing on the host changes.
options:
  contexts:
    description: Which kinds of context to audit.
    type: list
    elements: str
    choices: [units, cron, users]
    default: [units, cron, users]
  prefect_python:
    description:
      - A Prefect venv's Python for contexts whose own command names none, such as a user's shell without
        C(prefect) on its E(PATH). Without it the module looks for one on the host.
    type: path
  probe_api:
    description:
      - For a hosted context, ask its API for its version with the context's own URL, TLS settings and
        credentials (RV(processes[].api)).
    type: bool
    default: true
  timeout:
    description: Seconds each context's resolution (and its probe) may take.
    type: int
    default: 30
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_config_info
notes:
  - The C(drift_report) playbook runs this module on every host and exits non-zero when a process other than a
    Prefect server would go ephemeral.
  - Supports check mode (it changes nothing either way).
"""

EXAMPLES = r"""
- name: Where would each Prefect process of the host send its flow runs?
  selfhosted.prefect.prefect_process_audit:
  become: true
  register: audit

- name: Fail when any of them would land its runs in a throwaway local database
  ansible.builtin.assert:
    that: audit.ephemeral | length == 0
    fail_msg: "{{ audit.ephemeral | join(', ') }} would run flows on an ephemeral API"
"""

RETURN = r"""
processes:
  description: One entry per context that runs Prefect.
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: V(unit), V(cron) or V(user).
      type: str
    name:
      description: The unit, the crontab and line (C(/etc/cron.d/etl:4)), or the user name.
      type: str
    user:
      description: The user it runs as.
      type: str
    cwd:
      description: Its working directory.
      type: str
    role:
      description: V(server) (C(prefect server ...)), V(worker), or V(client) for everything else.
      type: str
    command:
      description: The program and Prefect subcommand (C(prefect worker start)); arguments are left out.
      type: str
    source:
      description: Where its environment was read, V(process) (running), V(unit), V(cron) or V(login).
      type: str
    resolver:
      description: V(prefect) (Prefect's own loader) or V(module) (no Prefect interpreter for it).
      type: str
    python:
      description: The interpreter that resolved it, or null.
      type: str
    prefect_version:
      description: The Prefect version of that interpreter, or null.
      type: str
    target:
      description: V(hosted), V(ephemeral), V(refused), or V(unknown) when it could not be resolved (RV(processes[].error)).
      type: str
    api_url:
      description: Its API URL, a password in it masked, or null.
      type: str
    profile:
      description: The profile Prefect chose for it.
      type: str
    profiles_path:
      description: The profiles file Prefect read for it.
      type: str
    credentials:
      description: Whether it has an API key or an auth string.
      type: bool
    api:
      description:
        - For a hosted context with O(probe_api), C(reachable) and C(status) (V(ok), V(unauthorized),
          V(http <code>) or the error's type); null otherwise.
      type: dict
    error:
      description: Why it could not be resolved; it never holds a setting's value.
      type: str
    reason:
      description: For a user, why they count (C(has a Prefect home), ...).
      type: str
  sample:
    - {kind: unit, name: prefect-worker@onprem.service, user: prefect-worker, cwd: /var/lib/prefect-worker, role: worker,
       command: prefect worker start, source: process, resolver: prefect, python: /opt/prefect-worker/bin/python,
       prefect_version: 3.8.8, target: hosted, api_url: "https://prefect.example.org/api", profile: hosted,
       profiles_path: /var/lib/prefect-worker/.prefect/profiles.toml, credentials: true,
       api: {reachable: true, status: ok}}
counts:
  description: How many contexts go where.
  returned: success
  type: dict
  sample: {hosted: 4, ephemeral: 1, refused: 0, unknown: 0}
ephemeral:
  description: Names of the contexts, servers aside, whose flow runs would go to an ephemeral API.
  returned: success
  type: list
  elements: str
"""

import glob
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.selfhosted.prefect.plugins.module_utils.process_audit import (
    AuditError,
    CRON_PATH,
    NO_LOGIN_SHELLS,
    SYSTEMD_PATH,
    audited_user,
    cron_environment,
    exec_argvs,
    follow_command,
    follow_shell,
    parse_crontab,
    parse_environment_file,
    parse_systemctl_show,
    prefect_profile_argument,
    resolve_settings,
    target_of,
    unit_environment,
    which,
)
from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import (
    is_secret,
    redact,
    url_password_spans,
)

try:
    import tomllib
except ImportError:  # Python < 3.11: tomlkit, which the collection's modules need anyway
    tomllib = None
try:
    import tomlkit
except ImportError:
    tomlkit = None

SHOW_PROPERTIES = ("Id,LoadState,ActiveState,MainPID,User,Group,WorkingDirectory,ExecStart,Environment,"
                   "EnvironmentFiles,UnsetEnvironment")
LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|AUTH|CREDENTIAL", re.I)
CRON_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # what Debian's cron reads in /etc/cron.d
UID_MIN = 1000
# Where a Prefect venv usually is: the collection's roles install into /opt.
HOST_PREFECT_PATHS = ("/opt/*/bin/prefect", "/opt/*/*/bin/prefect", "/usr/local/bin/prefect", "/usr/bin/prefect")

# Run by each context's Prefect interpreter, as its user, in its environment
# and working directory. Prints one JSON object and never a setting's value.
LOADER = r'''
import json, pathlib, sys
request = json.loads(sys.argv[1])
made = []
real_mkdir = pathlib.Path.mkdir
def recording_mkdir(self, *args, **kwargs):
    existed = self.exists()
    real_mkdir(self, *args, **kwargs)
    if not existed:
        made.append(self)
out = {}
try:
    sys.argv = request["argv"]
    pathlib.Path.mkdir = recording_mkdir
    try:
        import prefect
        from prefect.context import get_settings_context
        context = get_settings_context()
    finally:
        pathlib.Path.mkdir = real_mkdir
        for path in reversed(made):
            try:
                path.rmdir()
            except OSError:
                pass
    settings = context.settings
    url = settings.api.url
    out = dict(prefect_version=prefect.__version__, api_url=url,
               ephemeral_enabled=bool(settings.server.ephemeral.enabled),
               credentials=bool(settings.api.key or settings.api.auth_string),
               profile=context.profile.name, profiles_path=str(settings.profiles_path))
    if url and request["probe"]:
        import httpx
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings
        try:
            with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}):
                with get_client(sync_client=True, httpx_settings={"timeout": request["timeout"]}) as client:
                    client.api_version()
            out["api"] = dict(reachable=True, status="ok")
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            out["api"] = dict(reachable=True, status="unauthorized" if code in (401, 403) else "http %d" % code)
        except Exception as exc:
            out["api"] = dict(reachable=False, status=type(exc).__name__)
except Exception as exc:
    errors = getattr(exc, "errors", None)
    where = ""
    if callable(errors):
        try:
            where = ": " + "; ".join("%s %s" % (".".join(map(str, e["loc"])), e["msg"]) for e in errors())
        except Exception:
            where = ""
    out = dict(error="Prefect could not load its settings (%s%s)" % (type(exc).__name__, where))
print(json.dumps(out))
'''


def _read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _parse_toml(text):
    if not text.strip():
        return {}
    try:
        if tomllib:
            return tomllib.loads(text)
        return tomlkit.parse(text).unwrap() if tomlkit else {}
    except Exception:
        return {}


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def prefect_interpreter(program):
    """The Python a Prefect command runs on: a `prefect` script's shebang, or a
    venv's python beside a `prefect` (a flow script run with it)."""
    name = os.path.basename(program)
    if name == "prefect":
        with open(program, "rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace")
        words = first[2:].split() if first.startswith("#!") else []
        if words and os.path.basename(words[0]) != "env":
            return words[0]
        return os.path.join(os.path.dirname(program), "python")
    if re.match(r"^python[0-9.]*$", name) and _is_executable(os.path.join(os.path.dirname(program), "prefect")):
        return program
    return None


def _runs_prefect(words, env):
    program = which(words[0], env.get("PATH"), _is_executable)
    return bool(program and _is_executable(program) and prefect_interpreter(program))


def _role(words):
    """(role, command) of a Prefect command line: a server (`prefect server`,
    or the server's app run by uvicorn), a worker, or a client; the command
    names the program and subcommand, never an argument's value."""
    name = os.path.basename(words[0])
    if name != "prefect":
        app = next((word for word in words if word.startswith("prefect.server")), None)
        if app:
            return "server", "%s %s" % (name, app)
        module = words[words.index("-m") + 1] if "-m" in words[:-1] else None
        if module != "prefect":
            return "client", "%s -m %s" % (name, module) if module else name
        words = ["prefect"] + words[words.index("-m") + 2:]
    if words[1:2] == ["--profile"]:
        words = words[:1] + words[3:]
    args = [word for word in words[1:] if not word.startswith("-")]
    subcommand = " ".join(["prefect"] + args[:2])
    if args[:1] == ["server"]:
        return "server", subcommand
    if args[:2] == ["worker", "start"]:
        return "worker", subcommand
    return "client", subcommand


class Auditor:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.secrets = set()
        self.interpreters = set()
        self.loader_dir = None
        self.system_environment = parse_environment_file(_read_text("/etc/environment") or "")

    # -- running Prefect's loader as a context

    def hide(self, env):
        """Every value that may be a secret is masked wherever the result holds it."""
        for name, value in env.items():
            if value and (is_secret(name) or SECRET_NAME.search(name)):
                self.secrets.add(value)
            for start, end in url_password_spans(value or ""):
                self.secrets.add(value[start:end])
        self.module.no_log_values.update(secret for secret in self.secrets if len(secret) > 2)

    def loader_path(self):
        if not self.loader_dir:
            self.loader_dir = tempfile.mkdtemp(prefix="prefect-audit-")
            os.chmod(self.loader_dir, 0o755)
            with open(os.path.join(self.loader_dir, "loader.py"), "w") as handle:
                handle.write(LOADER)
            os.chmod(os.path.join(self.loader_dir, "loader.py"), 0o644)
        return os.path.join(self.loader_dir, "loader.py")

    def resolve(self, entry, words, env, cwd, python):
        """Fill entry with where the context's flow runs go."""
        self.hide(env)
        entry.update(cwd=cwd, python=python, resolver="prefect" if python else "module", prefect_version=None,
                     api=None, error=None)
        profile = prefect_profile_argument(words or [])
        try:
            user = pwd.getpwnam(entry["user"])
        except KeyError:
            raise AuditError("its user %s does not exist" % entry["user"])
        if not cwd or not os.path.isdir(cwd):
            raise AuditError("its working directory %s does not exist" % cwd)
        if python:
            result = self.run_loader(python, words, env, cwd, user)
        else:
            if profile:
                env = dict(env, PREFECT_PROFILE=profile)
            result = resolve_settings(env, cwd, self.read_as(user), _parse_toml)
        if result.get("error"):
            raise AuditError(result["error"])
        entry.update({key: result.get(key) for key in ("prefect_version", "profile", "profiles_path", "api")})
        entry.update(credentials=bool(result.get("credentials")),
                     target=target_of(result.get("api_url"), result.get("ephemeral_enabled")),
                     api_url=redact("PREFECT_API_URL", result.get("api_url")))

    def read_as(self, user):
        """A file's text if the context's user may read it (the root module may read them all)."""
        def read(path):
            try:
                status = os.stat(path)
            except OSError:
                return None
            readable = (status.st_uid == user.pw_uid and status.st_mode & 0o400) or status.st_mode & 0o004 or (
                status.st_gid in os.getgrouplist(user.pw_name, user.pw_gid) and status.st_mode & 0o040)
            return _read_text(path) if readable or user.pw_uid == 0 else None
        return read

    def run_loader(self, python, words, env, cwd, user):
        if not _is_executable(python):
            raise AuditError("its Prefect interpreter %s is missing" % python)
        request = dict(argv=list(words or [python]), probe=self.params["probe_api"], timeout=self.params["timeout"])
        try:
            run = subprocess.run(
                [python, self.loader_path(), json.dumps(request)], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=self.params["timeout"] + 15, check=False,
                user=user.pw_uid, group=user.pw_gid, extra_groups=os.getgrouplist(user.pw_name, user.pw_gid))
        except subprocess.TimeoutExpired:
            raise AuditError("Prefect's settings loader took longer than %d s" % (self.params["timeout"] + 15))
        try:
            return json.loads(run.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AuditError("Prefect's settings loader failed (exit %d)" % run.returncode)

    def audited(self, entry, words, env, cwd, python):
        try:
            self.resolve(entry, words, env, cwd, python)
        except AuditError as exc:
            entry.update(target="unknown", error=str(exc))
        return _completed(entry)

    # -- systemd units

    def units(self):
        if not os.path.isdir("/run/systemd/system"):
            self.module.warn("systemd is not running on this host: no unit was audited")
            return []
        listed = self.module.run_command(["systemctl", "list-units", "--type=service", "--all", "--plain",
                                          "--no-legend", "--no-pager"], check_rc=True)[1]
        files = self.module.run_command(["systemctl", "list-unit-files", "--type=service", "--no-legend",
                                         "--no-pager"], check_rc=True)[1]
        names = {line.split()[0] for line in (listed + files).splitlines() if line.split()}
        names = sorted(name for name in names if name.endswith(".service") and not name.endswith("@.service"))
        if not names:
            return []
        shown = self.module.run_command(["systemctl", "show", "--no-pager", "-p", SHOW_PROPERTIES] + names,
                                        check_rc=True)[1]
        found = []
        for show in parse_systemctl_show(shown):
            if show.get("LoadState") != "loaded":
                continue
            for argv in exec_argvs(show.get("ExecStart")):
                entry = self.unit(show, argv)
                if entry:
                    found.append(entry)
                    break
        return found

    def unit(self, show, argv):
        user_name = show.get("User") or "root"
        try:
            passwd = pwd.getpwnam(user_name)
        except KeyError:
            passwd = None
        pid = int(show.get("MainPID") or 0)
        entry = dict(kind="unit", name=show["Id"], user=user_name, source="unit")
        try:
            env = cwd = None
            if pid and show.get("ActiveState") in ("active", "reloading", "activating"):
                env, cwd, entry["user"] = self.running_process(pid)
                entry["source"] = "process" if env is not None else "unit"
            if env is None:
                env = unit_environment(show, _read_text_or_raise, passwd)
                cwd = (show.get("WorkingDirectory") or "/").lstrip("!-")
                if cwd.startswith("~"):
                    cwd = passwd.pw_dir if passwd else "/"
        except AuditError as exc:
            if not _runs_prefect(argv, {"PATH": SYSTEMD_PATH}):
                return None
            entry.update(role=None, command=None, cwd=None, target="unknown", error=str(exc))
            return _completed(entry)
        followed = follow_command(argv, env, cwd, _runs_prefect)
        if not followed:
            return None
        words, env, cwd = followed
        entry["role"], entry["command"] = _role(words)
        program = which(words[0], env.get("PATH"), _is_executable)
        return self.audited(entry, [program] + words[1:], env, cwd, self.interpreter(program))

    def interpreter(self, program):
        python = prefect_interpreter(program)
        if python:
            self.interpreters.add(python)
        return python

    @staticmethod
    def running_process(pid):
        """(environment, working directory, user) of a unit's main process, or
        (None, None, its user) when even root may not read them (a container
        without CAP_SYS_PTRACE): the unit's definition is read then."""
        try:
            user = pwd.getpwuid(os.stat("/proc/%d" % pid).st_uid).pw_name
        except (OSError, KeyError):
            raise AuditError("cannot tell the user of its process %d" % pid)
        try:
            with open("/proc/%d/environ" % pid, "rb") as handle:
                raw = handle.read()
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            return None, None, user
        env = {}
        for item in raw.split(b"\0"):
            name, sep, value = item.decode("utf-8", "replace").partition("=")
            if sep:
                env[name] = value
        return env, cwd, user

    # -- cron

    def cron_files(self):
        files = [("/etc/crontab", None)]
        for directory, per_user in (("/etc/cron.d", False), ("/var/spool/cron/crontabs", True)):
            if os.path.isdir(directory):
                for name in sorted(os.listdir(directory)):
                    if per_user or CRON_FILE_NAME.match(name):
                        files.append((os.path.join(directory, name), name if per_user else None))
        return files

    def cron(self):
        found = []
        for path, user in self.cron_files():
            text = _read_text(path)
            if text is None:
                continue
            for job in parse_crontab(text, user):
                entry = self.cron_job(path, job)
                if entry:
                    found.append(entry)
        return found

    def cron_job(self, path, job):
        try:
            passwd = pwd.getpwnam(job["user"])
        except KeyError:
            return None
        env = cron_environment(job, passwd, self.system_environment)
        followed = follow_shell(job["command"], env, env.get("HOME", "/"), _runs_prefect)
        if not followed:
            return None
        words, env, cwd = followed
        entry = dict(kind="cron", name="%s:%d" % (path, job["line"]), user=job["user"], source="cron")
        entry["role"], entry["command"] = _role(words)
        program = which(words[0], env.get("PATH") or CRON_PATH, _is_executable)
        return self.audited(entry, [program] + words[1:], env, cwd, self.interpreter(program))

    # -- users

    def host_prefect(self):
        """A Prefect interpreter for a context whose command names none:
        prefect_python, else one a unit or cron job of the host runs, else a
        venv where the collection's roles (or a site) put one."""
        if self.params["prefect_python"]:
            return self.params["prefect_python"]
        found = sorted(python for python in self.interpreters if _is_executable(python))
        if found:
            return found[0]
        for pattern in HOST_PREFECT_PATHS:
            for program in sorted(glob.glob(pattern)):
                if _is_executable(program):
                    python = prefect_interpreter(program)
                    if python and _is_executable(python):
                        return python
        return None

    def users(self):
        found = []
        for passwd in sorted(pwd.getpwall(), key=lambda entry: entry.pw_uid):
            # A service account that cannot log in runs Prefect through its units and cron jobs.
            if passwd.pw_shell in NO_LOGIN_SHELLS or not _is_executable(passwd.pw_shell or ""):
                continue
            if not (passwd.pw_uid == 0 or UID_MIN <= passwd.pw_uid < 65534):
                continue
            home = passwd.pw_dir or "/"
            has_home = os.path.isdir(os.path.join(home, ".prefect"))
            env = self.login_environment(passwd)
            program = which("prefect", env.get("PATH"), _is_executable)
            reason = audited_user(has_home, env, program)
            if not reason:
                continue
            entry = dict(kind="user", name=passwd.pw_name, user=passwd.pw_name, source="login",
                         role="client", command="prefect" if program else None, reason=reason)
            python = prefect_interpreter(program) if program else self.host_prefect()
            found.append(self.audited(entry, [program] if program else None, env, home, python))
        return found

    def login_environment(self, passwd):
        """What the user's login shell sets, run as them from a clean start."""
        start = dict(self.system_environment)
        start.update(HOME=passwd.pw_dir, USER=passwd.pw_name, LOGNAME=passwd.pw_name, SHELL=passwd.pw_shell,
                     PATH=LOGIN_PATH)
        if not os.path.isdir(passwd.pw_dir or ""):
            return start
        flags = "-lic" if os.path.basename(passwd.pw_shell) in ("bash", "zsh") else "-lc"
        try:
            run = subprocess.run([passwd.pw_shell, flags, "env -0"], env=start, cwd=passwd.pw_dir,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 timeout=self.params["timeout"], check=False, user=passwd.pw_uid, group=passwd.pw_gid,
                                 extra_groups=os.getgrouplist(passwd.pw_name, passwd.pw_gid), start_new_session=True)
        except (subprocess.TimeoutExpired, OSError):
            return start
        env = {}
        for item in run.stdout.split(b"\0"):
            name, sep, value = item.decode("utf-8", "replace").partition("=")
            if sep and not name.startswith(("BASH_FUNC_", "_")) and name not in ("SHLVL", "PWD", "OLDPWD"):
                env[name] = value
        return env or start

    def cleanup(self):
        if self.loader_dir:
            shutil.rmtree(self.loader_dir, ignore_errors=True)


def _completed(entry):
    """Every key of an entry, null where the audit could not tell."""
    for key in ("python", "prefect_version", "api_url", "profile", "profiles_path", "credentials", "api",
                "resolver", "error"):
        entry.setdefault(key, None)
    return entry


def _read_text_or_raise(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            contexts=dict(type="list", elements="str", choices=["units", "cron", "users"],
                          default=["units", "cron", "users"]),
            prefect_python=dict(type="path"),
            probe_api=dict(type="bool", default=True),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    if module.params["timeout"] < 1:
        module.fail_json(msg="timeout must be 1 second or more, not %d" % module.params["timeout"])
    if os.geteuid() != 0:
        module.fail_json(msg="prefect_process_audit runs every context as its own user: run it as root "
                             "(become: true)")
    python = module.params["prefect_python"]
    if python and not _is_executable(python):
        module.fail_json(msg="prefect_python %s is not an executable file" % python)
    auditor = Auditor(module)
    processes = []
    try:
        for kind in ("units", "cron", "users"):
            if kind in module.params["contexts"]:
                processes.extend(getattr(auditor, kind)())
    finally:
        auditor.cleanup()
    counts = dict(hosted=0, ephemeral=0, refused=0, unknown=0)
    for entry in processes:
        counts[entry["target"]] += 1
    ephemeral = [entry["name"] for entry in processes if entry["target"] == "ephemeral" and entry["role"] != "server"]
    module.exit_json(changed=False, processes=processes, counts=counts, ephemeral=ephemeral)


if __name__ == "__main__":
    main()
