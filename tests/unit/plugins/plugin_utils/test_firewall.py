# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host firewall's rules (plugins/plugin_utils/firewall.py) and the
filter nft_rules: sources by address, network and inventory name, both
address families, and a clear message for anything nftables cannot hold."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.prefect.plugins.filter.nft_rules import FilterModule
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.firewall import nft_rules

HOSTVARS = {
    "api1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.11"}}},
    "api2": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.12"}, "default_ipv6": {"address": "fd00::12"}}},
    "lb1": {"ansible_facts": {"default_ipv4": {}}},
    "client1": {},
}


def test_the_filter_is_exposed():
    assert FilterModule().filters()["nft_rules"] is nft_rules


def test_inventory_names_stand_for_their_addresses_in_each_family():
    text = nft_rules([{"port": 5432, "sources": ["api1", "api2"], "comment": "PostgreSQL from the API hosts"}],
                     HOSTVARS)
    assert text == (
        "# PostgreSQL from the API hosts\n"
        'ip saddr { 10.0.0.11/32, 10.0.0.12/32 } tcp dport 5432 accept comment "PostgreSQL from the API hosts"\n'
        'ip6 saddr fd00::12/128 tcp dport 5432 accept comment "PostgreSQL from the API hosts"\n')


def test_networks_ports_and_protocols():
    text = nft_rules([{"port": [443, "80", 443], "sources": ["0.0.0.0/0", "::/0"], "comment": "HTTPS"},
                      {"port": 53, "proto": "udp", "sources": ["192.0.2.7/24"], "comment": "DNS"}], HOSTVARS)
    assert 'ip saddr 0.0.0.0/0 tcp dport { 443, 80 } accept comment "HTTPS"' in text
    assert 'ip6 saddr ::/0 tcp dport { 443, 80 } accept comment "HTTPS"' in text
    assert 'ip saddr 192.0.2.0/24 udp dport 53 accept comment "DNS"' in text


def test_vrrp_is_matched_by_protocol_without_ports():
    text = nft_rules([{"proto": "vrrp", "sources": ["api2"], "comment": "VRRP from the peer"}], HOSTVARS)
    assert text.splitlines() == [
        "# VRRP from the peer",
        'ip saddr 10.0.0.12/32 meta l4proto vrrp accept comment "VRRP from the peer"',
        'ip6 saddr fd00::12/128 meta l4proto vrrp accept comment "VRRP from the peer"']


def test_loopback_and_repeated_sources_are_left_out():
    text = nft_rules([{"port": 4200, "sources": ["127.0.0.1", "::1", "10.0.0.11", "api1", "[10.0.0.11]"],
                       "comment": "API"}], HOSTVARS)
    assert text.splitlines() == ["# API", 'ip saddr 10.0.0.11/32 tcp dport 4200 accept comment "API"']


def test_a_rule_without_other_sources_lets_nobody_in():
    for sources in ([], ["localhost"], None):
        text = nft_rules([{"port": 4200, "sources": sources, "comment": "API"}], HOSTVARS)
        assert "accept" not in text and "# (no source but this host itself)" in text
    assert nft_rules([], HOSTVARS) == ""


@pytest.mark.parametrize("rules, message", [
    ([{"port": 0, "sources": [], "comment": "x"}], "port 0 is not a port number"),
    ([{"port": 65536, "sources": [], "comment": "x"}], "port 65536 is not a port number"),
    ([{"port": True, "sources": [], "comment": "x"}], "port True is not a port number"),
    ([{"port": "22; drop", "sources": [], "comment": "x"}], "is not a port number"),
    ([{"port": [], "sources": [], "comment": "x"}], "no port given"),
    ([{"port": 1, "sources": [], "proto": "icmp", "comment": "x"}], "proto must be one of tcp, udp, vrrp"),
    ([{"port": 112, "sources": [], "proto": "vrrp", "comment": "x"}], "vrrp has no ports, give none"),
    ([{"port": 1, "sources": ["db9"], "comment": "x"}], "'db9' is neither an address, a network nor a host"),
    ([{"port": 1, "sources": ["client1"], "comment": "x"}], "'client1' has no gathered address"),
    ([{"port": 1, "sources": ["lb1"], "comment": "x"}], "'lb1' has no gathered address"),
    ([{"port": 1, "sources": "10.0.0.1", "comment": "x"}], "sources must be a list"),
    ([{"port": 1, "sources": [], "comment": 'a "quoted" word'}], "without quotes"),
    ([{"port": 1, "sources": [], "comment": "a\nline"}], "without quotes"),
    ([{"port": 1, "sources": [], "comment": "x" * 129}], "1 to 128 characters"),
    ([{"port": 1, "sources": []}], "1 to 128 characters"),
    (["port 22"], "firewall rule 1: a mapping"),
    ({"port": 1}, "must be a list"),
])
def test_what_nftables_cannot_hold_fails_with_a_message(rules, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(")):
        nft_rules(rules, HOSTVARS)


@given(st.lists(st.ip_addresses(), max_size=6), st.lists(st.integers(1, 65535), min_size=1, max_size=4))
def test_every_address_outside_loopback_is_let_in_by_exactly_its_family_line(addresses, ports):
    text = nft_rules([{"port": ports, "sources": [str(a) for a in addresses], "comment": "any"}], HOSTVARS)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    for address in addresses:
        family = "ip " if address.version == 4 else "ip6 "
        network = str(ipaddress.ip_network(address))
        holding = [line for line in lines if network in line.split(" dport ")[0].replace("{", " ").replace(",", " ")
                   .split()]
        assert len(holding) == (0 if address.is_loopback else 1), (address, text)
        assert all(line.startswith(family) for line in holding)
    assert all(line.endswith('accept comment "any"') for line in lines)


@given(st.text(max_size=40))
def test_any_source_text_gives_rules_or_a_message(entry):
    try:
        nft_rules([{"port": 1, "sources": [entry], "comment": "x"}], HOSTVARS)
    except AnsibleFilterError as error:
        assert "firewall rule 'x'" in str(error)
