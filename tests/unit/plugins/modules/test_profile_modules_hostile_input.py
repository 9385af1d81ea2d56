# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_profile and prefect_config under hostile input: odd kinds of
path, odd files, odd arguments. Every run ends either in success with the
file holding what was asked, or in a message (no exception, no traceback)
with the path exactly as it was: same kind, same bytes, same inode."""
from __future__ import annotations

import os
import socket
import stat
import threading
import tomllib

import pytest
from hypothesis import HealthCheck, event, given, settings as hsettings, strategies as st

from ansible_collections.selfhosted.prefect.plugins.module_utils import profiles_toml
from ansible_collections.selfhosted.prefect.plugins.modules import prefect_config, prefect_profile

SAMPLE = '''active = "prod"

[profiles.prod]
PREFECT_API_URL = "http://prefect.example.com:4200/api"
'''
# Long enough for any module run here; a FIFO used to hang open() forever.
RUN_TIMEOUT = 30


def run_bounded(run_module, module, args, **kwargs):
    """run_module in a thread: a run that hangs fails the test instead of the suite."""
    outcome = {}

    def target():
        try:
            outcome["result"] = run_module(module, args, **kwargs)[0]
        except BaseException as exc:  # the test reports it
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(RUN_TIMEOUT)
    assert not thread.is_alive(), "%s hung on %r" % (module.__name__, args)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def path_state(path):
    """What a failed run must leave as it was."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    content = None
    if stat.S_ISREG(status.st_mode):
        with open(path, "rb") as handle:
            content = handle.read()
    elif stat.S_ISLNK(status.st_mode):
        content = os.readlink(path)
    return (stat.S_IFMT(status.st_mode), stat.S_IMODE(status.st_mode), status.st_ino, status.st_rdev,
            status.st_uid, content)


def assert_refused(result, before, path, words):
    assert result.get("failed") is True, result
    assert words in result["msg"]
    assert "Traceback" not in result["msg"] and "exception" not in result
    assert path_state(path) == before


def make_kind(path, kind):
    """Put a thing of the given kind at path (kinds a careless path may reach)."""
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.close()
    elif kind == "character device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
        except PermissionError:
            pytest.skip("making a device needs CAP_MKNOD")
    elif kind == "regular":
        with open(path, "w") as handle:
            handle.write(SAMPLE)


# ---------------------------------------------------------------- path kinds

@pytest.mark.parametrize("module, args", [
    (prefect_profile, dict(name="a")),
    (prefect_config, dict(profile="prod", settings={"PREFECT_LOGGING_LEVEL": "DEBUG"})),
])
@pytest.mark.parametrize("kind, through_link", [
    ("character device", False), ("character device", True), ("FIFO", False), ("FIFO", True),
    ("socket", False), ("directory", False),
])
def test_anything_but_a_regular_file_is_refused_and_left_alone(
        run_module, tmp_path, module, args, kind, through_link):
    target = str(tmp_path / "thing")
    make_kind(target, kind)
    path = target
    if through_link:
        path = str(tmp_path / "profiles.toml")
        os.symlink(target, path)
    before, target_before = path_state(path), path_state(target)
    result = run_bounded(run_module, module, dict(args, path=path))
    assert_refused(result, before, path, "is a %s, not a regular file" % kind)
    assert path_state(target) == target_before


def test_check_mode_refuses_a_device_too(run_module, tmp_path):
    path = str(tmp_path / "null")
    make_kind(path, "character device")
    before = path_state(path)
    result = run_bounded(run_module, prefect_profile, dict(path=path, name="a"), check=True, diff=True)
    assert_refused(result, before, path, "not a regular file")


# ---------------------------------------------------------------- arguments checked before any write

@pytest.mark.parametrize("module, args", [
    (prefect_profile, dict(name="staging")),
    (prefect_config, dict(profile="prod", settings={"PREFECT_LOGGING_LEVEL": "DEBUG"})),
])
@pytest.mark.parametrize("file_args, words", [
    (dict(mode="0999"), "neither octal"),
    (dict(mode="u+q"), "neither octal"),
    (dict(mode="0100600"), "more than permissions"),
    (dict(owner="no-such-user-x"), "owner 'no-such-user-x' does not exist"),
    (dict(group="no-such-group-x"), "group 'no-such-group-x' does not exist"),
])
@pytest.mark.parametrize("existing", [True, False])
def test_bad_file_arguments_fail_before_anything_is_written(run_module, tmp_path, module, args, file_args, words,
                                                            existing):
    path = str(tmp_path / "profiles.toml")
    if existing:
        make_kind(path, "regular")
    elif module is prefect_config:
        args = dict(args, profile=None)  # no file: the active profile is missing either way
    before = path_state(path)
    result = run_bounded(run_module, module, dict(args, path=path, **file_args))
    if not existing and module is prefect_config:
        assert result.get("failed") is True and path_state(path) is None
        return
    assert_refused(result, before, path, words)


# ---------------------------------------------------------------- files and values Prefect reads

def test_a_profile_joins_an_inline_profiles_table_as_an_inline_table(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('active = "a"\nprofiles = { a = { PREFECT_DEBUG_MODE = "true" } }\n')
    result = run_bounded(run_module, prefect_profile, dict(path=str(path), name="b"))
    assert result["changed"] is True and result["profiles"] == ["a", "b"]
    text = path.read_text()
    assert tomllib.loads(text) == {"active": "a", "profiles": {"a": {"PREFECT_DEBUG_MODE": "true"}, "b": {}}}
    assert "[profiles" not in text  # still one inline table
    again = run_bounded(run_module, prefect_config,
                        dict(path=str(path), profile="b", settings={"PREFECT_LOGGING_LEVEL": "DEBUG"}))
    assert again["changed"] is True
    assert tomllib.loads(path.read_text())["profiles"]["b"] == {"PREFECT_LOGGING_LEVEL": "DEBUG"}


@pytest.mark.parametrize("key, value, words", [
    ("PREFECT_SERVER_API_CSRF_TOKEN_EXPIRATION", "P" + "9" * 5000 + "D", "expects a duration"),
    ("PREFECT_SERVER_API_CSRF_TOKEN_EXPIRATION", "9" * 5000 + ":00:00", "expects a duration"),
    ("PREFECT_SERVER_API_CSRF_TOKEN_EXPIRATION", "9" * 5000 + " days", "expects a duration"),
    ("PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS", "9" * 5000, "expects a duration"),
    ("PREFECT_CLIENT_MAX_RETRIES", "9" * 5000, "expects an integer of at most 4300 digits"),
    ("PREFECT_API_URL", "x" * (profiles_toml.LONGEST_VALUE + 1), "the modules take at most 65536"),
], ids=["iso-days", "clock-hours", "days", "seconds", "int-text", "too-long"])
def test_odd_values_get_a_message_and_the_file_stays(run_module, profiles, key, value, words):
    before = path_state(str(profiles))
    result = run_bounded(run_module, prefect_config, dict(path=str(profiles), profile="prod", settings={key: value}))
    assert_refused(result, before, str(profiles), words)
    assert len(result["msg"]) < 1000  # the value is not echoed whole


def test_an_empty_profile_name_does_not_fall_back_to_the_active_profile(run_module, profiles):
    before = path_state(str(profiles))
    result = run_bounded(run_module, prefect_config, dict(path=str(profiles), profile=" ",
                                                          settings={"PREFECT_LOGGING_LEVEL": "DEBUG"}))
    assert_refused(result, before, str(profiles), "profile must not be empty")


def test_a_file_past_the_size_bound_is_refused(run_module, tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(SAMPLE + "# " + "x" * profiles_toml.LARGEST_FILE + "\n")
    before = path_state(str(path))
    result = run_bounded(run_module, prefect_profile, dict(path=str(path), name="b"))
    assert_refused(result, before, str(path), "is larger than %d bytes" % profiles_toml.LARGEST_FILE)


# ---------------------------------------------------------------- the property

VALID_FILES = [
    "",
    SAMPLE,
    '# only a comment\n',
    'profiles = { a = { PREFECT_API_URL = "http://a/api" } }\n',
    '[profiles.a]\nPREFECT_SERVER_API_PORT = 4200\nPREFECT_DEBUG_MODE = true\n',
    'active = "prod"\n[profiles.prod]\nPREFECT_ORION_API_HOST = "0.0.0.0"\n',
]
# No lone surrogates: ansible-core refuses them in module arguments before a
# module runs (test_profiles_toml covers the modules' own check).
KEYS = ["PREFECT_API_URL", "PREFECT_SERVER_API_PORT", "PREFECT_DEBUG_MODE", "PREFECT_LOGGING_LEVEL",
        "PREFECT_ORION_API_HOST", "PREFECT_SERVER_API_CSRF_TOKEN_EXPIRATION", "PREFECT_API_AUTH_STRING",
        "PREFECT_HOME", "PREFECT_NOT_A_SETTING", ""]
ODD_TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["", " ", "\x00", "a\nb", "9" * 5000, "P9D",
                                                            "http://u:p@h/api", "prod"]))
VALUES = st.one_of(ODD_TEXT, st.integers(), st.sampled_from([-1, 0, 65536]), st.booleans(),
                   st.floats(), st.none(), st.lists(st.integers(), max_size=2))
# Half of the cases valid, so that success is checked as often as refusal.
NAMES = st.one_of(st.sampled_from(["prod", "a", "staging"]), ODD_TEXT)
VALID_SETTINGS = st.dictionaries(st.sampled_from(KEYS[:6]), st.sampled_from(["DEBUG", "true", "4201", "P1D"]),
                                 max_size=2)
FILES = st.one_of(st.sampled_from(VALID_FILES), st.sampled_from(VALID_FILES), st.text(max_size=200),
                  st.tuples(st.sampled_from(VALID_FILES), st.text(max_size=20)).map("".join))
KINDS = ["regular", "absent", "directory", "FIFO", "socket", "link to a regular file", "dangling link"]


def _cli(value):
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _place(directory, kind, content):
    path = os.path.join(directory, "profiles.toml")
    if kind == "regular":
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write(content)
    elif kind == "link to a regular file":
        with open(os.path.join(directory, "real.toml"), "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write(content)
        os.symlink("real.toml", path)
    elif kind == "dangling link":
        os.symlink("missing.toml", path)
    elif kind != "absent":
        make_kind(path, kind)
    return path


@hsettings(max_examples=300, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS[:2] * 3 + KINDS), content=FILES, use_config=st.booleans(), name=NAMES,
       settings=st.one_of(VALID_SETTINGS, st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3)),
       mode=st.sampled_from([None, None, None, "0600", "0640", "0999", "u=rw", "u+q"]),
       check=st.booleans())
def test_every_run_succeeds_correctly_or_fails_with_a_message_leaving_the_path_alone(
        run_module, kind, content, use_config, name, settings, mode, check):
    import tempfile
    with tempfile.TemporaryDirectory() as directory:
        path = _place(directory, kind, content)
        watched = [path] + ([os.path.join(directory, "real.toml")] if kind == "link to a regular file" else [])
        before = [path_state(item) for item in watched]
        args = dict(path=path, mode=mode)
        if use_config:
            module, args = prefect_config, dict(args, profile=name, settings=settings)
        else:
            module, args = prefect_profile, dict(args, name=name)
        result = run_bounded(run_module, module, args, check=check, diff=True)
        event("failed" if result.get("failed") else "changed" if result["changed"] else "unchanged")
        if result.get("failed"):
            assert isinstance(result["msg"], str) and result["msg"]
            assert "Traceback" not in result["msg"] and "exception" not in result, result
            assert [path_state(item) for item in watched] == before
            return
        if check or not result["changed"]:
            assert [path_state(item) for item in watched] == before
            return
        with open(os.path.realpath(path), "rb") as handle:
            written = tomllib.loads(handle.read().decode("utf-8"))
        if use_config:
            stored = written["profiles"][result["profile"]]
            for key, value in settings.items():
                current = profiles_toml.canonical_name(key)
                assert profiles_toml.same_value(current, stored[current], _cli(value))
        else:
            assert name in written["profiles"]
