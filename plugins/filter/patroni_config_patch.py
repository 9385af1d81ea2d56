# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: patroni_config_patch
short_description: The part of a Patroni cluster's settings that differs from the wanted ones
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Compares the dynamic configuration a Patroni REST API returns (C(GET /config)) with the wanted settings and
    returns the JSON merge patch C(PATCH /config) takes to apply them; empty when nothing differs.
  - Nested mappings (C(postgresql.parameters)) are compared key by key; V(true), C(on) and C(1) count as the same,
    and so do C(10) and V(10). Settings only in the cluster stay as they are.
options:
  _input:
    description: The cluster's settings, C(GET /config).
    type: dict
    required: true
  wanted:
    description: The settings wanted.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Note what differs
  ansible.builtin.set_fact:
    patch: "{{ config.json | selfhosted.prefect.patroni_config_patch({'ttl': 15, 'synchronous_mode': true}) }}"
"""

RETURN = r"""
_value:
  description: The settings that differ, with their wanted values.
  type: dict
  sample: {ttl: 15}
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.patroni import patroni_config_patch


class FilterModule:
    def filters(self):
        return {"patroni_config_patch": patroni_config_patch}
