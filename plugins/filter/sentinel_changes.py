# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: sentinel_changes
short_description: The commands that give a running Sentinel the wanted settings
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Compares what a Sentinel shows (its C(SENTINEL MASTER) fields, see P(selfhosted.prefect.sentinel_fields#filter),
    and its file) with the wanted quorum, timings, passwords and announced address, and returns a command for
    each that differs (C(SENTINEL SET), C(SENTINEL CONFIG SET)).
options:
  _input:
    description: The C(SENTINEL MASTER) fields.
    type: dict
    required: true
  text:
    description: The Sentinel's file C(/etc/redis/sentinel.conf), which alone shows the passwords and the address.
    type: str
    required: true
  wanted:
    description:
      - C(service), C(quorum), C(down-after-milliseconds), C(failover-timeout), C(auth-pass), C(sentinel-pass),
        C(announce-ip).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Note the Sentinel settings that differ
  ansible.builtin.set_fact:
    changes: "{{ fields | selfhosted.prefect.sentinel_changes(text, wanted) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: Each setting that differs, with C(name) (no value) and C(command) (which may hold a password).
  type: list
  elements: dict
  sample: [{name: quorum, command: SENTINEL SET prefect quorum 2}]
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.redis_sentinel import sentinel_changes


class FilterModule:
    def filters(self):
        return {"sentinel_changes": sentinel_changes}
