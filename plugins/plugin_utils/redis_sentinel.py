# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role prefect_redis reads from the Sentinels' answers (redis-cli
without a terminal prints each reply element on a line of its own). Exposed
by the filters sentinel_primary and sentinel_fields
(tests/unit/plugins/plugin_utils/test_redis_sentinel.py).
"""
from __future__ import annotations

from collections import Counter

from ansible.errors import AnsibleFilterError


def _lines(answer):
    return [str(line).strip() for line in answer or []]


def sentinel_primary(answers, members):
    """The primary's address as more than half of `members` Sentinels name
    it. `answers` holds each Sentinel's reply lines to AUTH and SENTINEL
    GET-MASTER-ADDR-BY-NAME; a Sentinel that did not answer both (down, not
    yet set up, monitoring nothing) does not vote. "" when none voted: the
    Sentinels are new and the inventory's initial primary applies. Fails when
    some voted and no address has a majority: a failover is under way, or
    the Sentinels are split, and writing either answer could be wrong."""
    members = int(members)
    votes = Counter()
    for answer in answers or []:
        lines = _lines(answer)
        if len(lines) == 3 and lines[0] == "OK" and lines[1] and lines[2].isdigit():
            votes[lines[1]] += 1
    if not votes:
        return ""
    address, count = votes.most_common(1)[0]
    if count * 2 > members:
        return address
    tally = ", ".join(f"{name}: {number}" for name, number in sorted(votes.items()))
    raise AnsibleFilterError(
        f"the Sentinels do not agree on the Redis primary ({tally}, of {members} Sentinels): a failover may be "
        "under way; run again when it has ended, or see docs/cluster.md, Redis replication")


def sentinel_fields(answer):
    """A SENTINEL MASTER reply (after AUTH's OK) as a mapping of its fields.
    Fails on an error reply or one with an odd number of lines."""
    lines = _lines(answer)
    if lines[:1] == ["OK"]:
        lines = lines[1:]
    if not lines or len(lines) % 2 or any(line.startswith(("ERR", "NOPERM", "WRONGPASS", "NOAUTH")) for line in lines):
        raise AnsibleFilterError("the Sentinel's answer to SENTINEL MASTER is not a list of fields: "
                                 + (lines[0][:200] if lines else "no answer"))
    return dict(zip(lines[0::2], lines[1::2]))


# The settings SENTINEL MASTER shows, and SENTINEL SET changes.
MONITOR_FIELDS = ("quorum", "down-after-milliseconds", "failover-timeout")
# The settings only the Sentinel's file shows: (file line before the value, command).
FILE_SETTINGS = {
    "auth-pass": ("sentinel auth-pass {service} ", "SENTINEL SET {service} auth-pass {value}"),
    "sentinel-pass": ("sentinel sentinel-pass ", "SENTINEL CONFIG SET sentinel-pass {value}"),
    "announce-ip": ("sentinel announce-ip ", "SENTINEL CONFIG SET announce-ip {value}"),
}


def _file_value(text, prefix):
    for line in reversed(str(text).splitlines()):
        if line.lower().startswith(prefix.lower()):
            return line[len(prefix):].strip().strip('"')
    return None


def sentinel_changes(fields, text, wanted):
    """The commands that give a running Sentinel the settings in `wanted`
    (service, the MONITOR_FIELDS, the FILE_SETTINGS), from what it shows:
    `fields` (SENTINEL MASTER) and `text` (its file). Each is {name,
    command}; a name never holds a value, a command may hold a password."""
    service = wanted["service"]
    changes = []
    for name in MONITOR_FIELDS:
        value = str(wanted[name])
        if str(fields.get(name)) != value:
            changes.append({"name": name, "command": f"SENTINEL SET {service} {name} {value}"})
    for name, (prefix, command) in FILE_SETTINGS.items():
        value = str(wanted[name])
        if _file_value(text, prefix.format(service=service)) != value:
            changes.append({"name": name, "command": command.format(service=service, value=value)})
    return changes
