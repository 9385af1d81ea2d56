# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_stale_members
short_description: The etcd members that are an earlier incarnation of a host
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Reads etcdctl's C(member list --write-out=json) and returns the IDs, in hexadecimal as C(etcdctl member remove)
    takes them, of the members with the host's name or peer URL. A host that lost its etcd data must replace them
    before it joins again (P(selfhosted.prefect.etcd_initial_cluster#filter) then names its membership).
options:
  _input:
    description: etcdctl's JSON answer, with C(members).
    type: dict
    required: true
  name:
    description: The member's name (the inventory name).
    type: str
    required: true
  peer_url:
    description: The member's peer URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Remove the member this host was before
  ansible.builtin.command: etcdctl member remove {{ item }}
  loop: "{{ members.stdout | from_json | selfhosted.prefect.etcd_stale_members('db3', 'https://10.0.0.13:2380') }}"
"""

RETURN = r"""
_value:
  description: The members' IDs in hexadecimal.
  type: list
  elements: str
  sample: [8e9e05c52164694d]
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.etcd import etcd_stale_members


class FilterModule:
    def filters(self):
        return {"etcd_stale_members": etcd_stale_members}
