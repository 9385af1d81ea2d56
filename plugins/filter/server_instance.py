# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: server_instance
short_description: The model of one Prefect server instance
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Builds every name, path, URL, setting and environment variable of one instance of the
    C(selfhosted.prefect.prefect_server) role from its entry of C(prefect_server_instances) and the role's defaults.
  - User names and passwords are percent-encoded once, in full; IPv6 hosts are put in brackets.
  - The result holds secrets (C(environment), C(secret_forms)); set it as a fact with C(no_log).
options:
  _input:
    description: One entry of C(prefect_server_instances).
    type: dict
    required: true
  context:
    description:
      - The role's defaults, C(_prefect_server_instance_context) in the role's C(vars/main.yml).
      - "Keys: C(version), C(home_root), C(env_dir), C(venvs_dir), C(external_host), C(auth_string),
        C(database) (C(host), C(port), C(name), C(user), C(password)), C(redis) (C(host), C(port), C(username),
        C(password), C(messaging_db), C(docket_db)), C(api_workers), C(services_host), C(settings),
        C(production), C(backup_host), C(backup_before_migration), C(inventory_hostname)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Work out the instance
  ansible.builtin.set_fact:
    instance: "{{ {'name': 'default', 'port': 4200} | selfhosted.prefect.server_instance(context) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - The instance model. Among its keys C(unit), C(home), C(env_file), C(local_api_url), C(external_api_url),
      C(database) (without its password), C(database_identity), C(stamp), C(settings) (the profile),
      C(environment) (the secret environment file), C(cluster_environment), C(clustered), C(services_hosts),
      C(secret_forms) (every form in which a password can appear in output).
  type: dict
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.instance_model import server_instance


class FilterModule:
    def filters(self):
        return {"server_instance": server_instance}
