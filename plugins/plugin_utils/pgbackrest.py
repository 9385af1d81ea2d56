# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Point-in-time recovery with pgBackRest: what an operator's restore target
means to `pgbackrest restore`, and what `pgbackrest info --output=json` says
a restore can reach (tests/unit/plugins/plugin_utils/test_pgbackrest.py).
playbooks/restore.yml reads them through the filter pgbackrest_restore_plan."""
from __future__ import annotations

import re
import shlex
from datetime import datetime, timezone

from ansible.errors import AnsibleFilterError

# pg_create_restore_point takes any text; the points the collection makes and
# accepts are plain words, so a name never needs quoting anywhere.
_RESTORE_POINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
# The restore points the backup command makes end with the dump's time
# (prefect-db-backup: LABEL-DB-YYYYMMDDTHHMMSSZ).
_STAMPED_POINT = re.compile(r".*-(\d{8}T\d{6}Z)")
# The stanza status pgBackRest reports when it is usable.
_STATUS_OK = 0


def _utc(stamp):
    return datetime.fromtimestamp(stamp, timezone.utc)


def _iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def restore_target(value, now=None):
    """What a restore target means to pgBackRest, as the options of
    `pgbackrest restore`: "latest" replays every archived change
    ({"type": "default"}); "name:<point>" stops at a restore point
    ({"type": "name", "target": point}); an ISO 8601 time with its offset
    stops there ({"type": "time", "target": "YYYY-MM-DD HH:MM:SS.ffffff+00"},
    in UTC). A time without an offset is refused: pgBackRest would read it
    in the database host's time zone. So is a time after `now`."""
    if not isinstance(value, str) or not value.strip():
        raise AnsibleFilterError("a restore target is 'latest', 'name:<restore point>' or a time with its offset, "
                                 "for example 2026-12-04T16:00:00+01:00")
    text = value.strip()
    if text == "latest":
        return {"type": "default"}
    if text.startswith("name:"):
        point = text[len("name:"):]
        if not _RESTORE_POINT.fullmatch(point):
            raise AnsibleFilterError(f"the restore point {point!r} is not a name of up to 63 letters, digits, "
                                     "dots, dashes and underscores")
        return {"type": "name", "target": point}
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AnsibleFilterError(f"the restore target {text!r} is neither 'latest', 'name:<restore point>' nor an "
                                 "ISO 8601 time such as 2026-12-04T16:00:00+01:00") from None
    if moment.tzinfo is None:
        raise AnsibleFilterError(f"the restore time {text!r} has no offset; give one (+00:00, Z, +01:00): "
                                 "pgBackRest would read it in the database host's time zone")
    moment = moment.astimezone(timezone.utc)
    if moment > (now or datetime.now(timezone.utc)):
        raise AnsibleFilterError(f"the restore time {_iso(moment)} is in the future")
    return {"type": "time", "target": moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"}


def backup_set(info, stanza):
    """The stanza's backups in `pgbackrest info --output=json`, oldest first,
    each with its label, type and start and stop times (UTC, ISO 8601), and
    `earliest`: the stop of the oldest, the earliest time a restore reaches.
    Fails with pgBackRest's own message when the stanza is missing or not
    usable (no backup yet, for one)."""
    stanzas = info if isinstance(info, list) else None
    if stanzas is None or not all(isinstance(entry, dict) for entry in stanzas):
        raise AnsibleFilterError("pgbackrest info's answer is not a list of stanzas (pgbackrest info --output=json)")
    entry = next((entry for entry in stanzas if entry.get("name") == stanza), None)
    if entry is None:
        raise AnsibleFilterError(f"the pgBackRest repository has no stanza {stanza!r}")
    status = entry.get("status") or {}
    if status.get("code") != _STATUS_OK:
        raise AnsibleFilterError(f"the stanza {stanza!r} cannot restore: {status.get('message', 'no status')} "
                                 f"(pgBackRest status {status.get('code')})")
    backups = []
    for backup in entry.get("backup") or []:
        stamps = backup.get("timestamp") or {}
        if not isinstance(stamps.get("start"), int) or not isinstance(stamps.get("stop"), int):
            raise AnsibleFilterError(f"the backup {backup.get('label')!r} has no start and stop time")
        backups.append({"label": backup.get("label"), "type": backup.get("type"),
                        "start": _iso(_utc(stamps["start"])), "stop": _iso(_utc(stamps["stop"]))})
    backups.sort(key=lambda backup: backup["stop"])
    if not backups:
        raise AnsibleFilterError(f"the stanza {stanza!r} has no backup yet")
    return {"backups": backups, "earliest": backups[0]["stop"]}


def unreachable_target(target, backups):
    """Why `target` (restore_target's answer) is out of reach of `backups`
    (backup_set's answer), or "" when a restore can reach it. A time before
    the oldest backup ended is out of reach; whether a later time is reached
    depends on the archived changes, which pgBackRest checks as it replays."""
    if target.get("type") != "time":
        return ""
    moment = datetime.strptime(target["target"][:-3], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    earliest = datetime.fromisoformat(backups["earliest"])
    if moment >= earliest:
        return ""
    return (f"{_iso(moment)} is before the oldest backup ended ({backups['earliest']}): the earliest time a "
            f"restore reaches; backups: {', '.join(b['label'] + ' ' + b['stop'] for b in backups['backups'])}")


def restore_plan(info, stanza, target, now=None):
    """What playbooks/restore.yml shows and runs for a point-in-time restore:
    the backups and the earliest reachable time (backup_set), the target as
    the operator wrote it (`target`), the options of `pgbackrest restore`
    that reach it (`options`), and `unreachable`: why it cannot be reached,
    or "". A target before the first backup is refused here; one after the
    newest archived change, by PostgreSQL as it replays."""
    parsed = restore_target(target, now)
    backups = backup_set(info, stanza)
    options = [f"--type={parsed['type']}"]
    unreachable = unreachable_target(parsed, backups)
    if parsed["type"] != "default":
        # Stop there and take writes: the restored copy is dumped at once.
        options += [f"--target={parsed['target']}", "--target-action=promote"]
    stamped = _STAMPED_POINT.fullmatch(parsed.get("target", "")) if parsed["type"] == "name" else None
    if stamped:
        # pgBackRest picks a backup before a time target by itself, but for a
        # name it takes the newest, which may be after the point: replay
        # would never meet it.
        made = _iso(datetime.strptime(stamped.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc))
        before = [backup for backup in backups["backups"] if backup["stop"] <= made]
        if before:
            options.append(f"--set={before[-1]['label']}")
        else:
            unreachable = (f"the restore point {parsed['target']} was made at {made}, before the oldest backup ended "
                           f"({backups['earliest']})")
    return {"target": target.strip(), "options": options, "backups": backups["backups"],
            "earliest": backups["earliest"], "unreachable": unreachable,
            "patroni_bootstrap": patroni_bootstrap(stanza, options)}


def patroni_bootstrap(stanza, options):
    """Patroni's custom bootstrap method that makes a cluster anew from the
    stanza (its `bootstrap` section: `method` and the method's settings):
    `pgbackrest restore` with `options`, one string that Patroni splits as a
    shell would, so a time target's blank stays inside its option.
    `no_params`: Patroni would add --scope and --datadir, which pgBackRest
    refuses. `keep_existing_recovery_conf`: pgBackRest writes the recovery
    settings that reach the target, and Patroni drops them once the cluster
    has promoted, before any replica copies them."""
    if not isinstance(stanza, str) or not stanza.strip():
        raise AnsibleFilterError(f"the stanza {stanza!r} is not a name")
    options_ok = isinstance(options, list) and all(isinstance(option, str) and option.startswith("--")
                                                   for option in options)
    if not options_ok:
        raise AnsibleFilterError(f"the options of pgbackrest restore are not a list of --options: {options!r}")
    command = shlex.join(["pgbackrest", f"--stanza={stanza}", *options, "restore"])
    return {"method": "pgbackrest",
            "pgbackrest": {"command": command, "no_params": True, "keep_existing_recovery_conf": True}}


def stanza_system_id(info, stanza):
    """The system identifier of the PostgreSQL cluster the stanza backs up now
    (its newest database entry in `pgbackrest info --output=json`), or None
    when the repository has no such stanza or did not answer. A cluster with
    another identifier is not the stanza's: a rebuilt database host, whose
    WAL the repository refuses until the stanza's cluster is restored there."""
    if not isinstance(info, list):
        return None
    entry = next((item for item in info if isinstance(item, dict) and item.get("name") == stanza), None)
    databases = [db for db in (entry or {}).get("db") or [] if isinstance(db, dict) and "system-id" in db]
    if not databases:
        return None
    return str(max(databases, key=lambda db: db.get("id", 0))["system-id"])
