# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host names and addresses as a certificate's SAN entries
(plugins/filter/subject_alt_names.py)."""
from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.selfhosted.prefect.plugins.filter.subject_alt_names import FilterModule, subject_alt_names


def test_the_filter_is_exposed():
    assert FilterModule().filters()["subject_alt_names"] is subject_alt_names


def test_names_and_addresses():
    assert subject_alt_names(["db1", "DB1.Example.Internal.", "192.0.2.10", "2001:db8::1", "[::1]"]) == [
        "DNS:db1", "DNS:db1.example.internal", "IP:192.0.2.10", "IP:2001:db8::1", "IP:::1"]


def test_empty_entries_and_repeats_are_left_out():
    assert subject_alt_names(["db1", "", None, " db1 ", "db1.", "10.0.0.1", "10.0.0.1"]) == ["DNS:db1", "IP:10.0.0.1"]


def test_an_address_is_written_the_way_openssl_compares_it():
    assert subject_alt_names(["2001:DB8:0:0::1"]) == ["IP:2001:db8::1"]


def test_a_wildcard_only_as_the_leftmost_label():
    assert subject_alt_names(["*.example.internal"]) == ["DNS:*.example.internal"]
    with pytest.raises(AnsibleFilterError, match="neither an IP address nor a host name"):
        subject_alt_names(["db.*.internal"])


@pytest.mark.parametrize("bad", ["db 1", "db_1", "-db1", "db1-", "a" * 64, "db1/24", "10.0.0.0/8", "http://db1"])
def test_what_no_client_would_accept_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="neither an IP address nor a host name"):
        subject_alt_names([bad])


@pytest.mark.parametrize("bad", ["db1", {"name": "db1"}, 3])
def test_a_list_is_expected(bad):
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        subject_alt_names(bad)


@given(st.lists(st.one_of(st.ip_addresses(), st.from_regex(r"\A[a-z][a-z0-9-]{0,20}[a-z0-9](\.[a-z]{2,5}){0,2}\Z"))))
def test_any_mix_of_addresses_and_names(values):
    entries = subject_alt_names([str(value) for value in values])
    assert len(entries) == len(set(entries))
    for value in values:
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            assert f"IP:{value}" in entries
        else:
            assert f"DNS:{value}" in entries
