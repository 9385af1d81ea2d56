#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_work_queue
short_description: Create, update and delete the work queues of a Prefect work pool through the REST API
version_added: 0.1.0
description:
  - Ensures a work queue of a work pool has the given priority, concurrency limit, description and
    paused state, or does not exist. Options left out are not managed.
  - Workers of the pool poll its queues in priority order (1 first), so a queue sets which
    deployments' runs go first and how many of them run at once.
  - The pool must exist (M(selfhosted.prefect.prefect_work_pool)); in check mode a missing pool may be one
    an earlier task would create, so the queue is reported as new. Its default queue, which Prefect
    creates with the pool, can be changed but not deleted (the module says so before sending anything).
options:
  name:
    description: Name of the queue, unique within its pool.
    type: str
    required: true
  work_pool:
    description: Name of the work pool the queue belongs to.
    type: str
    required: true
  description:
    description: Its description.
    type: str
  priority:
    description:
      - Its priority, 1 or more; the pool's workers take runs from lower numbers first.
      - When two queues of a pool are given the same priority, Prefect moves the others down, so give
        each queue of a pool its own.
      - A new queue without it comes after the pool's other queues.
    type: int
  concurrency_limit:
    description: How many of its runs may run at once; V(-1) removes the limit.
    type: int
  paused:
    description: Whether its runs wait instead of going to workers.
    type: bool
  state:
    description: V(present) creates or updates the queue; V(absent) deletes it.
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
- name: Urgent runs of the onprem pool first, four at a time
  selfhosted.prefect.prefect_work_queue:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    work_pool: onprem
    name: urgent
    priority: 1
    concurrency_limit: 4
  run_once: true

- name: Hold the backfills during the quarter's close
  selfhosted.prefect.prefect_work_queue:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    work_pool: onprem
    name: backfills
    paused: true

- name: Remove a queue
  selfhosted.prefect.prefect_work_queue:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    work_pool: onprem
    name: legacy
    state: absent
"""

RETURN = r"""
work_queue:
  description: The queue after the task (its managed fields), or null when it does not exist.
  returned: success
  type: dict
  sample: {name: urgent, work_pool: onprem, description: null, priority: 1, concurrency_limit: 4, is_paused: false}
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    LARGEST_INTEGER, PrefectApi, api_module, converge_object, optional_limit, path_segment, update_changed,
)

FIELDS = ("name", "description", "priority", "concurrency_limit", "is_paused")


def desired_fields(module):
    """The fields the task manages, with the API's names and values."""
    params = module.params
    wanted = {"name": params["name"]}
    if params["description"] is not None:
        wanted["description"] = params["description"]
    if params["paused"] is not None:
        wanted["is_paused"] = params["paused"]
    if params["priority"] is not None:
        if not 1 <= params["priority"] <= LARGEST_INTEGER:
            module.fail_json(msg="priority must be 1 to %d, not %s" % (LARGEST_INTEGER, params["priority"]))
        wanted["priority"] = params["priority"]
    if params["concurrency_limit"] is not None:
        wanted["concurrency_limit"] = optional_limit(module, "concurrency_limit")
    return wanted


def managed_in(pool):
    def managed(queue):
        if queue is None:
            return None
        return dict(dict((key, queue.get(key)) for key in FIELDS), work_pool=pool)
    return managed


def read(module, client, path):
    """The queue's managed fields; a pool's default queue (the one its
    workers fall back to, which the server cannot delete) is refused for
    state=absent before anything is sent."""
    pool = module.params["work_pool"]
    queue = client.get(path, missing_ok=True)
    if queue is not None and module.params["state"] == "absent":
        owner = client.get("/work_pools/" + path_segment(pool), missing_ok=True)
        if owner is not None and owner.get("default_queue_id") == queue.get("id"):
            module.fail_json(msg="work queue %r is the default queue of work pool %r, which Prefect keeps as long as "
                             "the pool: delete the pool (prefect_work_pool, state=absent) to remove it"
                             % (queue["name"], pool))
    return managed_in(pool)(queue)


def ensure_present(module, client, path, before):
    wanted = desired_fields(module)
    pool = module.params["work_pool"]
    if before is None:
        # In check mode the pool may be one an earlier task of the run would create.
        if client.get("/work_pools/" + path_segment(pool), missing_ok=True) is None and not module.check_mode:
            module.fail_json(msg="work pool %r does not exist: create it first (prefect_work_pool)" % pool)
        after = dict(managed_in(pool)(dict(description=None, priority=None, concurrency_limit=None,
                                           is_paused=False)), **wanted)
        if not module.check_mode:
            created = client.post("/work_pools/%s/queues" % path_segment(pool), wanted)
            after = managed_in(pool)(created)
        return True, after

    def patch(changes):
        client.patch(path, changes)
        return managed_in(pool)(client.get(path))
    return update_changed(module, before, wanted, patch)


def main():
    module = api_module(
        dict(
            name=dict(type="str", required=True),
            work_pool=dict(type="str", required=True),
            description=dict(type="str"),
            priority=dict(type="int"),
            concurrency_limit=dict(type="int"),
            paused=dict(type="bool"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        names=("name", "work_pool"),
    )
    path = "/work_pools/%s/queues/%s" % (path_segment(module.params["work_pool"]), path_segment(module.params["name"]))
    client = PrefectApi(module.params)
    converge_object(
        module, "work_queue",
        read=lambda: read(module, client, path),
        delete=lambda before: client.delete(path),
        ensure_present=lambda before: ensure_present(module, client, path, before),
    )


if __name__ == "__main__":
    main()
