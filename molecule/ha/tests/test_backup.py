"""The Patroni cluster's pgBackRest repository on backup1: the stanza holds
the cluster (its system identifier, one pgN section per member), the primary
archives within archive_timeout, a backup by the timer's unit reads the
primary, and restore.yml takes the instance's database back to a point in
time on the cluster, whose replicas follow, and makes the whole cluster anew
from the repository once every member's data is lost."""

import datetime
import re
import time
import urllib.error
import uuid

import pytest
from ha_cluster import (ARCHIVE_TIMEOUT, DB_HOSTS, archive_lag, https_json, patroni_members, pg_primary, psql,
                        wait_cluster_whole, wait_for, wait_serving, wait_writes)
from molecule_fixtures import pgbackrest
from molecule_fixtures import pgbackrest_info as info

STANZA = "prefect"


@pytest.fixture(scope="module", autouse=True)
def repository_checked_after(hosts):
    """Once this module's restores have taken the cluster down and back:
    `pgbackrest check` through its unit on backup1, as an operator would
    after a restore. A timer's check that runs while a restore has the
    cluster down fails, and its failed unit keeps BackupFailed firing until
    the next hourly run: on 2026-12-06 test_monitoring, run after this
    module, found it firing for the check unit."""
    yield
    repository = hosts["backup1"]
    check = repository.run("systemctl start prefect-pgbackrest-check.service")
    state = repository.run("systemctl is-failed prefect-pgbackrest-check.service").stdout.strip()
    assert check.rc == 0 and state != "failed", \
        repository.run("journalctl -u prefect-pgbackrest-check.service -n 20 --no-pager").stdout


def primary(hosts):
    name = pg_primary(hosts)
    assert name, f"no PostgreSQL primary: {patroni_members(hosts)}"
    return hosts[name]


def test_the_stanza_holds_the_cluster(hosts):
    backup1 = hosts["backup1"]
    stanza = info(backup1)
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert "full" in [backup["type"] for backup in stanza["backup"]]
    system_id = psql(primary(hosts), "select system_identifier from pg_control_system()", database="postgres")
    assert stanza["db"][-1]["system-id"] == int(system_id)
    config = backup1.file("/etc/pgbackrest/pgbackrest.conf").content_string
    for index, name in enumerate(DB_HOSTS, start=1):
        assert f"pg{index}-host={name}\n" in config, name
    # Every member has the same archive settings, from Patroni's cluster-wide configuration.
    for name in DB_HOSTS:
        settings = dict(line.split("|", 1) for line in psql(
            hosts[name], "select name, setting from pg_settings where name in "
            "('archive_mode', 'archive_command', 'archive_timeout', 'restore_command')", database="postgres").splitlines())
        assert settings == {"archive_mode": "on", "archive_command": f"pgbackrest --stanza={STANZA} archive-push %p",
                            "archive_timeout": str(ARCHIVE_TIMEOUT),
                            "restore_command": f'pgbackrest --stanza={STANZA} archive-get %f "%p"'}, name


def test_the_primary_archives_within_archive_timeout(hosts):
    """No segment switch asked for: a lone change on the primary reaches the
    repository once archive_timeout has passed, and the primary's end checks
    the repository."""
    db = primary(hosts)
    psql(db, "create table if not exists archive_probe (at timestamptz); insert into archive_probe values (now())",
         database="postgres")
    lag = archive_lag(db, hosts["backup1"])
    assert lag is not None, f"the change was not archived within {ARCHIVE_TIMEOUT + 30} s"
    print(f"\nthe change's segment in the repository {lag:.1f} s after it")
    check = pgbackrest(db, "check")
    assert check.rc == 0, check.stdout + check.stderr


def test_a_differential_backup_reads_the_primary(hosts):
    backup1 = hosts["backup1"]
    started = backup1.run("systemctl start prefect-pgbackrest-backup@diff.service")
    assert started.rc == 0, backup1.run("journalctl -u prefect-pgbackrest-backup@diff -n 30 --no-pager").stdout
    assert info(backup1)["backup"][-1]["type"] == "diff"


def _run_exists(ca_file, auth, run_id):
    try:
        https_json(ca_file, f"/api/flow_runs/{run_id}", auth=auth)
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def _flow_run(ca_file, auth, flow_id, label):
    return https_json(ca_file, "/api/flow_runs/", {"flow_id": flow_id, "name": f"{label}-{uuid.uuid4().hex[:8]}"},
                      auth)["id"]


@pytest.mark.usefixtures("cluster_serving")
def test_restore_to_a_point_in_time_on_the_cluster(hosts, run_playbook, ca_file, auth_string):
    """A run made before T, deleted after it, comes back; a run made after T
    does not; every member follows the restored primary."""
    flow_id = https_json(ca_file, "/api/flows/", {"name": "molecule-ha-point-in-time"}, auth_string)["id"]
    kept = _flow_run(ca_file, auth_string, flow_id, "before-t")
    time.sleep(1.1)
    target = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    time.sleep(1.1)
    after = _flow_run(ca_file, auth_string, flow_id, "after-t")
    https_json(ca_file, f"/api/flow_runs/{kept}", auth=auth_string, method="DELETE")
    assert not _run_exists(ca_file, auth_string, kept)

    started = time.monotonic()
    run = run_playbook("selfhosted.prefect.restore", "-e", "restore_instance=default",
                       "-e", f"restore_target={target.isoformat()}")
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "Beside the live cluster" in run.stdout
    wait_serving(hosts)
    wait_writes(ca_file, auth_string)
    print(f"\nrestore.yml to {target.isoformat()} on the cluster: {took:.1f} s")
    assert _run_exists(ca_file, auth_string, kept)
    assert not _run_exists(ca_file, auth_string, after)

    def replicas_follow():
        members = patroni_members(hosts)
        return len(members) == 3 and all(m["state"] in ("running", "streaming") for m in members) and all(
            psql(hosts[name], f"select count(*) from flow_run where id = '{kept}'").strip() == "1" for name in DB_HOSTS)

    assert wait_for(replicas_follow, 60), patroni_members(hosts)


@pytest.mark.usefixtures("cluster_serving")
def test_the_whole_cluster_is_gone(hosts, run_playbook, ca_file, auth_string):
    """Every member's data lost at once: etcd's, PostgreSQL's and Patroni's
    settings, as hosts reinstalled under the same names bring (the package's
    fresh cluster in their place). A converge makes a new cluster and stops
    before anything uses it, naming restore.yml; restore.yml to latest makes
    the cluster anew from the repository on its primary (Patroni's bootstrap
    method), the other members clone it, and the API serves the runs made
    before the loss. A check run then finds nothing to change."""
    flow_id = https_json(ca_file, "/api/flows/", {"name": "molecule-ha-whole-cluster"}, auth_string)["id"]
    kept = _flow_run(ca_file, auth_string, flow_id, "before-the-loss")
    assert archive_lag(primary(hosts), hosts["backup1"]) is not None, "the run's change was not archived"
    lost = time.monotonic()
    for name in DB_HOSTS:
        hosts[name].check_output("systemctl stop patroni@17-main etcd")
    for name in DB_HOSTS:
        hosts[name].check_output("pg_dropcluster 17 main && rm -rf /var/lib/etcd/prefect /etc/patroni/17-main.yml"
                                 " && pg_createcluster 17 main >/dev/null")

    converge = run_playbook("--tags", "database", "selfhosted.prefect.site")
    converged = time.monotonic()
    said = " ".join((converge.stdout + converge.stderr).split())
    assert converge.returncode != 0
    assert "backs up another PostgreSQL cluster in stanza prefect" in said
    assert "a cluster made anew" in said and "-e restore_target=latest" in said

    check = run_playbook("--check", "selfhosted.prefect.restore", "-e", "restore_instance=default",
                         "-e", "restore_target=latest")
    assert check.returncode == 0, check.stdout[-5000:] + check.stderr[-2000:]
    assert "so Patroni makes the cluster anew from the repository" in " ".join(check.stdout.split())

    started = time.monotonic()
    restore = run_playbook("selfhosted.prefect.restore", "-e", "restore_instance=default", "-e", "restore_target=latest")
    restored = time.monotonic()
    assert restore.returncode == 0, restore.stdout[-5000:] + restore.stderr[-2000:]
    said_restore = " ".join(restore.stdout.split())
    assert "Made the Patroni cluster anew from the repository on" in said_restore
    wait_serving(hosts)
    wait_writes(ca_file, auth_string)
    assert _run_exists(ca_file, auth_string, kept)
    assert wait_cluster_whole(hosts), patroni_members(hosts)
    for name in DB_HOSTS:
        assert psql(hosts[name], f"select count(*) from flow_run where id = '{kept}'").strip() == "1", name
    system_id = psql(primary(hosts), "select system_identifier from pg_control_system()", database="postgres")
    assert info(hosts["backup1"])["db"][-1]["system-id"] == int(system_id)
    assert re.search(r"the newest change replayed was committed at \d{4}-\d\d-\d\dT", said_restore), said_restore[-2000:]
    # pgBackRest's recovery settings and Patroni's bootstrap method are gone from every member.
    for name in DB_HOSTS:
        auto_conf = hosts[name].file("/var/lib/postgresql/17/main/postgresql.auto.conf").content_string
        assert "restore_command" not in auto_conf and "recovery_target" not in auto_conf, name
        assert not hosts[name].file("/var/lib/postgresql/17/main/recovery.signal").exists, name
        assert "method: pgbackrest" not in hosts[name].file("/etc/patroni/17-main.yml").content_string, name
    assert archive_lag(primary(hosts), hosts["backup1"]) is not None, \
        "the restored cluster does not archive into the stanza"

    again = run_playbook("--check", "--diff", "--tags", "database", "selfhosted.prefect.site")
    recap = [line for line in again.stdout.splitlines() if " : ok=" in line]
    assert again.returncode == 0 and recap and all("changed=0" in line for line in recap), \
        "\n".join(recap) or again.stdout[-3000:]
    print(f"\nevery member's data lost: the converge stopped at the database after {converged - lost:.1f} s, "
          f"restore.yml to latest (the cluster made anew, the API converged) {restored - started:.1f} s; "
          f"{restored - lost:.1f} s from the loss to the API serving the old data")
