# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: alert_rules
short_description: Prometheus alert rules with a site's overrides of their waits and labels
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - The text of a Prometheus rules file with, for each alert named in O(overrides), its C(for) (how long the
    condition must hold before the alert fires; C(0s) fires at once) replaced and its labels updated.
  - Fails on an alert the file does not have, a duration Prometheus would refuse, or a label it could not hold,
    naming the alert.
options:
  _input:
    description: The rules file's text.
    type: str
    required: true
  overrides:
    description: Alert name to a mapping of C(for) (a duration) and/or C(labels) (label name to value).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Install the rules, the worker alert after 5 minutes and paging the data team
  ansible.builtin.copy:
    content: >-
      {{ lookup('ansible.builtin.file', 'rules/selfhosted-prefect.rules.yml')
         | selfhosted.prefect.alert_rules({'PrefectNoReadyWorker': {'for': '5m', 'labels': {'team': 'data'}}}) }}
    dest: /etc/prometheus/selfhosted-prefect/rules/selfhosted-prefect.rules.yml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The rules file's text, as YAML.
  type: str
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.alert_rules import alert_rules


class FilterModule:
    def filters(self):
        return {"alert_rules": alert_rules}
