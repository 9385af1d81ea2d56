# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: loadbalancer_servers
short_description: The API servers of each clustered Prefect server instance
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - From the C(prefect_server_instances) of the given hosts, the servers of each clustered instance (one with a
    C(cluster) mapping), as the C(selfhosted.prefect.prefect_loadbalancer) role's
    C(prefect_loadbalancer_backend_servers) takes them.
  - Each server is reached on the address its instance binds to, or on the host's default IPv4 address (from the
    gathered facts; the inventory name without them) when it binds to every address, at the instance's port.
  - C(tls) says whether the server serves TLS, as C(selfhosted.prefect.server_instance) decides it, from the
    instance's C(tls), else the host's C(prefect_server_api_tls) (true when the inventory does not set it), and never
    for an instance bound to loopback only.
options:
  _input:
    description: Inventory names of the API hosts (C(groups['prefect_server'])).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: HAProxy in front of the clustered instances
  ansible.builtin.include_role:
    name: selfhosted.prefect.prefect_loadbalancer
  vars:
    prefect_loadbalancer_backend_servers: "{{ groups['prefect_server'] | selfhosted.prefect.loadbalancer_servers(hostvars) }}"
"""

RETURN = r"""
_value:
  description: Instance name to its servers, each with C(name) (the inventory name), C(address), C(port) and C(tls).
  type: dict
  sample: {default: [{name: api1, address: 10.0.0.11, port: 4200, tls: true},
                     {name: api2, address: 10.0.0.12, port: 4200, tls: true}]}
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.instance_model import loadbalancer_servers


class FilterModule:
    def filters(self):
        return {"loadbalancer_servers": loadbalancer_servers}
