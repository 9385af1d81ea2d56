# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines of every environment file of the collection
(plugins/filter/systemd_environment.py): each value read back as given,
and what no such line can hold refused without showing the value."""
from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.selfhosted.prefect.plugins.filter.systemd_environment import (FilterModule,
                                                                                       systemd_environment)


def read_back(line):
    """What systemd reads from a NAME="value" line: backslash escapes undone."""
    name, quoted = line.split("=", 1)
    assert quoted.startswith('"') and quoted.endswith('"')
    return name, re.sub(r"\\(.)", r"\1", quoted[1:-1])


def test_the_filter_is_exposed():
    assert FilterModule().filters()["systemd_environment"] is systemd_environment


def test_spaces_dollars_quotes_and_backslashes_are_kept():
    text = systemd_environment({"PREFECT_API_AUTH_STRING": 'me:pa$$ word"\\x', "PORT": 4200, "ON": True})
    assert text.split("\n") == ['PREFECT_API_AUTH_STRING="me:pa$$ word\\"\\\\x"', 'PORT="4200"', 'ON="True"']


@pytest.mark.parametrize("variables, message", [
    ({"1BAD": "x"}, "'1BAD' is not a variable name"),
    ({"A-B": "x"}, "'A-B' is not a variable name"),
    ({"SECRET": "line one\nline two"}, "the value of SECRET holds a line break or a NUL"),
    ({"SECRET": "nul\x00"}, "the value of SECRET holds a line break or a NUL"),
])
def test_what_no_line_can_hold_is_refused_without_its_value(variables, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)) as caught:
        systemd_environment(variables)
    assert "line two" not in str(caught.value) and "nul" not in str(caught.value).replace("NUL", "")


@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
                       st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",))),
                       max_size=5))
def test_every_value_reads_back_as_given(variables):
    text = systemd_environment(variables)
    assert dict(read_back(line) for line in text.split("\n") if line) == variables
