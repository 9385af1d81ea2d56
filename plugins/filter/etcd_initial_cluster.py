# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: etcd_initial_cluster
short_description: The membership an etcd member just added starts with
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Reads etcdctl's C(member add --write-out=json) and returns C(ETCD_INITIAL_CLUSTER) for the member just added,
    C(name=peerURL) for every member, the new one (which has no name until it starts) under I(name).
  - Fails when the new member is not among them, or when another member has no name yet (it is joining too).
options:
  _input:
    description: etcdctl's JSON answer, with C(members).
    type: dict
    required: true
  name:
    description: The new member's name (the inventory name).
    type: str
    required: true
  peer_url:
    description: The new member's peer URL.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Note the membership to start with
  ansible.builtin.set_fact:
    initial_cluster: "{{ added.stdout | from_json | selfhosted.prefect.etcd_initial_cluster('db3', 'https://10.0.0.13:2380') }}"
"""

RETURN = r"""
_value:
  description: The ETCD_INITIAL_CLUSTER value.
  type: str
  sample: db1=https://10.0.0.11:2380,db2=https://10.0.0.12:2380,db3=https://10.0.0.13:2380
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.etcd import etcd_initial_cluster


class FilterModule:
    def filters(self):
        return {"etcd_initial_cluster": etcd_initial_cluster}
