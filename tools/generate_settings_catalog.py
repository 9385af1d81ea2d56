#!/usr/bin/env python
"""Regenerate plugins/module_utils/settings_catalog.py from Prefect's own settings.

Run it with the Python of a venv that has the Prefect release to catalogue
and the integrations the roles install (INTEGRATIONS), at the versions the
shipped constraints file pins:

    .cache/prefect-venv/bin/python tools/generate_settings_catalog.py

It walks Prefect's pydantic settings models the way `prefect config set`
validates names (prefect.settings.legacy), and records for every setting its
canonical name, a coarse value type used to validate task input, the bounds
Prefect sets on a number or a duration, the strings a comma-separated set
setting accepts, whether Prefect treats it as a
secret, and the older aliases Prefect still accepts.
The Orion-era names (removed in Prefect 2.13) are derived from those aliases
by the renames Prefect 2.8.1 made.
"""
from __future__ import annotations

import datetime
import enum
import importlib
import importlib.metadata
import inspect
import pkgutil
import sys
import types
import typing
from pathlib import Path

import annotated_types
from pydantic import AliasChoices, TypeAdapter, ValidationError

import prefect
from prefect.settings.base import PrefectBaseSettings
from prefect.settings.constants import _SECRET_TYPES
from prefect.settings.models.root import Settings

TARGET = Path(__file__).resolve().parent.parent / "plugins" / "module_utils" / "settings_catalog.py"

# Integrations the roles install, whose settings a profile may hold: their
# settings models are found by walking the installed package.
INTEGRATIONS = ("prefect-redis",)

# Prefect 2.8.1 renamed PREFECT_ORION_<rest> to these prefixes (taken from
# prefect 2.10.21 settings.py); Prefect 3 renamed them again to their current
# names, which the alias table resolves.
ORION_RENAMES = (
    ("PREFECT_ORION_API_HOST", "PREFECT_SERVER_API_HOST"),
    ("PREFECT_ORION_API_PORT", "PREFECT_SERVER_API_PORT"),
    ("PREFECT_ORION_API_KEEPALIVE_TIMEOUT", "PREFECT_SERVER_API_KEEPALIVE_TIMEOUT"),
    ("PREFECT_ORION_API_DEFAULT_LIMIT", "PREFECT_API_DEFAULT_LIMIT"),
    ("PREFECT_ORION_ANALYTICS_ENABLED", "PREFECT_SERVER_ANALYTICS_ENABLED"),
)
ORION_PREFIX_RENAMES = (
    ("PREFECT_ORION_DATABASE_", "PREFECT_API_DATABASE_"),
    ("PREFECT_ORION_SERVICES_", "PREFECT_API_SERVICES_"),
    ("PREFECT_ORION_UI_", "PREFECT_UI_"),
)

# Settings read as a comma-separated set of fixed strings -> where Prefect
# keeps the strings it accepts. Prefect checks them only when a service reads
# the setting, so a typo loads and fails later, in the server.
SET_CHOICES = {
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": ("prefect.settings.models.server.services", "_VALID_VACUUM_TYPES"),
}


def value_type(annotation):
    """A coarse type: 'bool', 'int', 'float', 'duration', a sorted list of
    choices, or 'str'."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return value_type(args[0])
    if origin is typing.Annotated:
        return value_type(args[0])
    if origin is typing.Literal:
        return sorted(str(a) for a in args)
    if inspect.isclass(annotation):
        if issubclass(annotation, bool):
            return "bool"
        if issubclass(annotation, enum.Enum):
            return sorted(str(m.value) for m in annotation)
        if issubclass(annotation, int):
            return "int"
        if issubclass(annotation, float):
            return "float"
        if issubclass(annotation, datetime.timedelta):
            return "duration"
    return "str"


def accepts_seconds(field):
    """Whether a duration setting also reads a bare number of seconds from a
    profile (some carry a validator that converts it; plain timedelta does
    not, and Prefect then fails to load any setting)."""
    adapter = TypeAdapter(typing.Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)
    try:
        adapter.validate_python("86400")
    except ValidationError:
        return False
    return True


def bounds(field):
    """The bounds Prefect's field sets ({'gt': 0}, {'ge': 30, 'le': 3600}),
    a duration's in seconds: a value outside them stops Prefect from loading
    any setting, as a value of the wrong type does."""
    found = {}
    for constraint in field.metadata:
        for kind in ("gt", "ge", "lt", "le"):
            if isinstance(constraint, getattr(annotated_types, kind.capitalize())):
                limit = getattr(constraint, kind)
                found[kind] = limit.total_seconds() if isinstance(limit, datetime.timedelta) else limit
    return found


def set_choices(name):
    """The strings Prefect accepts in the comma-separated set `name`."""
    module, constant = SET_CHOICES[name]
    return sorted(getattr(importlib.import_module(module), constant))


def is_secret(name, annotation):
    """Typed as a secret by Prefect, or a plain string that holds a credential
    all the same: a password, or a Redis URL (redis://:PASSWORD@host/db),
    which prefect-redis and the Docket setting type as str."""
    typed = annotation in _SECRET_TYPES or any(t in typing.get_args(annotation) for t in _SECRET_TYPES)
    redis_url = name == "PREFECT_SERVER_DOCKET_URL" or (name.startswith("PREFECT_REDIS_") and name.endswith("_URL"))
    return typed or name.endswith("_PASSWORD") or redis_url


def walk(model):
    """Yield (canonical name, field) for every leaf setting of a settings model."""
    for field_name, field in model.model_fields.items():
        if inspect.isclass(field.annotation) and issubclass(field.annotation, PrefectBaseSettings):
            yield from walk(field.annotation)
        else:
            yield f"{model.model_config.get('env_prefix')}{field_name.upper()}", field


def integration_models(distribution):
    """The settings models a Prefect integration package defines."""
    package = importlib.import_module(distribution.replace("-", "_"))
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for model in dict(inspect.getmembers(module, inspect.isclass)).values():
            if issubclass(model, PrefectBaseSettings) and model.__module__ == module.__name__:
                yield model


def all_settings():
    yield from walk(Settings)
    for distribution in INTEGRATIONS:
        for model in integration_models(distribution):
            yield from walk(model)


def catalogue():
    settings, limits, set_choices_found, secrets, aliases = {}, {}, {}, set(), {}
    for name, field in all_settings():
        settings[name] = value_type(field.annotation)
        if name in SET_CHOICES:
            settings[name] = "comma_set"
            set_choices_found[name] = set_choices(name)
        if settings[name] == "duration" and accepts_seconds(field):
            settings[name] = "seconds_or_duration"
        found = bounds(field) if settings[name] in ("int", "float", "duration", "seconds_or_duration") else {}
        if found:
            limits[name] = found
        if is_secret(name, field.annotation):
            secrets.add(name)
        if isinstance(field.validation_alias, AliasChoices):
            for alias in field.validation_alias.choices:
                if isinstance(alias, str) and alias.upper() != name:
                    aliases[alias.upper()] = name
    legacy = {}
    for old, renamed in ORION_RENAMES:
        legacy[old] = aliases.get(renamed, renamed)
    for old_prefix, renamed_prefix in ORION_PREFIX_RENAMES:
        for name in list(settings) + list(aliases):
            if name.startswith(renamed_prefix):
                old = old_prefix + name[len(renamed_prefix):]
                legacy.setdefault(old, aliases.get(name, name))
    legacy = {old: new for old, new in legacy.items() if new in settings}
    if set(SET_CHOICES) - set(set_choices_found):
        sys.exit(f"SET_CHOICES names settings Prefect no longer has: {sorted(set(SET_CHOICES) - set(set_choices_found))}")
    return settings, limits, set_choices_found, secrets, aliases, legacy


def default_profiles():
    """Prefect's own profiles file, which it merges under the user's: the
    active profile when the user's file names none, and each profile's
    settings."""
    from prefect.settings.profiles import DEFAULT_PROFILES_PATH, _read_profiles_from
    profiles = _read_profiles_from(DEFAULT_PROFILES_PATH)
    return profiles.active_name, {
        name: {setting.name: str(value) for setting, value in profiles[name].settings.items()} for name in profiles}


def render(settings, limits, set_choices_found, secrets, aliases, legacy):
    def block(value):
        """One entry a line, so a regeneration diff shows each setting that changed."""
        if isinstance(value, dict):
            return "{\n" + "".join("    %r: %r,\n" % item for item in sorted(value.items())) + "}"
        return "(\n" + "".join("    %r,\n" % item for item in sorted(value)) + ")"

    integrations = {name: importlib.metadata.version(name) for name in INTEGRATIONS}
    default_active, defaults = default_profiles()
    sources = ", ".join([f"prefect=={prefect.__version__}"] + [f"{n}=={v}" for n, v in integrations.items()])
    return f'''# -*- coding: utf-8 -*-
# GENERATED by tools/generate_settings_catalog.py from {sources}; do not edit.
# Regenerate after a Prefect upgrade and review the diff.
from __future__ import annotations

PREFECT_VERSION = {prefect.__version__!r}

# Integrations whose settings are catalogued too -> their version.
INTEGRATIONS = {block(integrations)}

# Canonical setting name -> value type: "str", "int", "float", "bool", a list
# of choices, "duration" (ISO 8601 or [D days, ]HH:MM:SS),
# "seconds_or_duration" (a duration or a number of seconds) or "comma_set"
# (a comma-separated set of CHOICES_OF_SETS, or true or false).
SETTINGS = {block(settings)}

# A "comma_set" setting -> the strings Prefect accepts in it.
CHOICES_OF_SETS = {block(set_choices_found)}

# Setting name -> the bounds Prefect sets on its value ("gt", "ge", "lt",
# "le"; a duration's in seconds). Prefect loads no setting at all when one
# is out of them.
BOUNDS = {block(limits)}

# Settings that hold secrets (typed SecretStr by Prefect, passwords, Redis URLs):
# redacted in diffs and results.
SECRET_SETTINGS = frozenset({block(sorted(secrets))})

# Older names Prefect 3 still accepts -> canonical name.
ALIASES = {block(aliases)}

# Orion-era names (Prefect 2 before 2.8.1; rejected by Prefect 3) -> canonical name.
LEGACY_NAMES = {block(legacy)}

# Prefect's own profiles, merged under the user's file: the profile that is
# active when the file names none (or does not exist), and each profile's
# settings (a user's profile of the same name overrides them key by key).
DEFAULT_ACTIVE_PROFILE = {default_active!r}
DEFAULT_PROFILES = {block(defaults)}
'''


def main():
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET
    target.write_text(render(*catalogue()), encoding="utf-8")
    print(f"wrote {target} from prefect=={prefect.__version__} and {', '.join(INTEGRATIONS)}", file=sys.stderr)


if __name__ == "__main__":
    main()
