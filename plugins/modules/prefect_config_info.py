#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_config_info
short_description: Read Prefect profiles and tell where flow runs will go
version_added: 0.1.0
description:
  - Reads a Prefect profiles file without changing it and reports its profiles, the chosen
    profile's settings (secrets masked), renamed and unknown keys, and the API target.
  - RV(api_target) says where a flow run started with the profile goes, as Prefect resolves it. It merges
    its own profiles (an C(ephemeral) profile, active when the file names none) under the file's.
    Without E(PREFECT_API_URL), a profile that allows an ephemeral server
    (E(PREFECT_SERVER_EPHEMERAL_ENABLED)) makes Prefect run a throwaway API in-process on a local SQLite
    database, so flow runs silently land there instead of on the team's hosted server (V(ephemeral)). Any
    other profile without a URL makes Prefect fail at once (V(refused)).
  - Only the file is read; environment variables such as E(PREFECT_API_URL) override it at run time.
options:
  profile:
    description:
      - Profile to report on. Default is the profile the file marks as active.
    type: str
extends_documentation_fragment:
  - selfhosted.prefect.profiles
  - selfhosted.prefect.profiles.info
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_profile
  - module: selfhosted.prefect.prefect_config
"""

EXAMPLES = r"""
- name: Read the active profile of the remote user
  selfhosted.prefect.prefect_config_info:
  register: prefect_info

- name: Refuse to run flows that would land in an ephemeral API
  ansible.builtin.assert:
    that: prefect_info.api_target == 'hosted'
    fail_msg: "{{ prefect_info.profile }} sets no PREFECT_API_URL: flow runs would go to a throwaway local database"

- name: Find Orion-era keys left in a service user's profiles
  selfhosted.prefect.prefect_config_info:
    prefect_home: /var/lib/prefect/default
  register: server_info
  failed_when: server_info.legacy_keys | length > 0
"""

RETURN = r"""
path:
  description: The profiles file.
  returned: always
  type: str
exists:
  description: Whether the file exists. Without it Prefect falls back to its bundled profiles.
  returned: success
  type: bool
active:
  description: The profile the file marks as active, or null.
  returned: success
  type: str
  sample: hosted
profiles:
  description: Names of the profiles in the file.
  returned: success
  type: list
  elements: str
profile:
  description: The profile reported on (O(profile), else the active one); null when there is none.
  returned: success
  type: str
settings:
  description: The reported profile's settings, secrets masked.
  returned: success
  type: dict
  sample: {PREFECT_API_URL: "http://prefect.example.com:4200/api", PREFECT_API_AUTH_STRING: "********"}
legacy_keys:
  description:
    - Keys anywhere in the file that are older names of a setting, with the current name.
    - C(kind) is V(legacy) for Orion-era names Prefect 3 ignores, V(alias) for older names it still reads.
  returned: success
  type: list
  elements: dict
  sample: [{profile: default, key: PREFECT_ORION_API_PORT, current_name: PREFECT_SERVER_API_PORT, kind: legacy}]
unknown_keys:
  description: Keys anywhere in the file that are not Prefect settings, with the closest known names.
  returned: success
  type: list
  elements: dict
  sample: [{profile: default, key: PREFECT_API_ULR, suggestions: [PREFECT_API_URL]}]
api_target:
  description:
    - V(hosted) when the profile Prefect would use sets E(PREFECT_API_URL); else V(ephemeral) when it allows an
      ephemeral server (Prefect's own C(ephemeral) profile does, and it is active when no file or no active
      profile is given), else V(refused).
  returned: success
  type: str
  sample: hosted
api_url:
  description: The profile's E(PREFECT_API_URL), or null.
  returned: success
  type: str
prefect_catalogue_version:
  description: The Prefect release whose setting names the module knows.
  returned: success
  type: str
  sample: 3.8.8
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_module import (
    new_module,
    profiles_path,
    read_profiles,
    resolved_file,
)
from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import (
    PREFECT_VERSION,
    ProfilesError,
    api_target,
    canonical_name,
    effective_profile,
    name_kind,
    redact,
    suggest_names,
)


def key_findings(profiles):
    """Renamed and unknown keys across every profile of the file."""
    legacy, unknown = [], []
    for name in profiles.profile_names():
        for key in profiles.settings(name):
            kind = name_kind(key)
            if kind in ("alias", "legacy"):
                legacy.append(dict(profile=name, key=key, current_name=canonical_name(key), kind=kind))
            elif kind == "unknown":
                unknown.append(dict(profile=name, key=key, suggestions=suggest_names(key)))
    return legacy, unknown


def describe(profiles, profile):
    """Everything the module returns about a parsed file."""
    if profile:
        profiles.require_profile(profile)
    profile = profile or profiles.active
    settings = profiles.settings(profile) if profile and profiles.has_profile(profile) else {}
    legacy, unknown = key_findings(profiles)
    effective = effective_profile(profiles, profile)[1]
    api_url = effective.get("PREFECT_API_URL") or None
    return dict(
        exists=profiles.exists,
        active=profiles.active,
        profiles=profiles.profile_names(),
        profile=profile,
        settings={key: redact(key, value) for key, value in settings.items()},
        legacy_keys=legacy,
        unknown_keys=unknown,
        api_target=api_target(effective),
        api_url=redact("PREFECT_API_URL", api_url),
        prefect_catalogue_version=PREFECT_VERSION,
    )


def main():
    module = new_module(dict(profile=dict(type="str")), writes=False)
    path = profiles_path(module)
    try:
        resolved_file(path)  # refuses a user's link to another user's file
        facts = describe(read_profiles(module, path), module.params["profile"])
    except ProfilesError as exc:
        module.fail_json(msg=str(exc), path=path)
    module.exit_json(changed=False, path=path, **facts)


if __name__ == "__main__":
    main()
