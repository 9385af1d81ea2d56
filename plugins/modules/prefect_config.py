#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_config
short_description: Set and unset Prefect settings in a profile, idempotently
version_added: 0.1.0
description:
  - Sets C(PREFECT_*) settings in one profile of a Prefect profiles file, the way
    C(prefect config set) and C(prefect config unset) do, but idempotently, in one pass for
    many keys, keeping comments and formatting, and accepting the Orion-era names of old runbooks.
  - Setting names are checked against the settings of Prefect (see RV(prefect_catalogue_version)).
    Unknown names fail with the closest known names; E(PREFECT_HOME) and E(PREFECT_PROFILES_PATH)
    are refused, as Prefect refuses them.
  - Values are validated by the setting's type and stored as strings, as the CLI stores them;
    comparison is by meaning, so C(4202) in a task matches C("4202") in the file and C(true) matches C("True").
  - Durations must be what Prefect reads from a profile, such as C(P3D), C(3d) or C(72:00:00). Most duration
    settings refuse a bare number of seconds, and Prefect would then load no setting at all.
  - Numbers and durations must lie within the bounds Prefect sets, for example more than one hour for
    E(PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD); Prefect would otherwise load no setting at all either.
  - E(PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED) must list only the vacuum types Prefect knows (C(events), C(flow_runs),
    C(orphans)), or be C(true) or C(false); Prefect loads a misspelt type and its vacuum service fails on it later.
    It compares as a set.
options:
  profile:
    description:
      - Profile to edit. It must exist; create it with M(selfhosted.prefect.prefect_profile).
      - Default is the profile the file marks as active.
    type: str
  settings:
    description:
      - Settings to set, as a mapping of setting name to value (string, number or boolean).
      - Values of secret settings and passwords inside URLs are masked in the output.
    type: dict
    default: {}
  unset:
    description:
      - Setting names to remove from the profile (any older name of the same setting is removed too).
    type: list
    elements: str
    default: []
  exclusive:
    description:
      - Remove every key of the profile that O(settings) does not name, so the profile holds exactly
        O(settings). This remediates hand-added, unknown and Orion-era keys.
    type: bool
    default: false
  legacy_names:
    description:
      - What to do with renamed setting names, both the Orion-era ones that Prefect 3 rejects
        (C(PREFECT_ORION_API_PORT)) and the older aliases it still reads (C(PREFECT_UI_API_URL)).
      - V(migrate) stores a renamed name given in O(settings) under its current name with a warning,
        and renames such keys found in the profile.
      - V(fail) refuses renamed names in O(settings) and leaves keys in the file alone.
    type: str
    choices: [migrate, fail]
    default: migrate
extends_documentation_fragment:
  - ansible.builtin.files
  - selfhosted.prefect.profiles
  - selfhosted.prefect.profiles.write
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_profile
  - module: selfhosted.prefect.prefect_config_info
"""

EXAMPLES = r"""
- name: Point the active profile at the hosted API
  selfhosted.prefect.prefect_config:
    settings:
      PREFECT_API_URL: http://prefect.example.com:4200/api

- name: Make a server profile hold exactly these settings (remediates hand edits)
  selfhosted.prefect.prefect_config:
    prefect_home: /var/lib/prefect/default
    profile: server
    exclusive: true
    settings:
      PREFECT_SERVER_API_HOST: 0.0.0.0
      PREFECT_SERVER_API_PORT: 4200
      PREFECT_SERVER_UI_API_URL: http://prefect.example.com:4200/api

- name: Apply an Orion-era runbook as is; keys land under their Prefect 3 names
  selfhosted.prefect.prefect_config:
    profile: personal
    settings:
      PREFECT_ORION_API_PORT: 4202
      PREFECT_ORION_DATABASE_CONNECTION_URL: "sqlite+aiosqlite:////home/ops/.prefect/orion_personal.db"

- name: Remove settings
  selfhosted.prefect.prefect_config:
    profile: hosted
    unset:
      - PREFECT_API_KEY
"""

RETURN = r"""
path:
  description: The profiles file.
  returned: always
  type: str
  sample: /home/ops/.prefect/profiles.toml
profile:
  description: The profile that was edited.
  returned: success
  type: str
  sample: hosted
settings:
  description: The profile's settings after the change, secrets masked.
  returned: success
  type: dict
  sample: {PREFECT_API_URL: "http://prefect.example.com:4200/api", PREFECT_API_AUTH_STRING: "********"}
changes:
  description: What changed, one entry per key, with the action V(set), V(unset) or V(migrate).
  returned: success
  type: list
  elements: dict
  sample: [{key: PREFECT_SERVER_API_PORT, action: migrate, from: PREFECT_ORION_API_PORT}]
prefect_catalogue_version:
  description: The Prefect release whose setting names the module validates against.
  returned: success
  type: str
  sample: 3.8.8
backup_file:
  description: Name of the backup file that was created.
  returned: changed and O(backup=true)
  type: str
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_module import apply_edit, new_module
from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import (
    PREFECT_VERSION,
    ProfilesError,
    canonical_name,
    profile_value,
    redact,
    resolve_setting_name,
    same_value,
    secret_values,
    stored_string,
)


def wanted_settings(settings, legacy_names):
    """Task settings keyed by current name, values as stored strings; plus migration notes."""
    wanted, renamed = {}, {}
    for key, value in settings.items():
        if value is None:
            raise ProfilesError("%s has no value; list it under unset to remove it." % key)
        current = resolve_setting_name(key, legacy_names)
        if current in wanted:
            raise ProfilesError("%s and %s are the same setting %s; give it once." % (
                renamed.get(current, current), key, current))
        wanted[current] = profile_value(key, value)
        if key != current:
            renamed[current] = key
    return wanted, renamed


def unset_names(unset, wanted, existing_keys):
    """Current names (or, for keys Prefect does not know, the raw keys) to remove."""
    names = set()
    for key in unset:
        current = canonical_name(key)
        if current is None and key not in existing_keys:
            resolve_setting_name(key)  # raises the unknown-name error with suggestions
        if (current or key) in wanted:
            raise ProfilesError("%s is both set and unset." % key)
        names.add(current or key)
    return names


def key_fate(key, wanted, unset, exclusive, legacy_names):
    """What happens to a key found in the profile: 'keep', 'remove' or 'migrate'."""
    current = canonical_name(key) or key
    if current in wanted:
        return "remove" if key != current else "keep"
    if current in unset or exclusive:
        return "remove"
    if key != current and legacy_names == "migrate":
        return "migrate"
    return "keep"


def configure(profiles, profile, settings, unset, exclusive, legacy_names, warn):
    """Edit one profile towards the wanted settings; returns the result fields."""
    profile = profile or profiles.active
    if profile is None:
        raise ProfilesError("%s names no active profile; choose one with the profile option." % profiles.path)
    profiles.require_profile(profile)
    wanted, renamed = wanted_settings(settings, legacy_names)
    existing = profiles.settings(profile)
    removing = unset_names(unset, wanted, existing)
    changes = []

    for key, value in existing.items():
        fate = key_fate(key, wanted, removing, exclusive, legacy_names)
        if fate == "keep":
            continue
        profiles.remove_setting(profile, key)
        current = canonical_name(key)
        if current in wanted and current not in existing and legacy_names == "migrate":
            # The old name of a wanted setting: report it as migrated (the
            # loop below stores the wanted value under the current name).
            fate = "migrate"
        if fate == "migrate" and current not in profiles.settings(profile):
            profiles.set_setting(profile, current, stored_string(value))
            changes.append({"key": current, "action": "migrate", "from": key})
            warn("%s in profile %s was renamed to its current name %s." % (key, profile, current))
        else:
            changes.append({"key": key, "action": "unset"})

    for current, value in wanted.items():
        now = profiles.settings(profile)
        if current in now and same_value(current, now[current], value):
            continue
        profiles.set_setting(profile, current, value)
        if current in renamed:
            warn("%s is an old name; stored as %s." % (renamed[current], current))
            changes.append({"key": current, "action": "migrate", "from": renamed[current]})
        else:
            changes.append({"key": current, "action": "set"})

    final = profiles.settings(profile)
    return dict(
        profile=profile,
        settings={key: redact(key, value) for key, value in final.items()},
        changes=changes,
        prefect_catalogue_version=PREFECT_VERSION,
    )


def main():
    module = new_module(dict(
        profile=dict(type="str"),
        settings=dict(type="dict", default={}),
        unset=dict(type="list", elements="str", default=[]),
        exclusive=dict(type="bool", default=False),
        legacy_names=dict(type="str", choices=["migrate", "fail"], default="migrate"),
    ))
    module.no_log_values.update(secret_values(module.params["settings"]))
    if module.params["profile"] is not None and not module.params["profile"].strip():
        module.fail_json(msg="profile must not be empty; leave it out to edit the active profile.")
    apply_edit(module, lambda profiles: configure(
        profiles,
        module.params["profile"],
        module.params["settings"],
        module.params["unset"],
        module.params["exclusive"],
        module.params["legacy_names"],
        module.warn,
    ))


if __name__ == "__main__":
    main()
