# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What prefect_redis reads from the Sentinels (plugins/plugin_utils/redis_sentinel.py):
the primary a majority names, and a SENTINEL MASTER answer as fields."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.prefect.plugins.filter.sentinel_fields import FilterModule as FieldsFilters
from ansible_collections.selfhosted.prefect.plugins.filter.sentinel_primary import FilterModule as PrimaryFilters
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.redis_sentinel import (
    sentinel_changes, sentinel_fields, sentinel_primary)
from ansible_collections.selfhosted.prefect.plugins.filter.sentinel_changes import FilterModule as ChangesFilters


def names(address):
    return ["OK", address, "6379"]


def test_the_filters_are_exposed():
    assert PrimaryFilters().filters()["sentinel_primary"] is sentinel_primary
    assert FieldsFilters().filters()["sentinel_fields"] is sentinel_fields


def test_a_majority_names_the_primary():
    assert sentinel_primary([names("10.0.0.2"), names("10.0.0.2"), names("10.0.0.3")], 3) == "10.0.0.2"


def test_two_of_three_suffice_when_one_is_down():
    assert sentinel_primary([names("10.0.0.2"), [], names("10.0.0.2")], 3) == "10.0.0.2"


def test_new_sentinels_name_none():
    """The package's own configuration knows no user (AUTH fails) and no such
    primary (an empty line): no vote, and the inventory's initial primary applies."""
    unconfigured = ["ERR AUTH <password> called without any password configured for the default user", ""]
    assert sentinel_primary([unconfigured, [], unconfigured], 3) == ""
    assert sentinel_primary([], 3) == ""


def test_no_majority_fails_with_the_tally():
    with pytest.raises(AnsibleFilterError, match=r"10\.0\.0\.2: 1, 10\.0\.0\.3: 1, of 3 Sentinels"):
        sentinel_primary([names("10.0.0.2"), names("10.0.0.3"), []], 3)


def test_one_vote_of_three_is_no_majority():
    with pytest.raises(AnsibleFilterError, match="do not agree"):
        sentinel_primary([names("10.0.0.2"), [], []], 3)


def test_a_wrong_password_does_not_vote():
    assert sentinel_primary([["WRONGPASS invalid username-password pair", "10.0.0.9", "6379"],
                             names("10.0.0.2"), names("10.0.0.2")], 3) == "10.0.0.2"


@given(st.lists(st.one_of(st.lists(st.text(max_size=20), max_size=4),
                          st.sampled_from(["10.0.0.2", "10.0.0.3"]).map(names)), max_size=7))
def test_any_answers_give_an_address_named_by_a_majority_or_fail(answers):
    members = max(len(answers), 1)
    try:
        primary = sentinel_primary(answers, members)
    except AnsibleFilterError:
        return
    if primary:
        assert sum(1 for answer in answers if answer == names(primary)) * 2 > members
    else:
        assert not any(len(a) == 3 and a[0] == "OK" and a[1].strip() and a[2].strip().isdigit() for a in answers)


def test_fields_of_a_sentinel_master_answer():
    answer = ["OK", "name", "prefect", "ip", "10.0.0.2", "port", "6379", "quorum", "2"]
    assert sentinel_fields(answer) == {"name": "prefect", "ip": "10.0.0.2", "port": "6379", "quorum": "2"}


@pytest.mark.parametrize("answer", [
    ["OK", "ERR No such master with that name"],
    ["NOAUTH Authentication required."],
    ["OK", "name", "prefect", "ip"],
    [],
])
def test_an_error_or_a_broken_answer_fails(answer):
    with pytest.raises(AnsibleFilterError, match="SENTINEL MASTER"):
        sentinel_fields(answer)


WANTED = {"service": "prefect", "quorum": "2", "down-after-milliseconds": "5000", "failover-timeout": "20000",
          "auth-pass": "Repl1cation-pw!xyz", "sentinel-pass": "Repl1cation-pw!xyz", "announce-ip": "10.0.0.2"}
FIELDS = {"name": "prefect", "quorum": "2", "down-after-milliseconds": "5000", "failover-timeout": "20000"}
# As Sentinel rewrites its file: the monitored primary's lines, then its own.
TEXT = """sentinel monitor prefect 10.0.0.3 6379 2
sentinel auth-pass prefect Repl1cation-pw!xyz
sentinel down-after-milliseconds prefect 5000
sentinel announce-ip 10.0.0.2
sentinel sentinel-pass Repl1cation-pw!xyz
"""


def test_the_changes_filter_is_exposed():
    assert ChangesFilters().filters()["sentinel_changes"] is sentinel_changes


def test_a_sentinel_as_wanted_needs_no_command():
    assert sentinel_changes(FIELDS, TEXT, WANTED) == []


def test_each_difference_gets_its_command_and_a_name_without_the_value():
    wanted = dict(WANTED, quorum="3", **{"auth-pass": "New-passw0rd!xyzw", "announce-ip": "10.0.0.9"})
    changes = sentinel_changes(FIELDS, TEXT, wanted)
    assert changes == [
        {"name": "quorum", "command": "SENTINEL SET prefect quorum 3"},
        {"name": "auth-pass", "command": "SENTINEL SET prefect auth-pass New-passw0rd!xyzw"},
        {"name": "announce-ip", "command": "SENTINEL CONFIG SET announce-ip 10.0.0.9"},
    ]
    assert not any("New-passw0rd" in change["name"] for change in changes)


def test_a_setting_missing_from_the_file_is_set():
    text = "sentinel monitor prefect 10.0.0.3 6379 2\n"
    assert [change["name"] for change in sentinel_changes(FIELDS, text, WANTED)] == [
        "auth-pass", "sentinel-pass", "announce-ip"]
