#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_automation
short_description: Create, update and delete Prefect automations through the REST API
version_added: 0.1.0
description:
  - Ensures an automation with the given name has the given trigger and actions, or does not exist.
  - The name identifies the automation, so it must be unique on the server; the module fails when
    several automations share it.
  - O(trigger) and the actions are compared with what the server stores on the keys the task gives,
    so the defaults and ids the server fills in do not count as drift; lists of names (event names,
    tags) compare as sets.
  - Automations run in the server's event services (triggers and actions), which a standalone
    C(prefect server start) runs; a clustered API needs its services process.
options:
  name:
    description: Name of the automation.
    type: str
    required: true
  description:
    description: Description shown in the UI.
    type: str
    default: ""
  enabled:
    description: V(false) keeps the automation without evaluating it.
    type: bool
    default: true
  trigger:
    description:
      - The trigger, as the REST API takes it (for example C(type=event), C(match), C(after),
        C(expect), C(for_each), C(posture), C(threshold), C(within) in seconds).
      - Required with O(state=present).
    type: dict
  actions:
    description:
      - Actions run when the trigger fires, for example C({type=change-flow-run-state, state=CRASHED}).
      - Required with O(state=present).
    type: list
    elements: dict
  actions_on_trigger:
    description: Actions run when the trigger enters the triggered state.
    type: list
    elements: dict
    default: []
  actions_on_resolve:
    description: Actions run when the trigger resolves.
    type: list
    elements: dict
    default: []
  state:
    description: V(present) creates or updates the automation; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - selfhosted.prefect.api
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_work_pool
  - name: Detect zombie flows
    description: Prefect's guide to the heartbeat automation this module can create.
    link: https://docs.prefect.io/v3/advanced/detect-zombie-flows
"""

EXAMPLES = r"""
- name: Mark a flow run Crashed when its heartbeats stop (workers set PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30)
  selfhosted.prefect.prefect_automation:
    api_url: http://prefect1:4200/api
    name: Crash zombie flow runs
    trigger:
      type: event
      posture: Proactive
      match:
        prefect.resource.id: prefect.flow-run.*
      after: [prefect.flow-run.heartbeat]
      expect:
        - prefect.flow-run.heartbeat
        - prefect.flow-run.Completed
        - prefect.flow-run.Failed
        - prefect.flow-run.Cancelled
        - prefect.flow-run.Crashed
      for_each: [prefect.resource.id]
      threshold: 1
      within: 90
    actions:
      - type: change-flow-run-state
        state: CRASHED
        message: No heartbeat for 90 seconds; the flow run's process is gone.
  run_once: true
"""

RETURN = r"""
automation:
  description: The automation after the task, as the API returns it, or null when it does not exist.
  returned: success
  type: dict
  sample: {id: 0680f0d6-2f1c-7a1e-8000-5b3c2f5c1a10, name: Crash zombie flow runs, enabled: true}
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    PrefectApi, PrefectApiError, api_module, converge_object, subset_differs,
)

FIELDS = ("name", "description", "enabled", "trigger", "actions", "actions_on_trigger", "actions_on_resolve")


def find_by_name(client, name):
    found = client.post("/automations/filter", {"automations": {"name": {"any_": [name]}}}, answer=list)
    if len(found) > 1:
        raise PrefectApiError("%d automations are named %r: delete all but one in the UI, then run the task "
                              "again" % (len(found), name))
    return found[0] if found else None


def managed(automation):
    return None if automation is None else dict((key, automation.get(key)) for key in ("id",) + FIELDS)


def ensure_present(module, client, before):
    wanted = dict((key, module.params[key]) for key in FIELDS)
    if before is None:
        after = dict(wanted, id=None)
        if not module.check_mode:
            after = managed(client.post("/automations/", wanted))
        return True, after
    if not subset_differs(wanted, before):
        return False, before
    if not module.check_mode:
        client.put("/automations/%s" % before["id"], wanted)
        return True, managed(client.get("/automations/%s" % before["id"]))
    return True, dict(before, **wanted)


def main():
    module = api_module(
        dict(
            name=dict(type="str", required=True),
            description=dict(type="str", default=""),
            enabled=dict(type="bool", default=True),
            trigger=dict(type="dict"),
            actions=dict(type="list", elements="dict"),
            actions_on_trigger=dict(type="list", elements="dict", default=[]),
            actions_on_resolve=dict(type="list", elements="dict", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("trigger", "actions"))],
    )
    client = PrefectApi(module.params)
    converge_object(
        module, "automation",
        read=lambda: managed(find_by_name(client, module.params["name"])),
        delete=lambda before: client.delete("/automations/%s" % before["id"]),
        ensure_present=lambda before: ensure_present(module, client, before),
    )


if __name__ == "__main__":
    main()
