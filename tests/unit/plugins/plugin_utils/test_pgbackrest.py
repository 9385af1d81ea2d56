# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore targets and the reachable range (plugins/plugin_utils/pgbackrest.py),
against `pgbackrest info --output=json` as pgBackRest 2.45 to 2.55 writes it."""
from __future__ import annotations

import shlex
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.pgbackrest import (
    backup_set, patroni_bootstrap, restore_plan, restore_target, stanza_system_id, unreachable_target)

NOW = datetime(2026, 12, 4, 16, 0, tzinfo=timezone.utc)
# 2026-12-01 02:30:00 to 02:31:40 UTC (full), 2026-12-02 02:30:00 to 02:30:20 (differential).
FULL = {"label": "20261201-023000F", "type": "full", "prior": None,
        "timestamp": {"start": 1796092200, "stop": 1796092300},
        "archive": {"start": "000000010000000000000003", "stop": "000000010000000000000004"}}
DIFF = {"label": "20261201-023000F_20261202-023000D", "type": "diff", "prior": "20261201-023000F",
        "timestamp": {"start": 1796178600, "stop": 1796178620}}
INFO = [{"name": "prefect", "cipher": "aes-256-cbc", "status": {"code": 0, "message": "ok"},
         "archive": [{"id": "17-1", "min": "000000010000000000000003", "max": "00000001000000000000001A"}],
         "backup": [DIFF, FULL]}]


def test_latest_replays_every_archived_change():
    assert restore_target("latest") == {"type": "default"}
    assert restore_target("  latest ") == {"type": "default"}


def test_a_restore_point_by_name():
    assert restore_target("name:before-migrate-default") == {"type": "name", "target": "before-migrate-default"}
    for bad in ("name:", "name:a b", "name:-x", "name:" + "a" * 64, "name:x'; drop"):
        with pytest.raises(AnsibleFilterError, match="is not a name"):
            restore_target(bad)


def test_a_time_with_its_offset_becomes_utc_to_the_microsecond():
    assert restore_target("2026-12-04T16:00:00+01:00", NOW) == {"type": "time",
                                                                "target": "2026-12-04 15:00:00.000000+00"}
    assert restore_target("2026-12-04T10:11:12.5Z", NOW)["target"] == "2026-12-04 10:11:12.500000+00"


def test_a_time_without_offset_or_in_the_future_or_not_a_time_is_refused():
    with pytest.raises(AnsibleFilterError, match="has no offset"):
        restore_target("2026-12-04T15:00:00", NOW)
    with pytest.raises(AnsibleFilterError, match="in the future"):
        restore_target("2026-12-04T16:00:01Z", NOW)
    for bad in ("", "  ", None, 5, "yesterday", "2026-13-01T00:00:00Z"):
        with pytest.raises(AnsibleFilterError):
            restore_target(bad, NOW)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 12, 1),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-11, minutes=-30)),
                                               timezone(timedelta(hours=14))])))
def test_any_time_with_an_offset_means_the_same_instant(moment):
    target = restore_target(moment.isoformat(), NOW)["target"]
    parsed = datetime.strptime(target, "%Y-%m-%d %H:%M:%S.%f+00").replace(tzinfo=timezone.utc)
    assert parsed == moment


def test_the_backups_oldest_first_and_the_earliest_reachable_time():
    assert backup_set(INFO, "prefect") == {
        "backups": [{"label": "20261201-023000F", "type": "full",
                     "start": "2026-12-01T02:30:00Z", "stop": "2026-12-01T02:31:40Z"},
                    {"label": "20261201-023000F_20261202-023000D", "type": "diff",
                     "start": "2026-12-02T02:30:00Z", "stop": "2026-12-02T02:30:20Z"}],
        "earliest": "2026-12-01T02:31:40Z"}


def test_a_stanza_that_cannot_restore_says_why():
    with pytest.raises(AnsibleFilterError, match="no stanza 'other'"):
        backup_set(INFO, "other")
    empty = [{"name": "prefect", "status": {"code": 2, "message": "no valid backups"}, "backup": []}]
    with pytest.raises(AnsibleFilterError, match="no valid backups .pgBackRest status 2"):
        backup_set(empty, "prefect")
    with pytest.raises(AnsibleFilterError, match="no backup yet"):
        backup_set([{"name": "prefect", "status": {"code": 0, "message": "ok"}}], "prefect")
    for bad in ({}, None, "[]", [1]):
        with pytest.raises(AnsibleFilterError, match="not a list of stanzas"):
            backup_set(bad, "prefect")
    broken = [{"name": "prefect", "status": {"code": 0}, "backup": [{"label": "x", "timestamp": {"start": 1}}]}]
    with pytest.raises(AnsibleFilterError, match="'x' has no start and stop time"):
        backup_set(broken, "prefect")


def test_a_time_before_the_oldest_backup_ended_is_out_of_reach():
    backups = backup_set(INFO, "prefect")
    reason = unreachable_target(restore_target("2026-12-01T02:31:39Z", NOW), backups)
    assert reason.startswith("2026-12-01T02:31:39Z is before the oldest backup ended (2026-12-01T02:31:40Z)")
    assert "20261201-023000F 2026-12-01T02:31:40Z" in reason
    assert unreachable_target(restore_target("2026-12-01T02:31:40Z", NOW), backups) == ""
    assert unreachable_target(restore_target("latest"), backups) == ""
    assert unreachable_target(restore_target("name:x"), backups) == ""


def test_a_plan_names_the_options_that_stop_at_the_target():
    plan = restore_plan(INFO, "prefect", " 2026-12-03T12:00:00+01:00 ", NOW)
    assert plan["target"] == "2026-12-03T12:00:00+01:00"
    assert plan["options"] == ["--type=time", "--target=2026-12-03 11:00:00.000000+00", "--target-action=promote"]
    assert plan["earliest"] == "2026-12-01T02:31:40Z" and len(plan["backups"]) == 2
    assert plan["unreachable"] == ""
    assert restore_plan(INFO, "prefect", "name:pre-migration", NOW)["options"] == [
        "--type=name", "--target=pre-migration", "--target-action=promote"]
    # To the end of the archive: PostgreSQL promotes when it runs out of WAL.
    assert restore_plan(INFO, "prefect", "latest", NOW)["options"] == ["--type=default"]


def test_a_plan_says_why_a_target_is_out_of_reach_and_refuses_a_bad_one():
    assert restore_plan(INFO, "prefect", "2026-11-30T00:00:00Z", NOW)["unreachable"].startswith(
        "2026-11-30T00:00:00Z is before the oldest backup ended")
    with pytest.raises(AnsibleFilterError, match="has no offset"):
        restore_plan(INFO, "prefect", "2026-12-03T12:00:00", NOW)
    with pytest.raises(AnsibleFilterError, match="no stanza 'other'"):
        restore_plan(INFO, "other", "latest", NOW)


def test_a_restore_point_of_the_backup_command_replays_from_a_backup_made_before_it():
    """pgBackRest restores the newest backup for a name; a point made between
    the full and the differential backup is reached from the full one."""
    between = restore_plan(INFO, "prefect", "name:pre-migration-orion-20261201T120000Z", NOW)
    assert between["options"][-1] == "--set=20261201-023000F" and between["unreachable"] == ""
    after = restore_plan(INFO, "prefect", "name:scheduled-orion-20261203T023000Z", NOW)
    assert after["options"][-1] == "--set=20261201-023000F_20261202-023000D"
    before = restore_plan(INFO, "prefect", "name:pre-migration-orion-20261130T000000Z", NOW)
    assert before["unreachable"].startswith("the restore point pre-migration-orion-20261130T000000Z was made at "
                                            "2026-11-30T00:00:00Z, before the oldest backup ended")


def test_a_plan_makes_a_patroni_cluster_anew_from_the_stanza():
    """Patroni splits the command as a shell would: the time target's blank
    stays inside its option, and Patroni adds no --scope or --datadir."""
    method = restore_plan(INFO, "prefect", "2026-12-03T12:00:00+01:00", NOW)["patroni_bootstrap"]
    assert method["method"] == "pgbackrest"
    assert method["pgbackrest"]["no_params"] is True and method["pgbackrest"]["keep_existing_recovery_conf"] is True
    assert shlex.split(method["pgbackrest"]["command"]) == [
        "pgbackrest", "--stanza=prefect", "--type=time", "--target=2026-12-03 11:00:00.000000+00",
        "--target-action=promote", "restore"]
    assert restore_plan(INFO, "prefect", "latest", NOW)["patroni_bootstrap"]["pgbackrest"]["command"] == (
        "pgbackrest --stanza=prefect --type=default restore")


@given(st.text(min_size=1).filter(str.strip), st.lists(st.text(min_size=1).map(lambda value: "--" + value), max_size=5))
def test_any_stanza_and_option_reach_pgbackrest_as_one_argument_each(stanza, options):
    command = patroni_bootstrap(stanza, options)["pgbackrest"]["command"]
    assert shlex.split(command) == ["pgbackrest", f"--stanza={stanza}", *options, "restore"]


@pytest.mark.parametrize(("stanza", "options", "message"), [
    ("", [], "the stanza '' is not a name"),
    (None, [], "the stanza None is not a name"),
    ("prefect", ["--type=default", "restore"], "not a list of --options"),
    ("prefect", "--type=default", "not a list of --options"),
])
def test_a_bootstrap_method_refuses_a_bad_stanza_or_option(stanza, options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        patroni_bootstrap(stanza, options)


def test_the_system_id_of_the_cluster_the_stanza_backs_up_now():
    upgraded = [{"name": "prefect", "status": {"code": 0},
                 "db": [{"id": 2, "system-id": 7445263114529345999, "version": "17"},
                        {"id": 1, "system-id": 7445263114529345540, "version": "15"}]}]
    assert stanza_system_id(upgraded, "prefect") == "7445263114529345999"
    # No stanza yet, a repository that did not answer, an answer that is not pgBackRest's.
    unreachable = [{"name": "prefect", "status": {"code": 99, "message": "other"}, "db": []}]
    for info in ([], unreachable, upgraded[0], None, [1], [{"name": "prefect", "db": [{"id": 1}]}]):
        assert stanza_system_id(info, "prefect") is None
    assert stanza_system_id(upgraded, "other") is None


@given(stops=st.lists(st.integers(min_value=1_700_000_000, max_value=1_790_000_000), min_size=1, max_size=8, unique=True),
       made=st.integers(min_value=1_690_000_000, max_value=1_795_000_000))
def test_a_stamped_point_replays_from_the_newest_backup_that_ended_before_it(stops, made):
    info = [{"name": "prefect", "status": {"code": 0},
             "backup": [{"label": f"b{stop}", "type": "full", "timestamp": {"start": stop - 60, "stop": stop}}
                        for stop in stops]}]
    stamp = datetime.fromtimestamp(made, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    plan = restore_plan(info, "prefect", f"name:pre-migration-orion-{stamp}", NOW)
    before = [stop for stop in stops if stop <= made]
    if before:
        assert plan["options"][-1] == f"--set=b{max(before)}" and plan["unreachable"] == ""
    else:
        assert plan["unreachable"].startswith(f"the restore point pre-migration-orion-{stamp} was made at")
        assert not [option for option in plan["options"] if option.startswith("--set=")]
