# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading, validating and editing Prefect's profiles.toml.

Pure logic with no Ansible imports, so the unit tests exercise it directly.
Edits go through tomlkit so that comments, blank lines, key order and the
profiles a task does not touch stay byte-for-byte as they were.
"""
from __future__ import annotations

import datetime
import difflib
import operator
import os
import re
import stat
import string
import traceback

try:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import Comment, Table, InlineTable
    HAS_TOMLKIT = True
    TOMLKIT_IMPORT_ERROR = None
except ImportError:
    HAS_TOMLKIT = False
    TOMLKIT_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.selfhosted.prefect.plugins.module_utils.settings_catalog import (
    ALIASES,
    BOUNDS,
    CHOICES_OF_SETS,
    DEFAULT_ACTIVE_PROFILE,
    DEFAULT_PROFILES,
    INTEGRATIONS,
    LEGACY_NAMES,
    PREFECT_VERSION,
    SECRET_SETTINGS,
    SETTINGS,
)

# Prefect refuses these in profiles: they decide where profiles are read from.
REFUSED_SETTINGS = ("PREFECT_HOME", "PREFECT_PROFILES_PATH")
CATALOGUE_SOURCES = " or ".join(
    ["Prefect %s" % PREFECT_VERSION] + ["%s %s" % item for item in sorted(INTEGRATIONS.items())])
REDACTED = "********"
SECRET_CHANGED = REDACTED + " (changed)"
_TRUE = ("true", "1", "yes", "on", "t", "y")
_FALSE = ("false", "0", "no", "off", "f", "n")
# A duration as pydantic reads one from a profile: ISO 8601 ("P3D", "PT12H";
# a year is 365 days, a month 30) or days and a clock ("3d", "3 days, 12:00:00",
# "72:00:00", "12:00" for hours and minutes); a sign applies to the whole.
# Prefect refuses to load any setting after one it cannot read, so the module
# checks first.
_ISO_NUMBER = r"\d+(?:[.,]\d+)?"
_CLOCK_SECONDS = r":[0-5]\d(?:\.\d+)?"
_DURATION = re.compile(
    r"(?P<sign>[-+]?)(?:"
    r"P(?=\d|T\d)(?:(?P<years>{n})Y)?(?:(?P<months>{n})M)?(?:(?P<weeks>{n})W)?(?:(?P<days>{n})D)?"
    r"(?:T(?:(?P<hours>{n})H)?(?:(?P<minutes>{n})M)?(?:(?P<seconds>{n})S)?)?"
    r"|(?P<clock_days>\d+) ?[dD](?:ays?|AYS?)?(?: *|,? ?(?P<day_clock>\d{{1,2}}:[0-5]\d{s}|\d{{2}}:[0-5]\d))"
    r"|(?P<clock>\d+:[0-5]\d{s}|\d{{2,}}:[0-5]\d)"
    r")\Z".format(n=_ISO_NUMBER, s=_CLOCK_SECONDS), re.ASCII)
_ISO_UNIT_SECONDS = (("years", 365 * 86400), ("months", 30 * 86400), ("weeks", 7 * 86400), ("days", 86400),
                     ("hours", 3600), ("minutes", 60), ("seconds", 1))
# ISO 8601 allows a fraction in the last component only ("P1DT1.5H", not "P1.5DT1H").
_ISO_INNER_FRACTION = re.compile(r"^[-+]?P.*[.,]\d+[A-Z].*\d", re.ASCII)
# pydantic's limits on a duration: a Python timedelta's range (under a billion
# days; in floats the last microsecond below is the billion itself), an ISO
# number that fits 32 bits, a clock of at most 2,400,000,000 hours.
_DURATION_END = (datetime.timedelta.max.days + 1) * 86400.0
_SHORTEST_DURATION = datetime.timedelta.min.total_seconds()
_LARGEST_ISO_NUMBER = 2 ** 32 - 1
_LARGEST_CLOCK_HOURS = 2400000000
# Prefect's bounds on a value (settings_catalog.BOUNDS), as task errors word them.
_BOUND_CHECKS = (("gt", operator.gt, "more than"), ("ge", operator.ge, "at least"),
                 ("lt", operator.lt, "less than"), ("le", operator.le, "at most"))
_SECONDS_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?\Z", re.ASCII)
# The user part of scheme://user:password@host, and where a password ends.
_SCHEME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "+.-")
_URL_USER = re.compile(r"[^:/@\s]*:")
_PASSWORD_END = re.compile(r"[@\s]")
# Far above any real setting or profiles file, and below what would make a
# run slow: past these the modules refuse with a message.
LONGEST_VALUE = 64 * 1024
LARGEST_FILE = 1024 * 1024


class ProfilesError(Exception):
    """Bad input or a bad file: the message is meant for the user as is."""


# ---------------------------------------------------------------- setting names

def name_kind(key):
    """'current', 'alias' (older name Prefect 3 accepts), 'legacy' (Orion-era) or 'unknown'."""
    if key in SETTINGS:
        return "current"
    if key in ALIASES:
        return "alias"
    if key in LEGACY_NAMES:
        return "legacy"
    return "unknown"


def canonical_name(key):
    """The current Prefect 3 name of a setting, or None when the name is unknown."""
    if key in SETTINGS:
        return key
    return ALIASES.get(key) or LEGACY_NAMES.get(key)


# Pydantic's spellings of a boolean, as Prefect reads a setting (any case).
TRUE_WORDS = ("1", "on", "t", "true", "y", "yes")


def effective_profile(profiles, profile=None):
    """(name, settings) of the profile Prefect uses with this file: the one
    given, else the file's active one, else Prefect's own default; its
    settings are Prefect's defaults of that profile overridden key by key by
    the file's, under their current names (aliases resolved; Orion-era names
    take no effect in Prefect 3)."""
    name = profile or profiles.active or DEFAULT_ACTIVE_PROFILE
    settings = {}
    for layer in (DEFAULT_PROFILES.get(name, {}), profiles.settings(name) if profiles.has_profile(name) else {}):
        for key, value in layer.items():
            current = key if key in SETTINGS else ALIASES.get(key)
            if current:
                settings[current] = value
    return name, settings


def api_target(settings):
    """Where a flow run of a process with these settings goes: "hosted" (an
    API URL), "ephemeral" (none, and an in-process server allowed: its
    throwaway SQLite), or "refused" (none, and no ephemeral server: Prefect
    fails at once with "No Prefect API URL provided")."""
    if str(settings.get("PREFECT_API_URL") or "").strip():
        return "hosted"
    enabled = str(settings.get("PREFECT_SERVER_EPHEMERAL_ENABLED", "false")).strip().lower()
    return "ephemeral" if enabled in TRUE_WORDS else "refused"


def suggest_names(key, count=3):
    return difflib.get_close_matches(key, list(SETTINGS) + list(ALIASES), n=count, cutoff=0.6)


def resolve_setting_name(key, legacy_names="migrate"):
    """Validate a setting name from task input and return its current name.

    Raises ProfilesError for unknown and refused names, and for renamed names
    when legacy_names is 'fail'.
    """
    if key in REFUSED_SETTINGS:
        raise ProfilesError(
            "%s cannot be stored in a profile: Prefect reads it only from the environment, "
            "because it decides where profiles are read from." % key)
    kind = name_kind(key)
    if kind == "unknown":
        hint = suggest_names(key)
        raise ProfilesError("Unknown setting name %s (not a setting of %s)%s." % (
            key, CATALOGUE_SOURCES, "; did you mean %s?" % " or ".join(hint) if hint else ""))
    if kind != "current" and legacy_names == "fail":
        raise ProfilesError("%s is an old name of %s; use the current name (legacy_names=fail)." % (
            key, canonical_name(key)))
    return canonical_name(key)


# ---------------------------------------------------------------- values

def comma_set(text):
    """A comma_set setting as Prefect reads it: True or False for its legacy
    booleans, else the set of its comma-separated strings."""
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    return frozenset(item.strip() for item in text.split(",") if item.strip())


def _bool_value(text):
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def profile_value(key, value):
    """The string Prefect's CLI would store for a task value, validated by type.

    YAML hands us bools and ints; `prefect config set` stores strings, so a
    task and the CLI write the same bytes ("true", "4202").
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ProfilesError("%s must be a string, number or boolean, got %s." % (key, type(value).__name__))
    check_text("The value of %s" % key, text)
    name = canonical_name(key) or key
    expected = SETTINGS.get(name, "str")
    if expected == "bool" and _bool_value(text) is None:
        raise ProfilesError("%s expects a boolean (true or false), got %r." % (key, _shortened(text)))
    if isinstance(expected, list) and text.lower() not in [choice.lower() for choice in expected]:
        raise ProfilesError("%s expects one of %s, got %r." % (key, ", ".join(expected), _shortened(text)))
    if expected == "comma_set":
        _check_set_choices(key, text, CHOICES_OF_SETS[name])
    if expected in ("int", "float", "duration", "seconds_or_duration"):
        _check_bounds(key, text, _number(key, text, expected), BOUNDS.get(name, {}),
                      " seconds" if "duration" in expected else "")
    return text


def check_text(what, text):
    """Refuse text the file cannot hold or the modules should not carry."""
    if len(text) > LONGEST_VALUE:
        raise ProfilesError("%s is %d characters long; the modules take at most %d." % (
            what, len(text), LONGEST_VALUE))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProfilesError("%s holds %r at position %d, which is no Unicode character (a lone "
                            "surrogate); a profiles file is UTF-8." % (what, text[exc.start], exc.start))


def _shortened(text, length=80):
    return text if len(text) <= length else text[:length] + "..."


def _number(key, text, expected):
    """The number an int, float or duration setting's text stands for (a duration in seconds)."""
    if expected == "int":
        try:
            return int(text)
        except ValueError:
            raise ProfilesError("%s expects an integer of at most 4300 digits, got %r." % (key, _shortened(text)))
    if expected == "float":
        try:
            return float(text)
        except ValueError:
            raise ProfilesError("%s expects a number, got %r." % (key, _shortened(text)))
    seconds = duration_seconds(text, seconds=expected != "duration")
    if seconds is None:
        raise ProfilesError(
            "%s expects a duration such as P3D or PT12H (ISO 8601), 3d or 72:00:00%s, under a billion days, "
            "got %r." % (key, ", or a number of seconds" if expected != "duration" else "", _shortened(text)))
    return seconds


def _check_set_choices(key, text, choices):
    """Prefect loads unknown strings in a comma_set and fails only when a
    service reads them; refuse them here."""
    items = comma_set(text)
    unknown = sorted(items - set(choices)) if isinstance(items, frozenset) else []
    if unknown:
        raise ProfilesError("%s expects a comma-separated set of %s (or true or false), got %r: %s unknown." % (
            key, ", ".join(choices), _shortened(text), ", ".join(unknown)))


def _check_bounds(key, text, number, bounds, unit):
    for kind, holds, words in _BOUND_CHECKS:
        if kind in bounds and not holds(number, bounds[kind]):
            raise ProfilesError("%s must be %s %g%s, got %r." % (key, words, bounds[kind], unit, _shortened(text)))


def duration_seconds(text, seconds=False):
    """The length in seconds of the duration Prefect reads from text, or None
    when it reads none (seconds: a bare number of seconds counts too)."""
    total = float(text) if seconds and _SECONDS_NUMBER.match(text) else _written_duration_seconds(text)
    if total is None or not _SHORTEST_DURATION <= total < _DURATION_END:
        return None
    return total


def _written_duration_seconds(text):
    """duration_seconds of an ISO 8601 duration or of days and a clock."""
    match = _DURATION.match(text)
    if match is None or _ISO_INNER_FRACTION.match(text):
        return None
    parts = match.groupdict()
    if parts["clock"] or parts["clock_days"]:
        if parts["clock"] and _above(parts["clock"].split(":")[0], _LARGEST_CLOCK_HOURS):
            return None
        if parts["clock_days"] and _above(parts["clock_days"], _DURATION_END // 86400):
            return None
        total = int(parts["clock_days"] or 0) * 86400.0 + _clock_seconds(parts["clock"] or parts["day_clock"])
    else:
        numbers = [(parts[unit].replace(",", "."), size) for unit, size in _ISO_UNIT_SECONDS if parts[unit]]
        if any(_above(number.split(".")[0], _LARGEST_ISO_NUMBER) for number, size in numbers):
            return None
        total = sum(float(number) * size for number, size in numbers)
    return -total if parts["sign"] == "-" else total


def _above(digits, limit):
    """int(digits) > limit, without converting thousands of digits (Python refuses past 4300)."""
    digits = digits.lstrip("0")
    return len(digits) > len(str(int(limit))) or int(digits or "0") > limit


def _clock_seconds(clock):
    """H:MM:SS[.f], or HH:MM for hours and minutes."""
    if not clock:
        return 0.0
    fields = clock.split(":")
    return int(fields[0]) * 3600.0 + int(fields[1]) * 60.0 + (float(fields[2]) if len(fields) == 3 else 0.0)


def stored_string(value):
    """A value found in the file (a hand edit may leave a TOML bool or int) as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def same_value(key, stored, wanted):
    """Compare a value found in the file with a wanted string as Prefect would read both."""
    stored = stored_string(stored)
    expected = SETTINGS.get(canonical_name(key) or key, "str")
    if expected == "bool":
        return _bool_value(stored) == _bool_value(wanted)
    if expected in ("int", "float"):
        try:
            return float(stored) == float(wanted)
        except ValueError:
            return stored == wanted
    if isinstance(expected, list):
        return stored.lower() == wanted.lower()
    if expected == "comma_set":
        return comma_set(stored) == comma_set(wanted)
    return stored == wanted


def is_secret(key):
    return canonical_name(key) in SECRET_SETTINGS


def url_password_spans(value):
    """(start, end) of the password of each scheme://user:password@ in value.

    One pass over value whatever it holds: a regular expression for the
    whole shape backtracks over long runs of letters and takes seconds on a
    64 KiB value."""
    spans = []
    password_end = -1  # the first '@' or space (or the end) after the last search
    floor = 0
    separator = value.find("://")
    while separator >= 0:
        start = separator
        while start > floor and value[start - 1] in _SCHEME_CHARACTERS:
            start -= 1
        user = _URL_USER.match(value, separator + 3)
        next_from = separator + 3
        if user and any(char.isalpha() and char.isascii() for char in value[start:separator]):
            password_start = user.end()
            if password_end < password_start:
                found = _PASSWORD_END.search(value, password_start)
                password_end = found.start() if found else len(value)
            if password_end < len(value) and value[password_end] == "@":
                spans.append((password_start, password_end))
                next_from = floor = password_end + 1
        separator = value.find("://", next_from)
    return spans


def redact(key, value):
    """A value safe to show: secrets masked, passwords inside URLs masked."""
    if not isinstance(value, str):
        return value
    spans = url_password_spans(value)
    if is_secret(key) and not spans:
        return REDACTED if value else value
    shown, done = [], 0
    for start, end in spans:
        shown.extend((value[done:start], REDACTED))
        done = end
    shown.append(value[done:])
    return "".join(shown)


def secret_values(settings):
    """The values of settings that must never be printed, for no_log masking."""
    found = set()
    for key, value in settings.items():
        if not isinstance(value, str):
            continue
        if is_secret(key):
            found.add(value)
        found.update(value[start:end] for start, end in url_password_spans(value) if end > start)
    return found


# ---------------------------------------------------------------- the file

def resolve_path(path=None, prefect_home=None, environ=None):
    """Where profiles live, as Prefect resolves it (minus .env and prefect.toml)."""
    environ = os.environ if environ is None else environ
    if path:
        return os.path.expanduser(path)
    if prefect_home:
        return os.path.join(os.path.expanduser(prefect_home), "profiles.toml")
    if environ.get("PREFECT_PROFILES_PATH"):
        return os.path.expanduser(environ["PREFECT_PROFILES_PATH"])
    if environ.get("PREFECT_HOME"):
        return os.path.join(os.path.expanduser(environ["PREFECT_HOME"]), "profiles.toml")
    return os.path.expanduser("~/.prefect/profiles.toml")


_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def check_regular_file(path, status):
    """Refuse anything but a regular file: an edit replaces the file by a
    rename, which would turn /dev/null into a regular file."""
    if stat.S_ISREG(status.st_mode):
        return
    kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), "not a regular file")
    raise ProfilesError("%s is %s, not a regular file; point path or prefect_home at a profiles.toml "
                        "(or where one may be created)." % (path, kind))


class ProfilesFile:
    """One profiles.toml, parsed with tomlkit; edits keep everything else as it was."""

    def __init__(self, path, text):
        self.path = path
        self.original = text
        try:
            self.doc = tomlkit.parse(text)
        except TOMLKitError as exc:
            raise ProfilesError("%s is not valid TOML: %s" % (path, exc))
        self._check_structure()

    @classmethod
    def read(cls, path):
        """Load the file; a missing file reads as an empty one."""
        try:
            check_regular_file(path, os.stat(path))
            # O_NONBLOCK: should a FIFO replace the file meanwhile, opening it
            # would wait for a writer forever; fstat below refuses it.
            handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return cls(path, "")
        except OSError as exc:
            raise ProfilesError("Cannot read %s: %s" % (path, exc))
        try:
            check_regular_file(path, os.fstat(handle))
            with os.fdopen(handle, "rb") as stream:
                handle = None
                data = stream.read(LARGEST_FILE + 1)
            if len(data) > LARGEST_FILE:
                raise ProfilesError("%s is larger than %d bytes; a profiles file is a few kilobytes, "
                                    "so the modules refuse to edit it." % (path, LARGEST_FILE))
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfilesError("Cannot read %s: %s" % (path, exc))
        finally:
            if handle is not None:
                os.close(handle)
        return cls(path, text)

    def _check_structure(self):
        not_profiles = "%s is not a Prefect profiles file: " % self.path
        extra = [key for key in self.doc if key not in ("active", "profiles")]
        if extra:
            raise ProfilesError(not_profiles + "unexpected top-level key(s) %s "
                                "(expected only 'active' and [profiles.NAME] tables)." % ", ".join(extra))
        if "active" in self.doc and not isinstance(self.doc["active"], str):
            raise ProfilesError(not_profiles + "'active' must be a string naming a profile.")
        profiles = self.doc.get("profiles")
        if profiles is None:
            return
        if not isinstance(profiles, (Table, InlineTable)):
            raise ProfilesError(not_profiles + "'profiles' must be a table of [profiles.NAME] tables.")
        for name, table in profiles.items():
            if not isinstance(table, (Table, InlineTable)):
                raise ProfilesError(not_profiles + "profiles.%s must be a table of settings." % name)
            for key, value in table.items():
                if isinstance(value, (dict, list)):
                    raise ProfilesError(not_profiles + "profiles.%s.%s must be a plain value, not a %s." % (
                        name, key, "table" if isinstance(value, dict) else "list"))

    # -- reading

    @property
    def exists(self):
        return os.path.exists(self.path)

    @property
    def active(self):
        active = self.doc.get("active")
        return str(active) if active is not None else None

    def profile_names(self):
        return [str(name) for name in self.doc.get("profiles", {})]

    def has_profile(self, name):
        return name in self.doc.get("profiles", {})

    def settings(self, name):
        """A profile's settings as plain Python values, in file order."""
        table = self.doc["profiles"][name]
        return {str(key): _plain(value) for key, value in table.items()}

    def require_profile(self, name):
        if not self.has_profile(name):
            raise ProfilesError(
                "Profile %r does not exist in %s (profiles: %s). Create it first with "
                "selfhosted.prefect.prefect_profile." % (
                    name, self.path, ", ".join(self.profile_names()) or "none"))

    # -- editing

    def set_active(self, name):
        if self.active != name:
            self.doc["active"] = name

    def add_profile(self, name):
        """Add an empty profile, written like the others: a [profiles.NAME]
        table, or an inline table inside an inline profiles = {...}."""
        if "profiles" not in self.doc:
            self.doc["profiles"] = tomlkit.table(is_super_table=True)
        profiles = self.doc["profiles"]
        profiles[name] = tomlkit.inline_table() if isinstance(profiles, InlineTable) else tomlkit.table()

    def remove_profile(self, name):
        """Remove a profile. TOML parsers attach the comments written right
        above a [profiles.NEXT] header to the table before it; those move to
        where the removed table was, so the next profile keeps them."""
        profiles = self.doc["profiles"]
        body = profiles.value.body
        index = next(i for i, (key, _item) in enumerate(body) if key is not None and key.key == name)
        leading_next = _trailing_comments(body[index][1]) if index + 1 < len(body) else []
        del profiles[name]
        if not leading_next:
            return
        previous = next((item for key, item in reversed(body[:index]) if key is not None), None)
        if isinstance(previous, Table):
            previous.value.body.extend((None, item) for item in leading_next)
        elif not profiles.is_super_table():
            _insert_trivia(profiles.value, index, leading_next)
        elif isinstance(self.doc._map.get(tomlkit.key("profiles")), int):
            _insert_trivia(self.doc, self.doc._map[tomlkit.key("profiles")], leading_next)

    def set_setting(self, profile, key, value):
        """Replace a value in place, or add the key right after the profile's
        last key (right below the header when it has none), so comments and
        blank lines that end the table (often the comment above the next
        [profiles.X] header) stay where they are."""
        table = self.doc["profiles"][profile]
        if key in table:
            table[key] = value
            return
        # Only tomlkit's public appending is stable across its releases: set
        # the trailing comments aside, append the key, and put them back.
        body = table.value.body
        first_trailing = len(body)
        while first_trailing and body[first_trailing - 1][0] is None:
            first_trailing -= 1
        trailing = body[first_trailing:]
        del body[first_trailing:]
        table[key] = value
        body.extend(trailing)

    def remove_setting(self, profile, key):
        del self.doc["profiles"][profile][key]

    def render(self):
        text = tomlkit.dumps(self.doc)
        # tomlkit leaves a blank line at the end after removing or appending a
        # table; one final newline, as before the edit, is enough.
        if text.endswith("\n\n") and not self.original.endswith("\n\n"):
            text = text.rstrip("\n") + "\n"
        return text

    @property
    def changed(self):
        return self.render() != self.original

    # -- showing

    def redacted_text(self, text=None, compare_to=None):
        """The file text with secrets masked; where a secret differs from the same
        key in compare_to (a redacted 'after' versus 'before'), the mask says so."""
        doc = tomlkit.parse(self.render() if text is None else text)
        for name, table in doc.get("profiles", {}).items():
            for key in list(table):
                value = _plain(table[key])
                shown = redact(str(key), value)
                if shown == value:
                    continue
                before = _setting_of(compare_to, name, key)
                if compare_to is not None and before is not None and before != value and redact(str(key), before) == shown:
                    shown = SECRET_CHANGED if shown == REDACTED else shown + " (changed)"
                table[key] = shown
        return tomlkit.dumps(doc)


def _trailing_comments(table):
    """The comment lines that end a table's body (they sit above the next header)."""
    found = []
    for key, item in reversed(table.value.body if isinstance(table, Table) else []):
        if key is not None or not isinstance(item, Comment):
            break
        found.insert(0, item)
    return found


def _insert_trivia(container, index, items):
    """Insert comment items into a tomlkit container before position index."""
    container.body[index:index] = [(None, item) for item in items]
    for key, position in list(container._map.items()):
        if isinstance(position, tuple):
            container._map[key] = tuple(p + len(items) if p >= index else p for p in position)
        elif position >= index:
            container._map[key] = position + len(items)


def _plain(value):
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if unwrap else value


def _setting_of(profiles_file, profile, key):
    if profiles_file is None or not profiles_file.has_profile(profile):
        return None
    return profiles_file.settings(profile).get(str(key))
