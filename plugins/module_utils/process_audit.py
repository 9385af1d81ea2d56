# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each Prefect process of a host sends its flow runs.

The contexts a host starts Prefect from (systemd units, cron jobs, users'
login shells), the environment, user and working directory each one gives
it, and how to tell which Prefect it runs. Prefect's own settings loader then
answers for each (see prefect_process_audit); `resolve_settings` is the
module's own reading of the same sources for a context without a Prefect
interpreter, in Prefect 3's order: environment, `.env`, `prefect.toml`,
`pyproject.toml`, then the active profile.
"""
from __future__ import annotations

import os
import re
import shlex

from ansible_collections.selfhosted.prefect.plugins.module_utils.settings_catalog import (
    ALIASES,
    DEFAULT_ACTIVE_PROFILE,
    DEFAULT_PROFILES,
)

# Settings the verdict reads, by name and by their place in a TOML file.
API_URL = "PREFECT_API_URL"
EPHEMERAL = "PREFECT_SERVER_EPHEMERAL_ENABLED"
CREDENTIALS = ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")
RESOLVED = (API_URL, EPHEMERAL) + CREDENTIALS
TOML_PATHS = {
    API_URL: ("api", "url"),
    EPHEMERAL: ("server", "ephemeral", "enabled"),
    "PREFECT_API_KEY": ("api", "key"),
    "PREFECT_API_AUTH_STRING": ("api", "auth_string"),
}
TRUE_WORDS = ("true", "1", "yes", "on", "t", "y")
# Shells that let nobody log in: such an account runs Prefect through its units and cron jobs.
NO_LOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync")
# What systemd and cron start a process with before the unit's or the crontab's own settings.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CRON_PATH = "/usr/bin:/bin"
_SHELL_SEPARATORS = ("&&", "||", ";", "|")
_BLANK = " \t\r\n"  # what systemd and cron strip; str.strip() would also take control characters
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class AuditError(Exception):
    """A context the audit cannot read; the message names it and holds no value."""


def target_of(api_url, ephemeral_enabled):
    """hosted (a URL), ephemeral (none, and an in-process server allowed: its
    throwaway SQLite), or refused (none and no ephemeral server: Prefect
    fails the run at once)."""
    if api_url:
        return "hosted"
    return "ephemeral" if ephemeral_enabled else "refused"


def truthy(value):
    return str(value).strip().lower() in TRUE_WORDS


# ------------------------------------------------------------------ systemd

def parse_systemctl_show(text):
    """`systemctl show` of several units: one dict of properties per unit. A
    property shown on several lines (EnvironmentFiles=, one per file) keeps
    them all, a line each."""
    units, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
            current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = current[key] + "\n" + value if key in current else value
    if current:
        units.append(current)
    return units


def exec_argvs(value):
    """The command lines of an ExecStart= property as systemctl shows it:
    `{ path=... ; argv[]=... ; ... }` once per command."""
    argvs = []
    for match in re.finditer(r"argv\[\]=(.*?) ; ", value or ""):
        try:
            argvs.append(shlex.split(match.group(1)))
        except ValueError:
            argvs.append(match.group(1).split())
    return argvs


def environment_assignments(value):
    """Environment= as systemctl shows it (assignments quoted where needed)."""
    try:
        words = shlex.split(value or "")
    except ValueError as exc:
        raise AuditError("cannot read the unit's Environment= (%s)" % exc)
    return dict(word.split("=", 1) for word in words if "=" in word)


def environment_files(value):
    """EnvironmentFiles= as (path, optional) pairs: `/etc/x (ignore_errors=yes)`."""
    files = []
    for match in re.finditer(r"(\S+) \(ignore_errors=(yes|no)\)", value or ""):
        files.append((match.group(1), match.group(2) == "yes"))
    return files


def parse_environment_file(text):
    """An EnvironmentFile= as systemd reads it: NAME=value lines, # and ;
    comments, single or double quotes, backslash escapes in double quotes and
    line continuations."""
    env = {}
    for line in text.replace("\\\n", "").split("\n"):
        line = line.strip(_BLANK)
        if not line or line[0] in "#;":
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip(_BLANK)
        name, sep, value = line.partition("=")
        name = name.strip(_BLANK)
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            continue
        env[name] = _env_file_value(value.strip(_BLANK))
    return env


def _env_file_value(value):
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\(["\\$`\n])', r"\1", value[1:-1])
    return value


def unit_environment(show, read_file, passwd_entry):
    """The environment systemd gives a unit's process: its manager's PATH,
    the user's HOME, USER, LOGNAME and SHELL when the unit names a User=, then
    Environment=, EnvironmentFile= (in that order) and UnsetEnvironment=."""
    env = {"PATH": SYSTEMD_PATH}
    if show.get("User") and passwd_entry:
        env.update(HOME=passwd_entry.pw_dir, USER=passwd_entry.pw_name, LOGNAME=passwd_entry.pw_name,
                   SHELL=passwd_entry.pw_shell)
    env.update(environment_assignments(show.get("Environment")))
    for path, optional in environment_files(show.get("EnvironmentFiles")):
        try:
            env.update(parse_environment_file(read_file(path)))
        except (IOError, OSError):
            if not optional:
                raise AuditError("cannot read its EnvironmentFile %s" % path)
    for word in (show.get("UnsetEnvironment") or "").split():
        if "=" in word:
            if env.get(word.split("=", 1)[0]) == word.split("=", 1)[1]:
                del env[word.split("=", 1)[0]]
        else:
            env.pop(word, None)
    return env


# --------------------------------------------------------------------- cron

def parse_crontab(text, user=None):
    """Jobs of a crontab: a user's (user given) or a system one (/etc/crontab,
    /etc/cron.d: a user field after the schedule). Each job has its line
    number, user, command and the crontab's NAME=value lines above it."""
    jobs, env = [], {}
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(_BLANK)
        if not line or line.startswith("#"):
            continue
        assignment = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
        if assignment and not re.match(r"^[\d*@]", line):
            env[assignment.group(1)] = _cron_value(assignment.group(2))
            continue
        fields = line.split(None, 1 if line.startswith("@") else 5)
        rest = fields[-1] if len(fields) == (2 if line.startswith("@") else 6) else None
        if rest is None:
            continue
        job_user = user
        if user is None:
            job_user, rest = (rest.split(None, 1) + [""])[:2]
            rest = rest.strip()
        if not rest or not job_user:
            continue
        jobs.append(dict(line=number, user=job_user, command=_cron_command(rest), env=dict(env)))
    return jobs


def _cron_value(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _cron_command(command):
    """cron cuts a command at its first unescaped % (the rest is standard input)."""
    match = re.search(r"(?<!\\)%", command)
    command = command[:match.start()] if match else command
    return command.replace("\\%", "%").strip()


def cron_environment(job, passwd_entry, system_environment):
    """What Debian's cron starts a job with: /etc/environment (pam_env),
    SHELL, PATH, HOME, LOGNAME and USER, then the crontab's assignments."""
    env = dict(system_environment)
    env.update(SHELL="/bin/sh", PATH=CRON_PATH, HOME=passwd_entry.pw_dir,
               LOGNAME=passwd_entry.pw_name, USER=passwd_entry.pw_name)
    env.update(job["env"])
    return env


# ----------------------------------------------------- commands and shells

def shell_segments(command):
    """A shell command line as simple commands (lists of words), split at
    ;, &&, || and |; None when it cannot be read as words."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return None
    segments, current = [], []
    for word in words:
        if word in _SHELL_SEPARATORS or (word and set(word) <= set(";&|")):
            if current:
                segments.append(current)
            current = []
        else:
            current.append(word)
    if current:
        segments.append(current)
    return segments


def _strip_env_command(words, env):
    """`env [-i] [-u NAME] [NAME=value]... command`: apply it, return the command."""
    index = 1
    while index < len(words):
        word = words[index]
        if word in ("-i", "--ignore-environment", "-"):
            env.clear()
        elif word in ("-u", "--unset") and index + 1 < len(words):
            env.pop(words[index + 1], None)
            index += 1
        elif word.startswith("--unset="):
            env.pop(word.split("=", 1)[1], None)
        elif _ASSIGNMENT.match(word):
            name, value = word.split("=", 1)
            env[name] = value
        elif word == "--":
            index += 1
            break
        else:
            break
        index += 1
    return words[index:]


def follow_command(argv, env, cwd, is_prefect, max_depth=3):
    """Follow a command line as a shell would run it, up to the first simple
    command that runs Prefect (is_prefect(words, env) true). Returns
    (words, env, cwd) of that command, or None when none runs Prefect.

    Understood: cd, export, unset, NAME=value before a command or alone, env
    with -i, -u and assignments, and `sh -c '...'` (or bash, dash) inside."""
    env = dict(env)
    words = list(argv)
    if max_depth < 0 or not words:
        return None
    if os.path.basename(words[0]) in ("sh", "bash", "dash") and "-c" in words[1:]:
        script = words[words.index("-c") + 1:words.index("-c") + 2]
        return follow_shell(script[0], env, cwd, is_prefect, max_depth - 1) if script else None
    if os.path.basename(words[0]) == "env":
        words = _strip_env_command(words, env)
        return follow_command(words, env, cwd, is_prefect, max_depth - 1) if words else None
    if is_prefect(words, env):
        return words, env, cwd
    return None


def follow_shell(script, env, cwd, is_prefect, max_depth=3):
    """follow_command over a shell script's simple commands, in order."""
    segments = shell_segments(script)
    if segments is None:
        return None
    env = dict(env)
    for words in segments:
        prefix = {}
        while words and _ASSIGNMENT.match(words[0]):
            name, value = words[0].split("=", 1)
            prefix[name] = value
            words = words[1:]
        if not words:
            env.update(prefix)
            continue
        if words[0] == "cd":
            target = words[1] if len(words) > 1 else env.get("HOME", cwd)
            cwd = os.path.normpath(os.path.join(cwd, os.path.expanduser(target) if target.startswith("~")
                                                else target))
            continue
        if words[0] == "export":
            for word in words[1:]:
                if "=" in word:
                    name, value = word.split("=", 1)
                    env[name] = value
            continue
        if words[0] == "unset":
            for name in words[1:]:
                env.pop(name, None)
            continue
        found = follow_command(words, dict(env, **prefix), cwd, is_prefect, max_depth)
        if found:
            return found
    return None


def which(program, path_env, is_executable):
    """The file a shell runs for `program` with this PATH."""
    if "/" in program:
        return program
    for directory in (path_env or "").split(":"):
        candidate = os.path.join(directory or ".", program)
        if is_executable(candidate):
            return candidate
    return None


def prefect_profile_argument(words):
    """The profile of `prefect --profile NAME ...`, which Prefect reads from its command line first."""
    if len(words) >= 3 and os.path.basename(words[0]) == "prefect" and words[1] == "--profile":
        return words[2]
    return None


# ------------------------------------------------------------------ users

def audited_user(has_prefect_home, login_env, prefect_on_path):
    """Why a user who can log in counts as running Prefect, or None: a
    Prefect home (Prefect makes one on its first run), PREFECT_ settings in
    the login environment, or a `prefect` on the login PATH."""
    if has_prefect_home:
        return "has a Prefect home"
    if any(name.startswith("PREFECT_") for name in login_env or {}):
        return "sets PREFECT_ variables at login"
    if prefect_on_path:
        return "finds prefect on the login PATH"
    return None


# ------------------------------------------------- the module's own resolver

def _toml_get(data, path):
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _dotenv(text):
    """A .env file as python-dotenv reads the simple cases: NAME=value,
    export, quotes, # comments."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        name, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        env[name.strip()] = value
    return env


def _canonical(settings):
    """Keys under their Prefect 3 names; an alias yields to the name itself."""
    out = {}
    for key, value in settings.items():
        if key in ALIASES and ALIASES[key] not in settings:
            out[ALIASES[key]] = value
        elif key not in ALIASES:
            out[key] = value
    return out


def resolve_settings(env, cwd, read_file, parse_toml):
    """The settings the verdict needs, and the profile, as Prefect 3 resolves
    them for a process with this environment and working directory.
    read_file(path) returns a file's text or None; parse_toml(text) a dict.
    Returns dict(api_url, ephemeral_enabled, credentials, profile, profiles_path)."""
    def file_text(name):
        return read_file(os.path.join(cwd, name)) if cwd else None

    dotenv = _canonical(_dotenv(file_text(".env") or ""))
    prefect_toml = parse_toml(file_text("prefect.toml") or "")
    pyproject = _toml_get(parse_toml(file_text("pyproject.toml") or ""), ("tool", "prefect")) or {}
    environ = _canonical({key: value for key, value in env.items() if key.startswith("PREFECT_")})

    home = environ.get("PREFECT_HOME") or os.path.join(env.get("HOME", "/"), ".prefect")
    profiles_path = (environ.get("PREFECT_PROFILES_PATH") or dotenv.get("PREFECT_PROFILES_PATH")
                     or _toml_get(prefect_toml, ("profiles_path",)) or _toml_get(pyproject, ("profiles_path",))
                     or os.path.join(home, "profiles.toml"))
    profiles = parse_toml(read_file(profiles_path) or "") if profiles_path else {}
    names = list((profiles.get("profiles") or {}).keys())
    profile = environ.get("PREFECT_PROFILE") or profiles.get("active") or DEFAULT_ACTIVE_PROFILE
    if profile in names:
        profile_settings = _canonical(dict((profiles.get("profiles") or {}).get(profile) or {}))
    else:
        profile = DEFAULT_ACTIVE_PROFILE
        profile_settings = dict(DEFAULT_PROFILES.get(profile, {}))

    values = {}
    for key in RESOLVED:
        for layer in (environ, dotenv):
            if layer.get(key) not in (None, ""):
                values[key] = layer[key]
                break
        else:
            for data in (prefect_toml, pyproject):
                found = _toml_get(data, TOML_PATHS[key])
                if found is not None:
                    values[key] = found
                    break
            else:
                if profile_settings.get(key) not in (None, ""):
                    values[key] = profile_settings[key]
    return dict(
        api_url=str(values[API_URL]) if values.get(API_URL) else None,
        ephemeral_enabled=truthy(values.get(EPHEMERAL, False)),
        credentials=any(values.get(key) for key in CREDENTIALS),
        profile=profile,
        profiles_path=profiles_path,
    )
