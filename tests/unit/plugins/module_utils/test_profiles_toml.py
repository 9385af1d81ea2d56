# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure-logic tests of profiles_toml: names, values, redaction, parsing and
format-preserving edits, plus property tests over random edit sequences."""
from __future__ import annotations

import os
import re
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ansible_collections.selfhosted.prefect.plugins.module_utils import profiles_toml as pt
from ansible_collections.selfhosted.prefect.plugins.module_utils.settings_catalog import (
    ALIASES,
    INTEGRATIONS,
    LEGACY_NAMES,
    PREFECT_VERSION,
    SECRET_SETTINGS,
    SETTINGS,
)
from ansible_collections.selfhosted.prefect.plugins.modules.prefect_config import configure


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("key, kind, current", [
    ("PREFECT_API_URL", "current", "PREFECT_API_URL"),
    ("PREFECT_UI_API_URL", "alias", "PREFECT_SERVER_UI_API_URL"),
    ("PREFECT_API_DATABASE_CONNECTION_URL", "alias", "PREFECT_SERVER_DATABASE_CONNECTION_URL"),
    ("PREFECT_ORION_API_PORT", "legacy", "PREFECT_SERVER_API_PORT"),
    ("PREFECT_ORION_DATABASE_CONNECTION_URL", "legacy", "PREFECT_SERVER_DATABASE_CONNECTION_URL"),
    ("PREFECT_ORION_UI_API_URL", "legacy", "PREFECT_SERVER_UI_API_URL"),
    ("PREFECT_ORION_API_DEFAULT_LIMIT", "legacy", "PREFECT_SERVER_API_DEFAULT_LIMIT"),
    ("PREFECT_API_ULR", "unknown", None),
])
def test_name_kind_and_canonical_name(key, kind, current):
    assert pt.name_kind(key) == kind
    assert pt.canonical_name(key) == current


def test_catalogue_is_consistent():
    # Every alias and legacy name points at a setting the catalogue knows,
    # and the secrets are settings too.
    assert set(ALIASES.values()) <= set(SETTINGS)
    assert set(LEGACY_NAMES.values()) <= set(SETTINGS)
    assert SECRET_SETTINGS <= set(SETTINGS)
    assert not set(ALIASES) & set(SETTINGS)
    assert all(name.startswith("PREFECT_ORION_") for name in LEGACY_NAMES)


def test_resolve_unknown_name_suggests_close_names():
    with pytest.raises(pt.ProfilesError) as err:
        pt.resolve_setting_name("PREFECT_API_ULR")
    assert "Unknown setting name PREFECT_API_ULR" in str(err.value)
    assert "did you mean PREFECT_API_URL" in str(err.value)


@pytest.mark.parametrize("key", [
    "PREFECT_REDIS_MESSAGING_HOST", "PREFECT_REDIS_MESSAGING_PASSWORD", "PREFECT_REDIS_MESSAGING_PUBLISHER_BATCH_SIZE"])
def test_prefect_redis_settings_are_known(key):
    assert "prefect-redis" in INTEGRATIONS
    assert pt.resolve_setting_name(key) == key


def test_unknown_name_names_every_catalogued_source():
    with pytest.raises(pt.ProfilesError) as err:
        pt.resolve_setting_name("PREFECT_REDIS_MESSAGING_HOSTNAME")
    assert "not a setting of Prefect %s or prefect-redis %s" % (
        PREFECT_VERSION, INTEGRATIONS["prefect-redis"]) in str(err.value)
    assert "did you mean PREFECT_REDIS_MESSAGING_HOST" in str(err.value)


def test_resolve_unknown_name_without_any_close_match_has_no_hint():
    with pytest.raises(pt.ProfilesError) as err:
        pt.resolve_setting_name("XYZ")
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize("key", ["PREFECT_HOME", "PREFECT_PROFILES_PATH"])
def test_resolve_refuses_location_settings(key):
    with pytest.raises(pt.ProfilesError, match="%s cannot be stored in a profile" % key):
        pt.resolve_setting_name(key)


@pytest.mark.parametrize("key", ["PREFECT_ORION_API_PORT", "PREFECT_UI_API_URL"])
def test_resolve_legacy_fail_refuses_renamed_names(key):
    assert pt.resolve_setting_name(key, "migrate") == pt.canonical_name(key)
    with pytest.raises(pt.ProfilesError, match="old name of %s" % pt.canonical_name(key)):
        pt.resolve_setting_name(key, "fail")


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("key, value, stored", [
    ("PREFECT_SERVER_UI_ENABLED", True, "true"),
    ("PREFECT_SERVER_UI_ENABLED", False, "false"),
    ("PREFECT_SERVER_UI_ENABLED", "True", "True"),
    ("PREFECT_SERVER_API_PORT", 4202, "4202"),
    ("PREFECT_SERVER_API_PORT", "4202", "4202"),
    ("PREFECT_API_REQUEST_TIMEOUT", 2.5, "2.5"),
    ("PREFECT_LOGGING_LEVEL", "debug", "debug"),
    ("PREFECT_API_URL", "http://h:4200/api", "http://h:4200/api"),
    ("PREFECT_ORION_API_PORT", 4202, "4202"),  # typed by its current name
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "P3D", "P3D"),
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "3 days, 12:00:00", "3 days, 12:00:00"),
    ("PREFECT_EVENTS_RETENTION_PERIOD", "72:00:00", "72:00:00"),  # an alias, typed by its current name
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", 7776000, "7776000"),  # this one reads seconds too
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "P90D", "P90D"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "PT1H0.5S", "PT1H0.5S"),  # just past its bound
    ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", 30, "30"),  # at its bound
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "events,flow_runs", "events,flow_runs"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", " orphans , events,", " orphans , events,"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", True, "true"),  # the legacy boolean
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "", ""),
])
def test_profile_value_stores_strings_like_the_cli(key, value, stored):
    assert pt.profile_value(key, value) == stored


@pytest.mark.parametrize("key, value, message", [
    ("PREFECT_SERVER_API_PORT", "forty", "expects an integer"),
    ("PREFECT_ORION_API_PORT", "forty", "expects an integer"),
    ("PREFECT_SERVER_UI_ENABLED", "maybe", "expects a boolean"),
    ("PREFECT_API_REQUEST_TIMEOUT", "soon", "expects a number"),
    ("PREFECT_LOGGING_LEVEL", "LOUD", "expects one of"),
    # Prefect reads no bare seconds here, and then loads no setting at all.
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", 259200, "expects a duration such as P3D"),
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "2 weeks", "expects a duration"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "90 days please", "or a number of seconds"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "nan", "or a number of seconds"),
    # Past what pydantic reads: a timedelta's range, a 32-bit ISO number.
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "P1000000000D", "under a billion days, got 'P1000000000D'"),
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "PT4294967296S", "expects a duration"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", 1e14, "or a number of seconds, under a billion days"),
    # Prefect's bounds, which it enforces the same way.
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "1:00:00", "must be more than 3600 seconds"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", 3600, "must be more than 3600 seconds"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE", 0, "must be more than 0, got '0'"),
    ("PREFECT_API_SERVICES_EVENT_PERSISTER_BATCH_SIZE", "-5", "must be more than 0"),  # an alias, bound by its current name
    ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", 29, "must be at least 30"),
    ("PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION", 3600.5, "must be at most 3600"),
    ("PREFECT_SERVER_DATABASE_MIGRATION_TIMEOUT", "nan", "must be more than 0"),
    # Prefect loads these and its vacuum service fails on them later.
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "events,flow_run",
     r"expects a comma-separated set of events, flow_runs, orphans \(or true or false\), got 'events,flow_run': flow_run unknown"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "Events", "Events unknown"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "yes", "yes unknown"),
    ("PREFECT_API_URL", ["a"], "must be a string, number or boolean"),
    ("PREFECT_API_URL", {"a": 1}, "must be a string, number or boolean"),
])
def test_profile_value_rejects_wrong_types_and_values_out_of_bounds(key, value, message):
    with pytest.raises(pt.ProfilesError, match=message):
        pt.profile_value(key, value)


@pytest.mark.parametrize("key, stored, wanted, same", [
    ("PREFECT_SERVER_UI_ENABLED", "True", "true", True),
    ("PREFECT_SERVER_UI_ENABLED", True, "true", True),
    ("PREFECT_SERVER_UI_ENABLED", "false", "true", False),
    ("PREFECT_SERVER_API_PORT", 4202, "4202", True),
    ("PREFECT_SERVER_API_PORT", "4202", "4203", False),
    ("PREFECT_LOGGING_LEVEL", "INFO", "info", True),
    ("PREFECT_API_URL", "http://a/api", "http://A/api", False),
    ("PREFECT_ORION_API_PORT", "4202", "4202", True),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "flow_runs, events", "events,flow_runs", True),  # a set
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "1", "true", True),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "events", "events,orphans", False),
    # The same vacuum in effect, but compared as Prefect reads them: one rewrite, never a wrong match.
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "false", "events", False),
])
def test_same_value_compares_by_meaning(key, stored, wanted, same):
    assert pt.same_value(key, stored, wanted) is same


# ---------------------------------------------------------------- redaction

@pytest.mark.parametrize("key, value, shown", [
    ("PREFECT_API_AUTH_STRING", "admin:hunter2", "********"),
    ("PREFECT_SERVER_API_AUTH_STRING", "admin:hunter2", "********"),
    ("PREFECT_API_KEY", "pnu_abc", "********"),
    ("PREFECT_SERVER_DATABASE_PASSWORD", "pw", "********"),
    ("PREFECT_API_DATABASE_PASSWORD", "pw", "********"),  # alias of a secret
    ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://prefect:s3cret@db:5432/prefect",
     "postgresql+asyncpg://prefect:********@db:5432/prefect"),
    ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:////var/lib/prefect/prefect.db", "********"),
    ("PREFECT_API_URL", "https://ops:pa55@prefect.example.com/api", "https://ops:********@prefect.example.com/api"),
    ("PREFECT_API_URL", "http://prefect.example.com:4200/api", "http://prefect.example.com:4200/api"),
    ("PREFECT_API_KEY", "", ""),
    # prefect-redis and the Docket type these as plain strings; they hold credentials all the same.
    ("PREFECT_REDIS_MESSAGING_PASSWORD", "pw", "********"),
    ("PREFECT_REDIS_MESSAGING_URL", "redis://:s3cret@redis:6379/0", "redis://:********@redis:6379/0"),
    ("PREFECT_SERVER_DOCKET_URL", "redis://prefect:s3cret@redis:6379/1", "redis://prefect:********@redis:6379/1"),
])
def test_redact(key, value, shown):
    assert pt.redact(key, value) == shown


def test_secret_values_collects_secrets_and_url_passwords():
    found = pt.secret_values({
        "PREFECT_API_AUTH_STRING": "admin:hunter2",
        "PREFECT_API_URL": "https://ops:pa55@prefect.example.com/api",
        "PREFECT_SERVER_API_PORT": 4200,
        "PREFECT_SERVER_API_HOST": "0.0.0.0",
    })
    assert found == {"admin:hunter2", "pa55"}


# What url_password_spans finds, said as the regular expression it replaces
# (which backtracked quadratically on long values).
URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:(?P<password>[^@\s]*)@")


@hsettings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("aZ09+.-:/@ \t_%\u00e9") + ["://", "u:p@"]), max_size=40).map("".join))
def test_url_password_spans_are_the_passwords_of_every_url(value):
    assert pt.url_password_spans(value) == [m.span("password") for m in URL_PASSWORD.finditer(value)]


@pytest.mark.parametrize("value, passwords", [
    ("a://u:p@h b://v:q@i", ["p", "q"]),
    ("postgresql+asyncpg://u:p:w@db/x", ["p:w"]),
    ("1://u:p@h", []),  # a scheme starts with a letter
    ("x1://u:p@h", ["p"]),
    ("a://u:p h@i", []),  # no space in a password
    ("a://u:p/q@h", ["p/q"]),
    ("a://u@h:p@i", []),
])
def test_url_password_spans_examples(value, passwords):
    assert [value[start:end] for start, end in pt.url_password_spans(value)] == passwords


@pytest.mark.parametrize("text, words", [
    ("a\udc80b", "'\\udc80' at position 1, which is no Unicode character"),
    ("x" * (pt.LONGEST_VALUE + 1), "is 65537 characters long; the modules take at most 65536"),
])
def test_check_text_refuses_what_a_file_cannot_hold(text, words):
    with pytest.raises(pt.ProfilesError, match=re.escape(words)):
        pt.check_text("The value", text)
    with pytest.raises(pt.ProfilesError, match=re.escape(words)):
        pt.profile_value("PREFECT_API_URL", text)


# ---------------------------------------------------------------- path

def test_resolve_path_order(tmp_path):
    env = {"PREFECT_PROFILES_PATH": "/env/profiles.toml", "PREFECT_HOME": "/envhome"}
    assert pt.resolve_path("/explicit.toml", "/home", env) == "/explicit.toml"
    assert pt.resolve_path(None, "/home", env) == "/home/profiles.toml"
    assert pt.resolve_path(None, None, env) == "/env/profiles.toml"
    assert pt.resolve_path(None, None, {"PREFECT_HOME": "/envhome"}) == "/envhome/profiles.toml"
    assert pt.resolve_path(None, None, {}) == os.path.expanduser("~/.prefect/profiles.toml")


# ---------------------------------------------------------------- parsing

SAMPLE = '''# Managed partly by hand; keep this header.
active = "prod"

# The production API
[profiles.prod]
PREFECT_API_URL = "http://prefect.example.com:4200/api"  # hosted
PREFECT_API_AUTH_STRING = "ops:hunter2"

# scratch profile, do not delete
[profiles.scratch]
PREFECT_LOGGING_LEVEL="DEBUG"
PREFECT_SERVER_UI_ENABLED = true
'''


@pytest.mark.parametrize("text, message", [
    ("[profiles.a\n", "is not valid TOML"),
    ('active = "a"\n[profiles.a]\nX = "1"\nX = "2"\n', "is not valid TOML"),
    ('[tool.poetry]\nname = "x"\n', "unexpected top-level key(s) tool"),
    ("active = 3\n", "'active' must be a string"),
    ("profiles = 3\n", "'profiles' must be a table"),
    ("[profiles]\na = 1\n", "profiles.a must be a table of settings"),
    ('[profiles.a.sub]\nX = "1"\n', "profiles.a.sub must be a plain value, not a table"),
    ("[profiles.a]\nX = [1]\n", "profiles.a.X must be a plain value, not a list"),
])
def test_bad_files_are_refused(text, message):
    with pytest.raises(pt.ProfilesError) as err:
        pt.ProfilesFile("/p/profiles.toml", text)
    assert message in str(err.value)
    assert "/p/profiles.toml" in str(err.value)


def test_read_missing_file_is_empty(tmp_path):
    profiles = pt.ProfilesFile.read(str(tmp_path / "nope.toml"))
    assert not profiles.exists
    assert profiles.profile_names() == []
    assert profiles.active is None


def test_read_undecodable_file_fails(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_bytes(b'[profiles.a]\nPREFECT_API_URL = "\xff\xfe"\n')
    with pytest.raises(pt.ProfilesError, match="Cannot read"):
        pt.ProfilesFile.read(str(path))


def test_read_directory_fails(tmp_path):
    with pytest.raises(pt.ProfilesError, match="is a directory, not a regular file"):
        pt.ProfilesFile.read(str(tmp_path))


def test_parse_and_render_round_trip():
    profiles = pt.ProfilesFile("p", SAMPLE)
    assert profiles.render() == SAMPLE
    assert not profiles.changed
    assert profiles.active == "prod"
    assert profiles.profile_names() == ["prod", "scratch"]
    assert profiles.settings("scratch") == {"PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_SERVER_UI_ENABLED": True}
    with pytest.raises(pt.ProfilesError, match="Profile 'nope' does not exist.*prefect_profile"):
        profiles.require_profile("nope")


def test_replacing_a_value_keeps_its_inline_comment_and_everything_else():
    profiles = pt.ProfilesFile("p", SAMPLE)
    profiles.set_setting("prod", "PREFECT_API_URL", "http://other:4200/api")
    assert profiles.render() == SAMPLE.replace("prefect.example.com:4200", "other:4200")


def test_new_key_goes_after_the_last_key_not_under_the_next_profiles_comment():
    profiles = pt.ProfilesFile("p", SAMPLE)
    profiles.set_setting("prod", "PREFECT_SERVER_API_PORT", "4202")
    expected = SAMPLE.replace(
        'PREFECT_API_AUTH_STRING = "ops:hunter2"\n',
        'PREFECT_API_AUTH_STRING = "ops:hunter2"\nPREFECT_SERVER_API_PORT = "4202"\n')
    assert profiles.render() == expected


def test_removing_a_key_removes_only_its_line():
    profiles = pt.ProfilesFile("p", SAMPLE)
    profiles.remove_setting("prod", "PREFECT_API_AUTH_STRING")
    assert profiles.render() == SAMPLE.replace('PREFECT_API_AUTH_STRING = "ops:hunter2"\n', "")


def test_removing_the_last_profile_keeps_one_final_newline():
    profiles = pt.ProfilesFile("p", SAMPLE)
    profiles.remove_profile("scratch")
    text = profiles.render()
    assert text.endswith('"ops:hunter2"\n\n# scratch profile, do not delete\n') or text.endswith('"ops:hunter2"\n')
    assert not text.endswith("\n\n")
    assert text.startswith(SAMPLE[:SAMPLE.index("# scratch")].rstrip("\n"))
    assert "scratch" not in tomllib.loads(text)["profiles"]


def test_new_file_from_scratch_is_what_prefect_reads():
    profiles = pt.ProfilesFile("p", "")
    profiles.add_profile("server")
    profiles.set_active("server")
    profiles.set_setting("server", "PREFECT_SERVER_API_PORT", "4202")
    assert tomllib.loads(profiles.render()) == {
        "active": "server", "profiles": {"server": {"PREFECT_SERVER_API_PORT": "4202"}}}


def test_redacted_text_masks_secrets_and_marks_changed_ones():
    before = pt.ProfilesFile("p", SAMPLE)
    after = pt.ProfilesFile("p", SAMPLE)
    after.set_setting("prod", "PREFECT_API_AUTH_STRING", "ops:correct-horse")
    before_text = before.redacted_text()
    after_text = after.redacted_text(compare_to=before)
    for text in (before_text, after_text):
        assert "hunter2" not in text and "correct-horse" not in text
        assert "# The production API" in text
    assert 'PREFECT_API_AUTH_STRING = "********"' in before_text
    assert 'PREFECT_API_AUTH_STRING = "******** (changed)"' in after_text
    # unchanged secrets stay plainly masked
    assert "(changed)" not in pt.ProfilesFile("p", SAMPLE).redacted_text(compare_to=before)


def test_redacted_text_marks_a_changed_password_inside_a_url():
    base = '[profiles.s]\nPREFECT_SERVER_DATABASE_CONNECTION_URL = "postgresql+asyncpg://u:%s@db/prefect"\n'
    before = pt.ProfilesFile("p", base % "old-pw")
    after = pt.ProfilesFile("p", base % "new-pw")
    shown = after.redacted_text(compare_to=before)
    assert "old-pw" not in shown and "new-pw" not in shown
    assert "postgresql+asyncpg://u:********@db/prefect (changed)" in shown


# ---------------------------------------------------------------- property tests

# A manageable pool of known names, with values valid for their types.
POOL = {
    "PREFECT_API_URL": st.sampled_from(["http://a:4200/api", "http://b.example.com/api"]),
    "PREFECT_SERVER_API_PORT": st.integers(min_value=1, max_value=65535),
    "PREFECT_SERVER_API_HOST": st.sampled_from(["0.0.0.0", "127.0.0.1", "prefect.local"]),
    "PREFECT_SERVER_UI_ENABLED": st.booleans(),
    "PREFECT_LOGGING_LEVEL": st.sampled_from(["DEBUG", "INFO", "WARNING"]),
    "PREFECT_API_AUTH_STRING": st.text(alphabet="abcxyz:019", min_size=1, max_size=12),
    "PREFECT_API_REQUEST_TIMEOUT": st.sampled_from([10, 30.5, "60"]),
    "PREFECT_SERVER_ANALYTICS_ENABLED": st.booleans(),
}
PROFILES = ["alpha", "beta", "gamma", "delta"]
comment_text = st.text(alphabet="abcdefghij klmnop-_.", min_size=0, max_size=20).map(lambda s: "# " + s)


def _as_cli_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@st.composite
def profiles_files(draw):
    """A random profiles file: comments and blank lines around everything,
    plus the mapping it holds."""
    names = draw(st.lists(st.sampled_from(PROFILES), min_size=1, max_size=4, unique=True))
    mapping = {}
    lines = []
    for dummy in range(draw(st.integers(0, 2))):
        lines.append(draw(comment_text))
    lines.append('active = "%s"' % names[0])
    for name in names:
        if draw(st.booleans()):
            lines.append("")
        for dummy in range(draw(st.integers(0, 2))):
            lines.append(draw(comment_text))
        lines.append("[profiles.%s]" % name)
        keys = draw(st.lists(st.sampled_from(sorted(POOL)), max_size=4, unique=True))
        mapping[name] = {}
        for key in keys:
            for dummy in range(draw(st.integers(0, 1))):
                lines.append(draw(comment_text))
            value = _as_cli_string(draw(POOL[key]))
            mapping[name][key] = value
            lines.append('%s = "%s"' % (key, value))
    for dummy in range(draw(st.integers(0, 2))):
        lines.append(draw(comment_text))
    return "\n".join(lines) + "\n", mapping, names


@st.composite
def edits(draw, names):
    steps = []
    for dummy in range(draw(st.integers(1, 6))):
        profile = draw(st.sampled_from(names))
        keys = draw(st.lists(st.sampled_from(sorted(POOL)), min_size=1, max_size=3, unique=True))
        split = draw(st.integers(0, len(keys)))
        settings = {key: draw(POOL[key]) for key in keys[:split]}
        unset = keys[split:]
        steps.append((profile, settings, unset))
    return steps


def _blocks(text):
    """Text of each [profiles.NAME] table: from its header to the next header."""
    found = {}
    pieces = re.split(r"(?m)^(?=\[profiles\.)", text)
    for piece in pieces[1:]:
        name = re.match(r"\[profiles\.([^\]]+)\]", piece).group(1)
        found[name] = piece
    return found


def _leading_comments(text):
    """The comment lines directly above each [profiles.NAME] header."""
    lines = text.splitlines()
    found = {}
    for index, line in enumerate(lines):
        if line.startswith("[profiles."):
            run = []
            cursor = index - 1
            while cursor >= 0 and lines[cursor].startswith("#"):
                run.insert(0, lines[cursor])
                cursor -= 1
            found[line] = run
    return found


def _comments(text):
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_edit_sequences_preserve_untouched_text(data):
    text, mapping, names = data.draw(profiles_files())
    steps = data.draw(edits(names))
    original = text
    touched = set()
    for profile, settings, unset in steps:
        profiles = pt.ProfilesFile("p", text)
        configure(profiles, profile, settings, unset, False, "migrate", lambda msg: None)
        text = profiles.render()
        for key in unset:
            mapping[profile].pop(key, None)
        for key, value in settings.items():
            mapping[profile][key] = _as_cli_string(value) if not (
                key in mapping[profile] and pt.same_value(key, mapping[profile][key], _as_cli_string(value))
            ) else mapping[profile][key]
        touched.add(profile)

    # The result is exactly the expected mapping, as Prefect's reader sees it.
    parsed = tomllib.loads(text)
    assert parsed["profiles"] == mapping
    assert parsed["active"] == names[0]
    # Every comment survives, in order (edits only ever add or drop key lines).
    assert _comments(text) == _comments(original)
    # A comment written above a profile's header stays right above it (more
    # comments may join it when the key lines between them are unset).
    leading_before, leading_after = _leading_comments(original), _leading_comments(text)
    for header, run in leading_before.items():
        assert leading_after[header][len(leading_after[header]) - len(run):] == run
    # Profiles that no step touched keep their text byte for byte.
    before, after = _blocks(original), _blocks(text)
    for name in set(names) - touched:
        assert after[name] == before[name]
    # Re-applying the last step changes nothing.
    profile, settings, unset = steps[-1]
    again = pt.ProfilesFile("p", text)
    configure(again, profile, settings, unset, False, "migrate", lambda msg: None)
    assert again.render() == text


@hsettings(max_examples=100, deadline=None)
@given(data=st.data())
def test_random_files_round_trip_and_redact(data):
    text, mapping, names = data.draw(profiles_files())
    profiles = pt.ProfilesFile("p", text)
    assert profiles.render() == text
    assert {name: {k: pt.stored_string(v) for k, v in profiles.settings(name).items()} for name in names} == mapping
    shown = profiles.redacted_text()
    assert _comments(shown) == _comments(text)
    for name in names:
        secret = mapping[name].get("PREFECT_API_AUTH_STRING")
        if secret:
            assert tomllib.loads(shown)["profiles"][name]["PREFECT_API_AUTH_STRING"] == "********"


# ---------------------------------------------------------------- where a flow run goes

@pytest.mark.parametrize("text, profile, expected", [
    ("", None, ("ephemeral", "ephemeral")),  # no file: Prefect's own profile, which allows the server
    ('active = "ephemeral"\n[profiles.ephemeral]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n', None, ("ephemeral", "ephemeral")),
    ('[profiles.ops]\nPREFECT_API_URL = "https://p/api"\n', None, ("ephemeral", "ephemeral")),  # no active key
    ('active = "ops"\n[profiles.ops]\nPREFECT_API_URL = "https://p/api"\n', None, ("ops", "hosted")),
    ('active = "ops"\n[profiles.ops]\nPREFECT_LOGGING_LEVEL = "DEBUG"\n', None, ("ops", "refused")),
    ('active = "ops"\n[profiles.ops]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "True"\n', None, ("ops", "ephemeral")),
    ('active = "ops"\n[profiles.ops]\nPREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "yes"\n', None, ("ops", "ephemeral")),
    ('active = "ops"\n[profiles.ops]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "off"\n', None, ("ops", "refused")),
    ('active = "ephemeral"\n[profiles.ephemeral]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "false"\n', None,
     ("ephemeral", "refused")),  # the file's value wins over Prefect's
    ('active = "local"\n', None, ("local", "hosted")),  # Prefect's "local" profile has a URL
    ('active = "ops"\n[profiles.ops]\nPREFECT_ORION_API_URL = "https://p/api"\n', None, ("ops", "refused")),
    ('active = "ops"\n[profiles.ops]\nPREFECT_API_URL = "https://p/api"\n[profiles.dev]\n', "dev", ("dev", "refused")),
    ('active = "ops"\n[profiles.ops]\nPREFECT_API_URL = "  "\n', None, ("ops", "refused")),
])
def test_the_profile_prefect_uses_and_where_its_runs_go(text, profile, expected):
    name, settings = pt.effective_profile(pt.ProfilesFile("p", text), profile)
    assert (name, pt.api_target(settings)) == expected


@given(value=st.text(max_size=8))
def test_only_pydantics_true_words_allow_the_ephemeral_server(value):
    target = pt.api_target({"PREFECT_SERVER_EPHEMERAL_ENABLED": value})
    assert target == ("ephemeral" if value.strip().lower() in ("1", "on", "t", "true", "y", "yes") else "refused")
