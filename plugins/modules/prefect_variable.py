#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_variable
short_description: Create, update and delete Prefect variables through the REST API
version_added: 0.1.0
description:
  - Ensures a Prefect variable (read by flows with C(Variable.get)) has the given value and tags,
    or does not exist.
  - Variables are not secret in Prefect; keep credentials in Secret blocks.
options:
  name:
    description:
      - Name of the variable; Prefect allows lowercase letters, digits, dashes and underscores.
    type: str
    required: true
  value:
    description:
      - The value, any JSON value (string, number, boolean, list or mapping), at most 5000 characters
        as JSON (Prefect's limit).
      - Required with O(state=present).
    type: raw
  tags:
    description:
      - Tags of the variable; left as they are when omitted.
    type: list
    elements: str
  state:
    description: V(present) creates or updates the variable; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - selfhosted.prefect.api
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_work_pool
"""

EXAMPLES = r"""
- name: Where the nightly export writes
  selfhosted.prefect.prefect_variable:
    api_url: http://prefect1:4200/api
    name: export_target
    value:
      bucket: /srv/exports
      keep_days: 14
    tags: [etl]
  run_once: true

- name: Remove a variable
  selfhosted.prefect.prefect_variable:
    api_url: http://prefect1:4200/api
    name: export_target
    state: absent
"""

RETURN = r"""
variable:
  description: The variable after the task (name, value, tags), or null when it does not exist.
  returned: success
  type: dict
  sample: {name: export_target, value: {bucket: /srv/exports, keep_days: 14}, tags: [etl]}
"""

import json

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    api_module, converge_named_object, path_segment, same_json, subset_differs,
)

# Prefect refuses a value whose JSON is longer (prefect.types.MAX_VARIABLE_VALUE_LENGTH).
LONGEST_VALUE_JSON = 5000


def managed(variable):
    if variable is None:
        return None
    return dict(name=variable["name"], value=variable.get("value"), tags=variable.get("tags") or [])


def ensure_present(module, client, path, before):
    wanted = dict(name=module.params["name"], value=module.params["value"])
    if module.params["tags"] is not None:
        wanted["tags"] = module.params["tags"]
    if before is None:
        after = dict(dict(tags=[]), **wanted)
        if not module.check_mode:
            after = managed(client.post("/variables/", wanted))
        return True, after
    # The value compares whole; tags, when given, as a set (the server keeps no order).
    tags_differ = "tags" in wanted and subset_differs(wanted["tags"], before["tags"])
    if same_json(before["value"], wanted["value"]) and not tags_differ:
        return False, before
    if not module.check_mode:
        client.patch(path, wanted)
        return True, managed(client.get(path))
    return True, dict(before, **wanted)


def main():
    module = api_module(
        dict(
            name=dict(type="str", required=True),
            value=dict(type="raw"),
            tags=dict(type="list", elements="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("value",))],
    )
    if module.params["state"] == "present":
        length = len(json.dumps(module.params["value"]))
        if length > LONGEST_VALUE_JSON:
            module.fail_json(msg="value is %d characters as JSON; Prefect stores variables of at most %d "
                             "(keep large data in a file or a block, and its path in the variable)"
                             % (length, LONGEST_VALUE_JSON))
    path = "/variables/name/" + path_segment(module.params["name"])
    converge_named_object(module, "variable", path, managed, ensure_present, fields=("id", "name", "value"))


if __name__ == "__main__":
    main()
