#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_profile
short_description: Create, remove and activate Prefect profiles in profiles.toml
version_added: 0.1.0
description:
  - Ensures a C([profiles.NAME]) table exists or not in a Prefect profiles file, and optionally
    makes it the active profile, idempotently and without the Prefect CLI.
  - Unlike C(prefect profile create), an existing profile is not an error; unlike
    C(prefect profile use), activating does not need the API to be reachable.
  - Use M(selfhosted.prefect.prefect_config) to set the profile's settings.
options:
  name:
    description: Name of the profile.
    type: str
    required: true
  state:
    description:
      - V(present) creates the profile when it is missing; V(absent) removes it with all its settings.
      - Removing the active profile fails; make another profile active first.
    type: str
    choices: [present, absent]
    default: present
  active:
    description:
      - V(true) makes this profile the active one (the top-level C(active) key).
      - V(false) leaves the choice of the active profile as it is.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - selfhosted.prefect.profiles
  - selfhosted.prefect.profiles.write
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_config
  - module: selfhosted.prefect.prefect_config_info
"""

EXAMPLES = r"""
- name: Create the profile that points at the hosted API and make it active
  selfhosted.prefect.prefect_profile:
    name: hosted
    active: true

- name: Create a profile in the Prefect home of a service user
  selfhosted.prefect.prefect_profile:
    name: server
    prefect_home: /var/lib/prefect/default
    owner: prefect
    group: prefect

- name: Remove a profile nobody uses any more
  selfhosted.prefect.prefect_profile:
    name: personal
    state: absent
    backup: true
"""

RETURN = r"""
path:
  description: The profiles file.
  returned: always
  type: str
  sample: /home/ops/.prefect/profiles.toml
active:
  description: The active profile after the change, or null when the file names none.
  returned: success
  type: str
  sample: hosted
profiles:
  description: Names of the profiles in the file after the change.
  returned: success
  type: list
  elements: str
  sample: [hosted, personal]
backup_file:
  description: Name of the backup file that was created.
  returned: changed and O(backup=true)
  type: str
  sample: /home/ops/.prefect/profiles.toml.2413.2026-11-21@23:59:59~
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_module import apply_edit, new_module
from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import ProfilesError, check_text


def ensure_profile(profiles, name, state, active):
    """Edit the parsed file towards the wanted state of one profile."""
    if state == "present":
        if not profiles.has_profile(name):
            profiles.add_profile(name)
        if active:
            profiles.set_active(name)
    elif profiles.has_profile(name):
        if profiles.active == name:
            raise ProfilesError(
                "Profile %r is the active profile in %s; make another profile active first "
                "(selfhosted.prefect.prefect_profile with active=true)." % (name, profiles.path))
        profiles.remove_profile(name)
    return dict(active=profiles.active, profiles=profiles.profile_names())


def main():
    module = new_module(dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        active=dict(type="bool", default=False),
    ))
    name = module.params["name"]
    if not name.strip():
        module.fail_json(msg="name must not be empty.")
    try:
        check_text("name", name)
    except ProfilesError as exc:
        module.fail_json(msg=str(exc))
    if module.params["state"] == "absent" and module.params["active"]:
        module.fail_json(msg="active=true contradicts state=absent.")
    apply_edit(module, lambda profiles: ensure_profile(
        profiles, name, module.params["state"], module.params["active"]))


if __name__ == "__main__":
    main()
