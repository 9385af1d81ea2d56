#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_concurrency_limit
short_description: Create, update and delete Prefect's global and tag concurrency limits through the REST API
version_added: 0.1.0
description:
  - Ensures a global concurrency limit (by O(name), which flows take slots of with C(concurrency())
    or C(rate_limit())) or a tag concurrency limit (by O(tag), which caps the task runs carrying the
    tag) has the given limit, or does not exist.
  - Options left out are not managed. The slots taken at the moment are the server's, never compared.
options:
  name:
    description:
      - Name of a global concurrency limit.
      - One of O(name) and O(tag) is required.
    type: str
  tag:
    description: The tag of a tag concurrency limit (task runs with this tag).
    type: str
  limit:
    description:
      - How many slots at once (task runs with the tag, for O(tag)); 0 lets none run.
      - Required with O(state=present).
    type: int
  active:
    description: Whether a global limit is enforced; an inactive one lets everything through. Global limits only.
    type: bool
  slot_decay_per_second:
    description:
      - How many slots a global limit frees per second by itself, which makes it a rate limit
        (C(rate_limit())); V(0) frees slots only when they are released. Global limits only.
    type: float
  state:
    description: V(present) creates or updates the limit; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - selfhosted.prefect.api
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_work_queue
"""

EXAMPLES = r"""
- name: At most 5 flows at once hold a connection to the ERP database
  selfhosted.prefect.prefect_concurrency_limit:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    name: erp-database
    limit: 5
  run_once: true

- name: The partner's API takes 10 calls a second
  selfhosted.prefect.prefect_concurrency_limit:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    name: partner-api
    limit: 10
    slot_decay_per_second: 10

- name: Two task runs tagged gpu at a time
  selfhosted.prefect.prefect_concurrency_limit:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    tag: gpu
    limit: 2
"""

RETURN = r"""
concurrency_limit:
  description:
    - The limit after the task, or null when it does not exist. A global limit has C(name), C(limit),
      C(active) and C(slot_decay_per_second); a tag limit C(tag) and C(limit).
  returned: success
  type: dict
  sample: {name: erp-database, limit: 5, active: true, slot_decay_per_second: 0.0}
"""

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    LARGEST_INTEGER, PrefectApi, api_module, converge_object, path_segment, update_changed,
)

GLOBAL_ONLY = ("active", "slot_decay_per_second")


class GlobalLimit:
    """A global limit: the v2 API, by name."""

    def __init__(self, params):
        self.client = PrefectApi(params)
        self.path = "/v2/concurrency_limits/" + path_segment(params["name"])
        self.params = params

    @staticmethod
    def managed(limit):
        if limit is None:
            return None
        return dict(name=limit["name"], limit=limit.get("limit"), active=limit.get("active"),
                    slot_decay_per_second=limit.get("slot_decay_per_second"))

    def wanted(self):
        wanted = dict(name=self.params["name"], limit=self.params["limit"])
        for option in GLOBAL_ONLY:
            if self.params[option] is not None:
                wanted[option] = self.params[option]
        return wanted

    def read(self):
        return self.managed(self.client.get(self.path, missing_ok=True))

    def create(self, wanted):
        return self.managed(self.client.post("/v2/concurrency_limits/", wanted))

    def update(self, changes):
        self.client.patch(self.path, changes)
        return self.read()

    def delete(self):
        self.client.delete(self.path)

    def defaults(self):
        return dict(active=True, slot_decay_per_second=0.0)


class TagLimit:
    """A tag limit: the tag API (Prefect keeps it as the global limit
    "tag:<tag>"), where a POST creates or updates."""

    def __init__(self, params):
        self.client = PrefectApi(params, fields=("id", "tag"))
        self.path = "/concurrency_limits/tag/" + path_segment(params["tag"])
        self.params = params

    @staticmethod
    def managed(limit):
        return None if limit is None else dict(tag=limit["tag"], limit=limit.get("concurrency_limit"))

    def wanted(self):
        return dict(tag=self.params["tag"], limit=self.params["limit"])

    def read(self):
        return self.managed(self.client.get(self.path, missing_ok=True))

    def create(self, wanted):
        self.client.post("/concurrency_limits/", dict(tag=wanted["tag"], concurrency_limit=wanted["limit"]))
        return self.read()

    def update(self, changes):
        return self.create(dict(tag=self.params["tag"], **changes))

    def delete(self):
        self.client.delete(self.path)

    def defaults(self):
        return {}


def ensure_present(module, kind, before):
    wanted = kind.wanted()
    if before is None:
        after = dict(kind.defaults(), **wanted)
        if not module.check_mode:
            after = kind.create(wanted)
        return True, after
    return update_changed(module, before, wanted, kind.update, fixed=())


def check_params(module):
    params = module.params
    which = "name" if params["name"] is not None else "tag"
    if not params[which].strip():
        module.fail_json(msg="%s must not be empty." % which)
    if which == "tag":
        given = [option for option in GLOBAL_ONLY if params[option] is not None]
        if given:
            module.fail_json(msg="%s: only a global limit (name) has it; a tag limit has only its limit"
                             % ", ".join(given))
    if params["limit"] is not None and not 0 <= params["limit"] <= LARGEST_INTEGER:
        module.fail_json(msg="limit must be 0 to %d, not %s" % (LARGEST_INTEGER, params["limit"]))
    decay = params["slot_decay_per_second"]
    if decay is not None and not 0 <= decay < float("inf"):
        module.fail_json(msg="slot_decay_per_second must be 0 or more, not %s" % decay)
    return GlobalLimit(params) if which == "name" else TagLimit(params)


def main():
    module = api_module(
        dict(
            name=dict(type="str"),
            tag=dict(type="str"),
            limit=dict(type="int"),
            active=dict(type="bool"),
            slot_decay_per_second=dict(type="float"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        names=(),
        mutually_exclusive=[("name", "tag")],
        required_one_of=[("name", "tag")],
        required_if=[("state", "present", ("limit",))],
    )
    kind = check_params(module)
    converge_object(
        module, "concurrency_limit",
        read=kind.read,
        delete=lambda before: kind.delete(),
        ensure_present=lambda before: ensure_present(module, kind, before),
    )


if __name__ == "__main__":
    main()
