# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: nft_rules
short_description: nftables rules that let given sources reach given ports
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - The rules of one service for the chain C(input) of the host firewall (the C(selfhosted.prefect.prefect_firewall)
    role's table C(inet selfhosted_prefect)), one line per address family.
  - Sources are addresses, networks in CIDR notation (C(0.0.0.0/0) and C(::/0) for everyone), or inventory names,
    which stand for the host's gathered default IPv4 and IPv6 addresses. Loopback sources are left out (the chain lets
    loopback in anyway); a rule without other sources lets nobody in.
  - Fails with a message naming the rule on a port outside 1 to 65535, an unknown protocol, a source that is neither
    an address, a network nor an inventory host with gathered facts, or a comment nftables cannot hold.
options:
  _input:
    description: The rules, each with C(port) (a port or a list of ports), C(sources), C(proto) (C(tcp), the default,
      C(udp), or C(vrrp), which has no ports) and C(comment) (1 to 128 characters, no quotes or backslashes).
    type: list
    elements: dict
    required: true
  hostvars:
    description: C(hostvars), to find the addresses of inventory names.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Let the API hosts reach PostgreSQL
  ansible.builtin.copy:
    content: "{{ [{'port': 5432, 'sources': ['api1', 'api2'], 'comment': 'PostgreSQL from the API hosts'}]
                  | selfhosted.prefect.nft_rules(hostvars) }}"
    dest: /etc/nftables.d/selfhosted-prefect/postgresql.nft
    mode: "0640"
"""

RETURN = r"""
_value:
  description: The rules as nftables text, each preceded by its comment.
  type: str
  sample: |
    # PostgreSQL from the API hosts
    ip saddr { 10.0.0.11, 10.0.0.12 } tcp dport 5432 accept comment "PostgreSQL from the API hosts"
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.firewall import nft_rules


class FilterModule:
    def filters(self):
        return {"nft_rules": nft_rules}
