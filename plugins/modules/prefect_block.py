#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: prefect_block
short_description: Create, update and delete Prefect block documents through the REST API
version_added: 0.1.0
description:
  - Ensures a block document of a registered block type (what flows load with C(Block.load), as
    C(<type>/<name>)) has exactly the given data, or does not exist.
  - The block type must be registered on the server already. The server registers Prefect's own
    types (C(secret), C(local-file-system), C(remote-file-system), C(webhook), ...) and those of
    Prefect's integrations (C(s3-bucket), C(aws-credentials), ...) when it starts; a type of your
    own is registered with C(prefect block register -m <module>) where its code is installed.
  - The data is checked against the newest schema of the type on the server (no unknown field, every
    required field given). The fields the schema calls secret must come in O(secret_data), which
    Ansible keeps out of its output; the module compares them with the stored values without
    showing either, and its diff and result show them as C(********).
options:
  block_type:
    description: The block type's slug, the C(<type>) of C(<type>/<name>).
    type: str
    required: true
  name:
    description: The block document's name; Prefect allows lowercase letters, digits and dashes.
    type: str
    required: true
  data:
    description:
      - The document's fields that are not secret. Nested blocks are given inline, as mappings.
      - With O(secret_data), the whole document with O(state=present); a field left out is removed.
    type: dict
    default: {}
  secret_data:
    description:
      - The document's secret fields (those the type's schema marks, such as a password or a key), merged
        into O(data) key by key. Never printed, in the diff neither.
    type: dict
    default: {}
  state:
    description: V(present) creates or updates the document; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - selfhosted.prefect.api
author:
  - selfhosted.prefect developers (@selfhosted)
seealso:
  - module: selfhosted.prefect.prefect_variable
"""

EXAMPLES = r"""
- name: The warehouse password, for flows that load Secret "warehouse-password"
  selfhosted.prefect.prefect_block:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    block_type: secret
    name: warehouse-password
    secret_data:
      value: "{{ vault_warehouse_password }}"
  run_once: true

- name: Results on the share every worker mounts at /srv/prefect-results
  selfhosted.prefect.prefect_block:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    block_type: local-file-system
    name: shared-results
    data:
      basepath: /srv/prefect-results

- name: Remove a block document
  selfhosted.prefect.prefect_block:
    api_url: https://prefect.example.org/api
    auth_string: "{{ vault_prefect_auth_string }}"
    block_type: secret
    name: old-api-key
    state: absent
"""

RETURN = r"""
block:
  description:
    - The document after the task (block_type, name, data), or null when it does not exist. Its secret
      fields show as C(********), followed by the word changed in parentheses where the task changed one.
  returned: success
  type: dict
  sample: {block_type: secret, name: warehouse-password, data: {value: "********"}}
"""

import copy

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    PrefectApi, PrefectApiError, api_module, converge_object, path_segment, same_json,
)

MASK = "********"  # what Prefect shows for a secret, and what the diff shows


def merged(data, secret_data):
    """data with secret_data merged in, mappings key by key (a nested
    block's user name in data, its password in secret_data)."""
    whole = copy.deepcopy(data)
    for key, value in secret_data.items():
        if isinstance(value, dict) and isinstance(whole.get(key), dict):
            whole[key] = merged(whole[key], value)
        else:
            whole[key] = copy.deepcopy(value)
    return whole


def leaf_paths(data, prefix=()):
    """The path of every value in nested mappings that is no mapping."""
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from leaf_paths(value, prefix + (key,))
        else:
            yield prefix + (key,)


def is_secret(path, secret_fields):
    """Whether the field at path (a tuple of keys) is secret by one of the
    schema's secret fields ("a.b", or "a.*" for every value under a), or
    lies under one, as Prefect's server decides when it hides them."""
    for field in secret_fields:
        parts = tuple(field.split("."))
        if "*" in parts:
            prefix = parts[:parts.index("*")]
            if path[:len(prefix)] == prefix and len(path) > len(prefix):
                return True
        elif path[:len(parts)] == parts:
            return True
    return False


def masked(data, secret_paths, stored=None):
    """data with every value at one of secret_paths (key tuples, "*" for
    any key) replaced by MASK; with stored (the data on the server), a
    hidden value that differs from the stored one by MASK + " (changed)"."""
    def walk(value, path, old):
        if any(_matches(path, secret) for secret in secret_paths):
            unchanged = stored is None or (old is not _ABSENT and same_json(value, old))
            return MASK if unchanged else MASK + " (changed)"
        if isinstance(value, dict):
            old = old if isinstance(old, dict) else {}
            return dict((key, walk(item, path + (key,), old.get(key, _ABSENT))) for key, item in value.items())
        return value
    return walk(data, (), stored)


_ABSENT = object()  # a field the stored data lacks: any value differs from it


def _matches(path, secret):
    return len(path) == len(secret) and all(want in ("*", key) for want, key in zip(secret, path))


def secret_paths(secret_fields, secret_data):
    """What the diff and result hide: the schema's secret fields and every
    value given in secret_data."""
    paths = set(tuple(field.split(".")) for field in secret_fields)
    paths.update(leaf_paths(secret_data))
    return paths


def schema_problems(block_type, data, secret_data, fields):
    """Why the document does not fit the type's schema (fields), or []:
    a secret field in data, an unknown or a missing required field."""
    secret_fields = fields.get("secret_fields") or []
    properties = fields.get("properties") or {}
    problems = []
    exposed = sorted(".".join(path) for path in leaf_paths(data) if is_secret(path, secret_fields))
    if exposed:
        problems.append("%s is secret in the block type %s: give it in secret_data, which Ansible keeps out "
                        "of its output" % (", ".join(exposed), block_type))
    whole = merged(data, secret_data)
    unknown = sorted(key for key in whole if key not in properties)
    if unknown and properties:
        problems.append("the block type %s has no field %s (its fields: %s)"
                        % (block_type, ", ".join(unknown), ", ".join(sorted(properties))))
    missing = sorted(key for key in fields.get("required") or [] if key not in whole)
    if missing:
        problems.append("the block type %s requires %s" % (block_type, ", ".join(missing)))
    return problems


class BlockDocument:
    """The document by type and name, and the type's newest schema."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = PrefectApi(module.params)
        self.path = "/block_types/slug/%s/block_documents/name/%s" % (
            path_segment(self.params["block_type"]), path_segment(self.params["name"]))
        self.block_type = self.schema = self.stored = None

    def read(self):
        self.block_type = self.client.get("/block_types/slug/" + path_segment(self.params["block_type"]),
                                          missing_ok=True)
        if self.block_type is None:
            if self.params["state"] == "absent":
                return None  # no document of a type the server lacks
            raise PrefectApiError(
                "the server has no block type %r: register it where its package is installed "
                "(prefect block register -m <package>), or name a registered type's slug"
                % self.params["block_type"])
        schemas = PrefectApi(self.params, fields=("id", "fields")).post(
            "/block_schemas/filter",
            {"block_schemas": {"block_type_id": {"any_": [self.block_type["id"]]}}, "limit": 1}, answer=list)
        if not schemas:
            raise PrefectApiError("the block type %r has no schema on the server" % self.params["block_type"])
        self.schema = schemas[0]  # the server lists the newest first
        self.stored = PrefectApi(self.params, fields=("id", "data")).get(
            self.path + "?include_secrets=true", missing_ok=True)
        return self.shown(self.stored["data"]) if self.stored else None

    def shown(self, data, stored=None):
        paths = secret_paths(self.schema["fields"].get("secret_fields") or [], self.params["secret_data"])
        return dict(block_type=self.params["block_type"], name=self.params["name"],
                    data=masked(data, paths, stored))

    def ensure_present(self, before):
        params = self.params
        problems = schema_problems(params["block_type"], params["data"], params["secret_data"], self.schema["fields"])
        if problems:
            raise PrefectApiError("; ".join(problems))
        wanted = merged(params["data"], params["secret_data"])
        if before is None:
            if not self.module.check_mode:
                self.client.post("/block_documents/", dict(
                    name=params["name"], data=wanted, block_schema_id=self.schema["id"],
                    block_type_id=self.block_type["id"]))
            return True, self.shown(wanted)
        if same_json(self.stored["data"], wanted):
            return False, before
        if not self.module.check_mode:
            self.client.patch("/block_documents/%s" % self.stored["id"],
                              dict(data=wanted, merge_existing_data=False))
        return True, self.shown(wanted, self.stored["data"])

    def delete(self):
        self.client.delete("/block_documents/%s" % self.stored["id"])


def main():
    module = api_module(
        dict(
            block_type=dict(type="str", required=True),
            name=dict(type="str", required=True),
            data=dict(type="dict", default={}),
            secret_data=dict(type="dict", default={}, no_log=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        names=("block_type", "name"),
    )
    document = BlockDocument(module)
    converge_object(
        module, "block",
        read=document.read,
        delete=lambda before: document.delete(),
        ensure_present=document.ensure_present,
    )


if __name__ == "__main__":
    main()
