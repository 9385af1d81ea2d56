# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role in a play with gather_facts: false gets as far as its own checks
(their message, not "object of type 'dict' has no attribute 'fqdn'").

Each play gives the role an invalid entry, so it stops at its validation,
before touching this host.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: selfhosted.prefect.{role}
      vars:
{role_vars}
"""


@pytest.mark.parametrize("role, role_vars, message", [
    ("prefect_monitoring",
     "        prefect_monitoring_api_url: https://prefect.example.com/",
     "prefect_monitoring_api_url must be the API URL clients use, ending in /api"),
    ("prefect_monitoring",
     "        prefect_monitoring_api_url: https://prefect.example.com/api\n"
     "        prefect_monitoring_alertmanager_receivers: [{name: default, email_configs: [{auth_password: hunter2}]}]",
     "name their files (/etc/prometheus/selfhosted-prefect/secrets/NAME) with the *_file setting instead: "
     "receivers[0].email_configs[0].auth_password."),
    ("prefect_server",
     "        prefect_server_database_password: x\n"
     "        prefect_server_instances: [{name: default, port: 99999}]",
     "ports must be between 1 and 65535 (bad: 99999)"),
    ("prefect_server",
     "        prefect_server_database_password: x\n",
     "prefect_server_instances: default would serve the API beyond loopback without credentials"),
    ("prefect_server",
     "        prefect_server_database_password: x\n"
     "        prefect_server_auth_string: ops:x\n"
     "        prefect_server_flow_run_retention_days: 0\n"
     "        prefect_server_db_vacuum_batch_size: 0",
     "these must be 1 or more: prefect_server_flow_run_retention_days, prefect_server_db_vacuum_batch_size."),
    ("prefect_server",
     "        prefect_server_database_password: x\n"
     "        prefect_server_auth_string: ops:x\n"
     "        prefect_server_version: '3.6.29'\n"
     "        prefect_server_db_vacuum_types: [events, orphans]",
     "prefect_server_db_vacuum_types: orphans needs Prefect 3.8 or later (prefect_server_version is 3.6.29)"),
    ("prefect_client",
     "        prefect_client_profiles: [{name: hosted, api_url: 'ftp://server/api'}]",
     "api_url must start with http:// or https:// (profiles hosted"),
    ("prefect_worker",
     "        prefect_worker_api_url: 'ftp://server/api'",
     "prefect_worker_api_url must be the API URL"),
])
def test_role_reaches_its_own_validation_without_facts(tmp_path, role, role_vars, message):
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY.format(role=role, role_vars=role_vars))
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook)],
                            capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "has no attribute" not in output
    assert message in output, output[-2000:]
    assert "hunter2" not in output  # the inline secret of a refused receiver
