# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An etcd member that replaces a lost one (prefect_postgresql's cluster):
which members of the cluster are this host's old incarnation, and the
membership the new member starts with. Both read etcdctl's JSON
(`member list` / `member add --write-out=json`). Exposed by the filters
etcd_stale_members and etcd_initial_cluster
(tests/unit/plugins/plugin_utils/test_etcd.py)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _members(answer):
    members = answer.get("members") if isinstance(answer, dict) else None
    if not isinstance(members, list) or not all(isinstance(member, dict) for member in members):
        raise AnsibleFilterError("etcdctl's answer has no list of members (etcdctl member list --write-out=json)")
    return members


def _is_this_host(member, name, peer_url):
    return member.get("name") == name or peer_url in (member.get("peerURLs") or [])


def etcd_stale_members(answer, name, peer_url):
    """The IDs (hexadecimal, as etcdctl member remove takes them) of the
    members that are this host under its name or at its peer URL: a member
    that is to join as new must first replace them."""
    return [format(int(member["ID"]), "x") for member in _members(answer) if _is_this_host(member, name, peer_url)]


def etcd_initial_cluster(answer, name, peer_url):
    """ETCD_INITIAL_CLUSTER for a member that was just added: every member as
    name=peerURL, the new one (which has no name until it starts) under
    `name`. Fails unless the new member is among them."""
    entries = []
    for member in _members(answer):
        member_name = name if _is_this_host(member, name, peer_url) else member.get("name")
        urls = member.get("peerURLs") or []
        if not member_name or not urls:
            raise AnsibleFilterError(f"etcd member {member.get('ID')} has no name or peer URL: another member is "
                                     "joining at the same time; run the converge again once it has")
        entries.extend(f"{member_name}={url}" for url in urls)
    if f"{name}={peer_url}" not in entries:
        raise AnsibleFilterError(f"{name} at {peer_url} is not a member of the etcd cluster that answered")
    return ",".join(entries)
