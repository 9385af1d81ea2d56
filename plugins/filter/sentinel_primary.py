# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: sentinel_primary
short_description: The Redis primary a majority of Sentinels name
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - From the answers of each Sentinel to C(AUTH) and C(SENTINEL GET-MASTER-ADDR-BY-NAME) (C(redis-cli) output
    lines), the primary's address when more than half of O(members) name the same one.
  - A Sentinel that did not answer both commands does not vote. With no vote, the empty string (new Sentinels).
  - Fails when some voted and no address has a majority (a failover under way, or split Sentinels).
options:
  _input:
    description: Each Sentinel's answer, a list of lines (C(stdout_lines)); an empty list when it did not answer.
    type: list
    elements: list
    required: true
  members:
    description: How many Sentinels there are.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: The primary the Sentinels agree on
  ansible.builtin.set_fact:
    primary: "{{ answers.results | map(attribute='stdout_lines', default=[]) | selfhosted.prefect.sentinel_primary(3) }}"
"""

RETURN = r"""
_value:
  description: The primary's address, or the empty string when no Sentinel named one.
  type: str
  sample: 10.0.0.21
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.redis_sentinel import sentinel_primary


class FilterModule:
    def filters(self):
        return {"sentinel_primary": sentinel_primary}
