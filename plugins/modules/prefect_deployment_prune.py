#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_deployment_prune
short_description: Delete the deployments of Prefect work pools that a project no longer declares
version_added: 0.1.0
description:
  - C(prefect deploy --all) creates and updates the deployments of a project's C(prefect.yaml) but never
    deletes one the file no longer declares, so a renamed or removed deployment keeps its schedule on the
    server forever. This module deletes every deployment of the given work pools that is not in O(keep).
  - A deployment is known by its name and its entrypoint (C(path/to/file.py:flow_function)), as
    C(prefect.yaml) declares it; deployments of other work pools are never touched.
  - A work pool that does not exist fails the task before anything is deleted; in check mode it may be one an
    earlier task would create, and has nothing to prune.
  - Check mode and diff list what would go.
options:
  work_pools:
    description: The work pools whose deployments are pruned.
    type: list
    elements: str
    required: true
  keep:
    description:
      - The deployments to keep, as C(prefect.yaml) declares them. An empty list deletes every deployment
        of the pools.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The deployment's name.
        type: str
        required: true
      entrypoint:
        description: Its entrypoint, C(path/to/file.py:flow_function).
        type: str
        required: true
extends_documentation_fragment:
  - selfhosted.prefect.api
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_work_pool
"""

EXAMPLES = r"""
- name: Read the project's deployments
  ansible.builtin.slurp:
    src: /var/lib/prefect-worker/flows/prefect.yaml
  register: project

- name: Delete the deployments of onprem the project no longer declares
  selfhosted.prefect.prefect_deployment_prune:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    work_pools: [onprem]
    keep: "{{ (project.content | b64decode | from_yaml).deployments }}"
"""

RETURN = r"""
removed:
  description: The deployments deleted (in check mode, those that would be), each name, entrypoint and work pool.
  returned: success
  type: list
  elements: dict
  sample: [{name: nightly-old, entrypoint: "flows.py:nightly", work_pool: onprem}]
kept:
  description: How many deployments of the pools are declared and stay.
  returned: success
  type: int
  sample: 2
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    PrefectApi, PrefectApiError, api_module, path_segment,
)

PAGE = 200  # Prefect's default and largest page (PREFECT_API_DEFAULT_LIMIT)


def deployments_of(client, pools):
    """Every deployment of the pools, a page at a time."""
    found, offset = [], 0
    while True:
        page = client.post("/deployments/filter", {"work_pools": {"name": {"any_": pools}},
                                                   "limit": PAGE, "offset": offset}, answer=list)
        found.extend(page)
        if len(page) < PAGE:
            return found
        offset += PAGE


def described(deployment):
    return dict(name=deployment["name"], entrypoint=deployment.get("entrypoint"),
                work_pool=deployment.get("work_pool_name"))


def main():
    module = api_module(
        dict(
            work_pools=dict(type="list", elements="str", required=True),
            keep=dict(type="list", elements="dict", required=True,
                      options=dict(name=dict(type="str", required=True), entrypoint=dict(type="str", required=True))),
        ),
        names=(),
    )
    pools = module.params["work_pools"]
    if not pools or not all(pool.strip() for pool in pools):
        module.fail_json(msg="work_pools must name at least one work pool, and no empty name.")
    keep = set((item["name"], item["entrypoint"]) for item in module.params["keep"])
    client = PrefectApi(module.params)
    try:
        # A misspelt pool fails instead of matching nothing; in check mode a
        # missing pool may be one an earlier task would create, with nothing to prune.
        missing = [pool for pool in pools if client.get("/work_pools/" + path_segment(pool), missing_ok=True) is None]
        if missing and not module.check_mode:
            module.fail_json(msg="work pool %s does not exist" % ", ".join(repr(pool) for pool in missing))
        current = deployments_of(client, pools)
        doomed = [deployment for deployment in current
                  if (deployment["name"], deployment.get("entrypoint")) not in keep]
        if not module.check_mode:
            for deployment in doomed:
                client.delete("/deployments/" + path_segment(deployment["id"]))
    except PrefectApiError as exc:
        module.fail_json(msg=str(exc))
    removed = sorted((described(deployment) for deployment in doomed),
                     key=lambda item: (item["work_pool"] or "", item["name"], item["entrypoint"] or ""))
    result = dict(changed=bool(doomed), removed=removed, kept=len(current) - len(doomed))
    if module._diff:
        shown = sorted("%s/%s (%s)" % (item["work_pool"], item["name"], item["entrypoint"])
                       for item in map(described, current))
        gone = set("%s/%s (%s)" % (item["work_pool"], item["name"], item["entrypoint"]) for item in removed)
        result["diff"] = dict(before=dict(deployments=shown),
                              after=dict(deployments=[item for item in shown if item not in gone]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
