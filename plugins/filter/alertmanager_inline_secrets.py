# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: alertmanager_inline_secrets
short_description: Where an Alertmanager configuration holds a secret inline
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - The paths of the settings of an Alertmanager configuration (or a part of it) that hold a secret inline, such as
    C(auth_password), C(api_key), C(routing_key) or a Slack C(api_url), where Alertmanager reads the same from a file
    (C(auth_password_file), C(api_key_file)...). Empty values do not count.
options:
  _input:
    description: The configuration, or a part such as the receivers.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse receivers that hold a secret inline
  ansible.builtin.assert:
    that: (receivers | selfhosted.prefect.alertmanager_inline_secrets) == []
"""

RETURN = r"""
_value:
  description: The paths, in order.
  type: list
  elements: str
  sample: ["[0].email_configs[0].auth_password"]
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.alertmanager import inline_secrets


class FilterModule:
    def filters(self):
        return {"alertmanager_inline_secrets": inline_secrets}
