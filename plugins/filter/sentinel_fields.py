# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: sentinel_fields
short_description: A Sentinel's SENTINEL MASTER answer as a mapping
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - The output lines of C(redis-cli) for C(AUTH) and C(SENTINEL MASTER) (field names and values on alternate
    lines) as a mapping of field to value, all strings.
  - Fails on an error reply.
options:
  _input:
    description: The lines (C(stdout_lines)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The quorum this Sentinel applies
  ansible.builtin.debug:
    msg: "{{ (answer.stdout_lines | selfhosted.prefect.sentinel_fields)['quorum'] }}"
"""

RETURN = r"""
_value:
  description: Field to value.
  type: dict
  sample: {name: prefect, ip: 10.0.0.21, port: "6379", quorum: "2", down-after-milliseconds: "5000"}
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.redis_sentinel import sentinel_fields


class FilterModule:
    def filters(self):
        return {"sentinel_fields": sentinel_fields}
