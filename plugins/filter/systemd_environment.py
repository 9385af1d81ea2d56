# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_environment
short_description: Variables as the lines of a systemd environment file
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - One C(NAME="value") line per variable, in the given order, each value in double quotes with its backslashes and
    double quotes escaped, so systemd (C(EnvironmentFile=)) reads it back exactly, spaces and dollar signs included.
    Every environment file of the collection is written with it.
  - Fails on a name that is not a variable name, or a value with a line break or a NUL, which no such line holds.
options:
  _input:
    description: Variable names to values (any value is written as its string).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the exporter's settings
  ansible.builtin.copy:
    content: "{{ {'PREFECT_API_URL': 'https://prefect.example.com/api'} | selfhosted.prefect.systemd_environment }}\n"
    dest: /etc/selfhosted-prefect/prefect-exporter.env
    mode: "0600"
"""

RETURN = r"""
_value:
  description: The lines, joined by line breaks, without a final one.
  type: str
  sample: PREFECT_API_URL="https://prefect.example.com/api"
"""

import re

from ansible.errors import AnsibleFilterError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def systemd_environment(variables):
    """{name: value} -> NAME="value" lines."""
    lines = []
    for name, value in variables.items():
        text = str(value)
        if not NAME.match(str(name)):
            raise AnsibleFilterError(f"environment file: {str(name)!r} is not a variable name")
        if re.search(r"[\n\r\x00]", text):
            raise AnsibleFilterError(f"environment file: the value of {name} holds a line break or a NUL")
        lines.append(f'{name}="' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "\n".join(lines)


class FilterModule:
    def filters(self):
        return {"systemd_environment": systemd_environment}
