# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which addresses only the host itself reaches (plugins/test/loopback.py):
what pg_hba.conf may leave unencrypted."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.selfhosted.prefect.plugins.test import loopback as plugin
from ansible_collections.selfhosted.prefect.plugins.test.loopback import loopback


def test_the_test_is_exposed():
    assert plugin.TestModule().tests()["loopback"] is loopback  # the class is not imported: pytest would collect it


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "127.0.0.1/32",
                                     "127.0.0.0/8", "::1/128", " 127.0.0.1 "])
def test_loopback(address):
    assert loopback(address)


@pytest.mark.parametrize("address", ["10.0.0.1", "0.0.0.0", "::", "0.0.0.0/0", "10.0.0.0/8", "127.0.0.0/7",
                                     "db1", "localhost.example.internal", "", "::ffff:127.0.0.1"])
def test_reached_from_elsewhere(address):
    assert not loopback(address)


@given(st.ip_addresses())
def test_an_address_is_loopback_exactly_when_python_says_so(address):
    assert loopback(str(address)) == address.is_loopback
