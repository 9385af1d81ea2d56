#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_work_pool
short_description: Create, update and delete Prefect work pools through the REST API
version_added: 0.1.0
description:
  - Ensures a work pool exists with the given type, description, concurrency limit, paused state
    and base job template, or does not exist.
  - Unlike C(prefect work-pool create), an existing pool is not an error, and a pool changed by
    hand (in the UI or with the CLI) is set back to what the task declares.
  - Options left out are not managed; a pool's type cannot change once it exists.
options:
  name:
    description: Name of the work pool.
    type: str
    required: true
  type:
    description:
      - Worker type of the pool, as in C(prefect work-pool create --type).
      - The server knows the default template of every type Prefect's collections define (process,
        docker, kubernetes, ecs...); with O(prefect_python), a type needs its collection (for example
        C(prefect-docker)) in that venv.
    type: str
    default: process
  description:
    description: Description shown in the UI.
    type: str
  concurrency_limit:
    description:
      - Most flow runs of the pool running at once, up to 2147483647; V(-1) removes the limit.
    type: int
  paused:
    description:
      - V(true) pauses the pool (no runs are handed to workers), V(false) resumes it.
    type: bool
  base_job_template:
    description:
      - The pool's base job template (C(job_configuration) and C(variables)), as C(prefect work-pool
        get-default-base-job-template) prints it.
      - Without it, a new pool gets the type's default template from the server, as Prefect's UI
        creates pools (C(GET /collections/views/aggregate-worker-metadata); the server asks Prefect's
        collection registry, and answers from its own copy when that is out of reach, as here), or, with
        O(prefect_python), from the Prefect installed there,
        as C(prefect work-pool create) does. The template of an existing pool is then not managed (edits in
        the UI stay, and a Prefect upgrade does not reset it).
    type: dict
  prefect_python:
    description:
      - Python interpreter of a venv where Prefect (and the worker type's collection) is installed,
        for example C(/opt/prefect-worker/bin/python).
      - Used only to read the default base job template of O(type) when the pool is created; without it
        the server gives the template.
    type: path
  state:
    description: V(present) creates or updates the pool; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - selfhosted.prefect.api
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_variable
  - module: selfhosted.prefect.prefect_automation
"""

EXAMPLES = r"""
- name: A process pool with the default template of the installed Prefect
  selfhosted.prefect.prefect_work_pool:
    api_url: http://prefect1:4200/api
    name: onprem
    concurrency_limit: 20
    prefect_python: /opt/prefect-worker/bin/python
  run_once: true

- name: Pause a pool for maintenance, behind basic auth and a private CA
  selfhosted.prefect.prefect_work_pool:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    ca_path: /etc/selfhosted-prefect/ca/hosted.pem
    name: onprem
    paused: true

- name: Remove a pool nobody uses
  selfhosted.prefect.prefect_work_pool:
    api_url: http://prefect1:4200/api
    name: legacy
    state: absent
"""

RETURN = r"""
work_pool:
  description: The pool after the task (its managed fields), or null when it does not exist.
  returned: success
  type: dict
  sample:
    name: onprem
    type: process
    description: On-prem flows
    is_paused: false
    concurrency_limit: 20
    base_job_template: {job_configuration: {}, variables: {}}
"""

import json
import tempfile

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    api_module, converge_named_object, optional_limit, path_segment, update_changed,
)

FIELDS = ("name", "type", "description", "is_paused", "concurrency_limit", "base_job_template")

# Run with the venv's Python: the worker class of a type and its default
# template, as `prefect work-pool create` looks them up.
DEFAULT_TEMPLATE_SCRIPT = """
import json, sys
from prefect.workers.base import BaseWorker
worker = BaseWorker.get_worker_class_from_type(sys.argv[1])
if worker is None:
    print(json.dumps({"known": sorted(BaseWorker.get_all_available_worker_types())}))
else:
    print(json.dumps({"template": worker.get_default_base_job_template()}))
"""


def default_template(module):
    python, pool_type = module.params["prefect_python"], module.params["type"]
    # Prefect makes its home when imported: a throwaway one, so that reading a
    # template leaves no ~/.prefect without a profile behind (which would send
    # that user's runs to an ephemeral API).
    with tempfile.TemporaryDirectory(prefix="prefect-home-") as home:
        rc, out, err = module.run_command([python, "-c", DEFAULT_TEMPLATE_SCRIPT, pool_type],
                                          environ_update={"PREFECT_HOME": home})
    if rc != 0:
        module.fail_json(msg="cannot read the default base job template with %s: %s" % (python, err.strip()))
    try:
        answer = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        module.fail_json(msg="%s printed no default base job template for %r: %s" % (python, pool_type, out[-500:]))
    if "template" not in answer:
        module.fail_json(msg="unknown work pool type %r: the Prefect of %s knows %s; install the type's "
                         "collection into that venv or give base_job_template"
                         % (pool_type, python, ", ".join(answer["known"])))
    return answer["template"]


def server_default_template(module, client):
    """The type's default template as Prefect's UI reads it: the server's
    metadata of every worker type, by collection."""
    pool_type = module.params["type"]
    views = client.request("GET", "/collections/views/aggregate-worker-metadata")
    workers = [worker for collection in (views.values() if isinstance(views, dict) else [])
               if isinstance(collection, dict) for worker in collection.values() if isinstance(worker, dict)]
    for worker in workers:
        if worker.get("type") == pool_type and isinstance(worker.get("default_base_job_configuration"), dict):
            return worker["default_base_job_configuration"]
    known = sorted(set(str(worker.get("type")) for worker in workers))
    module.fail_json(msg="unknown work pool type %r: the server knows %s; give base_job_template for another type"
                     % (pool_type, ", ".join(known) or "none (is api_url the Prefect API?)"))


def desired_fields(module):
    """The fields the task manages, with the API's names and values."""
    params = module.params
    wanted = {"name": params["name"], "type": params["type"]}
    if params["description"] is not None:
        wanted["description"] = params["description"]
    if params["paused"] is not None:
        wanted["is_paused"] = params["paused"]
    if params["concurrency_limit"] is not None:
        wanted["concurrency_limit"] = optional_limit(module, "concurrency_limit")
    if params["base_job_template"] is not None:
        wanted["base_job_template"] = params["base_job_template"]
    return wanted


def managed(pool):
    return None if pool is None else dict((key, pool.get(key)) for key in FIELDS)


def ensure_present(module, client, path, before):
    wanted = desired_fields(module)
    if before is None:
        if "base_job_template" not in wanted:
            wanted["base_job_template"] = (default_template(module) if module.params["prefect_python"]
                                           else server_default_template(module, client))
        after = dict(managed(dict(description=None, is_paused=False, concurrency_limit=None)), **wanted)
        if not module.check_mode:
            after = managed(client.post("/work_pools/", wanted))
        return True, after
    if before["type"] != wanted["type"]:
        module.fail_json(msg="work pool %r has type %r, not %r: a pool's type cannot change; delete the "
                         "pool (state=absent) and create it again" % (before["name"], before["type"], wanted["type"]))

    def patch(changes):
        client.patch(path, changes)
        return managed(client.get(path))
    return update_changed(module, before, wanted, patch, fixed=("name", "type"))


def main():
    module = api_module(
        dict(
            name=dict(type="str", required=True),
            type=dict(type="str", default="process"),
            description=dict(type="str"),
            concurrency_limit=dict(type="int"),
            paused=dict(type="bool"),
            base_job_template=dict(type="dict"),
            prefect_python=dict(type="path"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        names=("name", "type"),
    )
    path = "/work_pools/" + path_segment(module.params["name"])
    converge_named_object(module, "work_pool", path, managed, ensure_present, fields=("id", "name", "type"))


if __name__ == "__main__":
    main()
