# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replacement of a lost etcd member (plugins/plugin_utils/etcd.py):
which members are the host's old incarnation, and the membership the new
member starts with, from etcdctl's JSON as etcd 3.5 writes it."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.prefect.plugins.filter.etcd_initial_cluster import FilterModule as InitialCluster
from ansible_collections.selfhosted.prefect.plugins.filter.etcd_stale_members import FilterModule as StaleMembers
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.etcd import etcd_initial_cluster, etcd_stale_members

DB3_URL = "https://10.0.0.13:2380"
# member list after db3's disks died: db3 is still a member, with its name.
LISTED = {"header": {"cluster_id": 1, "member_id": 2}, "members": [
    {"ID": 10276657743932975437, "name": "db1", "peerURLs": ["https://10.0.0.11:2380"],
     "clientURLs": ["https://10.0.0.11:2379"]},
    {"ID": 3, "name": "db2", "peerURLs": ["https://10.0.0.12:2380"], "clientURLs": ["https://10.0.0.12:2379"]},
    {"ID": 255, "name": "db3", "peerURLs": [DB3_URL], "clientURLs": ["https://10.0.0.13:2379"]},
]}
# member add of db3 after its removal: the new member has no name yet.
ADDED = {"header": {}, "member": {"ID": 7, "peerURLs": [DB3_URL]}, "members": [
    LISTED["members"][0], LISTED["members"][1], {"ID": 7, "peerURLs": [DB3_URL]}]}


def test_the_filters_are_exposed():
    assert StaleMembers().filters()["etcd_stale_members"] is etcd_stale_members
    assert InitialCluster().filters()["etcd_initial_cluster"] is etcd_initial_cluster


def test_the_lost_member_is_found_by_name_or_by_peer_url_in_hexadecimal():
    assert etcd_stale_members(LISTED, "db3", DB3_URL) == ["ff"]
    assert etcd_stale_members(LISTED, "db1", "https://10.0.0.99:2380") == ["8e9e05c52164694d"]
    unstarted = {"members": LISTED["members"][:2] + [{"ID": 16, "peerURLs": [DB3_URL]}]}
    assert etcd_stale_members(unstarted, "db3", DB3_URL) == ["10"]
    assert etcd_stale_members(LISTED, "db4", "https://10.0.0.14:2380") == []


def test_the_new_member_starts_with_every_member_and_itself_by_name():
    assert etcd_initial_cluster(ADDED, "db3", DB3_URL) == (
        "db1=https://10.0.0.11:2380,db2=https://10.0.0.12:2380,db3=https://10.0.0.13:2380")


@pytest.mark.parametrize("answer, message", [
    ({"members": LISTED["members"][:2]}, "db3 at https://10.0.0.13:2380 is not a member"),
    ({"members": ADDED["members"] + [{"ID": 9, "peerURLs": ["https://10.0.0.14:2380"]}]}, "another member is joining"),
    ({"members": [{"ID": 1, "name": "db1"}]}, "has no name or peer URL"),
    ({"error": "context deadline exceeded"}, "no list of members"),
    ([], "no list of members"),
    ({"members": ["db1"]}, "no list of members"),
])
def test_what_cannot_be_joined_fails_with_a_message(answer, message):
    with pytest.raises(AnsibleFilterError, match=message):
        etcd_initial_cluster(answer, "db3", DB3_URL)


MEMBER = st.fixed_dictionaries({
    "ID": st.integers(1, 2 ** 64 - 1),
    "name": st.sampled_from(["db1", "db2", "db3", "db4"]),
    "peerURLs": st.lists(st.sampled_from(["https://10.0.0.11:2380", DB3_URL, "https://10.0.0.14:2380"]),
                         min_size=1, max_size=2, unique=True)})


@given(st.lists(MEMBER, max_size=6))
def test_every_member_with_the_name_or_url_and_no_other_is_stale(members):
    stale = etcd_stale_members({"members": members}, "db3", DB3_URL)
    expected = [format(m["ID"], "x") for m in members if m["name"] == "db3" or DB3_URL in m["peerURLs"]]
    assert stale == expected
    assert all(int(member_id, 16) > 0 for member_id in stale)
