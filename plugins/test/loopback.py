# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: loopback
short_description: Whether an address or network is reached only from the host itself
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - True for C(localhost), an address in 127.0.0.0/8 or C(::1), and a network inside them (C(127.0.0.1/32)).
  - False for anything else, host names included (they resolve to whatever the network says), so a caller that
    protects traffic on the network protects it for those too.
options:
  _input:
    description: An address, a network in CIDR notation, or a host name.
    type: str
    required: true
"""

EXAMPLES = r"""
# pg_hba.conf: encrypted connections required from everywhere but the host itself.
#   {{ 'host' if address is selfhosted.prefect.loopback else 'hostssl' }}
"""

RETURN = r"""
_value:
  description: Whether only the host itself reaches it.
  type: bool
"""

import ipaddress


def loopback(address):
    """True for localhost and loopback addresses or networks."""
    address = str(address).strip()
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_network(address.strip("[]"), strict=False).is_loopback
    except ValueError:
        return False


class TestModule:
    def tests(self):
        return {"loopback": loopback}
