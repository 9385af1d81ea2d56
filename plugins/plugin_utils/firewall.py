# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host firewall's rules (prefect_firewall): what a role lets in, as
nftables rules for the chain input of the table inet selfhosted_prefect.
Sources are addresses, networks or inventory names (their gathered
addresses), so a role can say "the load balancers" by name. Exposed by the
filter nft_rules (tests/unit/plugins/plugin_utils/test_firewall.py).
"""
from __future__ import annotations

import ipaddress
import re

from ansible.errors import AnsibleFilterError

PROTOCOLS = ("tcp", "udp")
# Protocols without ports: VRRP, which keepalived speaks between the load
# balancers of one floating address.
PORTLESS_PROTOCOLS = ("vrrp",)
# nftables keeps comments of up to 128 bytes; quotes and backslashes would end
# or escape the string.
COMMENT = re.compile(r'^[^"\\\x00-\x1f\x7f]{1,128}$')


def _networks_of_host(name, host_vars):
    facts = host_vars.get("ansible_facts") or {}
    addresses = [(facts.get(key) or {}).get("address") for key in ("default_ipv4", "default_ipv6")]
    addresses = [address for address in addresses if address]
    if not addresses:
        raise AnsibleFilterError(
            f"the inventory host {name!r} has no gathered address (ansible_facts.default_ipv4): gather its facts "
            "in the play, or give its address instead of its name")
    return [ipaddress.ip_network(address) for address in addresses]


def sources(entries, hostvars, what):
    """entries (addresses, networks in CIDR notation, inventory names) ->
    the networks they stand for, loopback left out (the chain lets loopback
    in anyway), each once, in order."""
    if isinstance(entries, (str, bytes)) or not isinstance(entries, (list, tuple)):
        raise AnsibleFilterError(f"{what}: sources must be a list of addresses, networks or inventory names")
    networks = []
    for entry in entries:
        text = str(entry).strip()
        if text == "localhost":
            continue
        try:
            found = [ipaddress.ip_network(text.strip("[]"), strict=False)]
        except ValueError:
            if text not in hostvars:
                raise AnsibleFilterError(
                    f"{what}: {text!r} is neither an address, a network nor a host of the inventory") from None
            found = _networks_of_host(text, hostvars[text])
        for network in found:
            if not network.is_loopback and network not in networks:
                networks.append(network)
    return networks


def _ports(rule, what):
    ports = rule.get("port")
    ports = ports if isinstance(ports, (list, tuple)) else [ports]
    checked = []
    for port in ports:
        if isinstance(port, bool) or not re.fullmatch(r"[0-9]{1,5}", str(port)) or not 1 <= int(port) <= 65535:
            raise AnsibleFilterError(f"{what}: port {port!r} is not a port number (1 to 65535)")
        if int(port) not in checked:
            checked.append(int(port))
    if not checked:
        raise AnsibleFilterError(f"{what}: no port given")
    return checked


def _set(items):
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def nft_rules(rules, hostvars):
    """rules ([{port, sources, proto, comment}]) -> the nftables rules that
    let those sources reach those ports (or speak that portless protocol),
    one line per address family."""
    if not isinstance(rules, (list, tuple)):
        raise AnsibleFilterError("the firewall rules must be a list")
    lines = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise AnsibleFilterError(f"firewall rule {index + 1}: a mapping with port, sources and comment")
        comment = str(rule.get("comment") or "")
        what = f"firewall rule {comment!r}" if comment else f"firewall rule {index + 1}"
        if not COMMENT.match(comment):
            raise AnsibleFilterError(
                f"{what}: the comment must be 1 to 128 characters without quotes, backslashes or control characters")
        proto = str(rule.get("proto") or "tcp")
        if proto not in PROTOCOLS + PORTLESS_PROTOCOLS:
            raise AnsibleFilterError(f"{what}: proto must be one of {', '.join(PROTOCOLS + PORTLESS_PROTOCOLS)}")
        if proto in PORTLESS_PROTOCOLS:
            if rule.get("port") not in (None, [], ""):
                raise AnsibleFilterError(f"{what}: {proto} has no ports, give none")
            match = f"meta l4proto {proto}"
        else:
            match = f"{proto} dport {_set(_ports(rule, what))}"
        networks = sources(rule.get("sources") or [], hostvars, what)
        lines.append(f"# {comment}")
        if not networks:
            lines.append("# (no source but this host itself)")
        for family, version in (("ip", 4), ("ip6", 6)):
            allowed = [network for network in networks if network.version == version]
            if allowed:
                lines.append(f'{family} saddr {_set(allowed)} {match} accept comment "{comment}"')
    return "\n".join(lines) + "\n" if lines else ""
