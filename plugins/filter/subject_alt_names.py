# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: subject_alt_names
short_description: Host names and addresses as a certificate's subject alternative names
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - The names a TLS client may use to reach a host, as the C(subject_alt_name) entries of the module
    C(community.crypto.openssl_csr_pipe) - C(IP:) for IPv4 and IPv6 addresses, C(DNS:) for names - in the
    order given, empty entries and repeats left out.
  - Fails on an entry that is neither an address nor a host name, instead of issuing a certificate no client
    would accept.
options:
  _input:
    description: Host names and addresses.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Create the signing request
  community.crypto.openssl_csr_pipe:
    privatekey_path: /etc/ssl/selfhosted-prefect/postgresql.key
    subject_alt_name: "{{ ['db1', 'db1.example.internal', '192.0.2.10'] | selfhosted.prefect.subject_alt_names }}"
"""

RETURN = r"""
_value:
  description: The entries, for example V([DNS:db1, IP:192.0.2.10]).
  type: list
  elements: str
"""

import ipaddress
import re

from ansible.errors import AnsibleFilterError

# RFC 1123 labels; a wildcard only as the whole leftmost label.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _is_host_name(name):
    labels = name.rstrip(".").split(".")
    if labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def subject_alt_names(names):
    """names -> ['DNS:…' | 'IP:…'], first occurrence kept."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise AnsibleFilterError(f"subject_alt_names expects a list of names and addresses, not {type(names).__name__}")
    entries = []
    for name in names:
        name = str(name or "").strip()
        if not name:
            continue
        try:
            entry = f"IP:{ipaddress.ip_address(name.strip('[]'))}"
        except ValueError:
            if not _is_host_name(name):
                raise AnsibleFilterError(f"{name!r} is neither an IP address nor a host name") from None
            entry = f"DNS:{name.lower().rstrip('.')}"
        if entry not in entries:
            entries.append(entry)
    return entries


class FilterModule:
    def filters(self):
        return {"subject_alt_names": subject_alt_names}
