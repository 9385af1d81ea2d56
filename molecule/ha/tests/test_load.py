"""The cluster under load: 32 clients create flow runs through the load
balancers' floating address and move
them RUNNING then COMPLETED (benchmarks/prefect_load.py) while the tests
restart, kill and break parts of it. Every figure is printed.

No test sleeps for a fixed time: each waits for the load to have completed
runs (its --progress-file), for HAProxy to report a server's state, or for a
quiet stretch of the load, each with a timeout. Each test starts from, and
leaves, both API hosts serving (the cluster_serving fixture), so they run in
any order.
"""

import json
import os
import pathlib
import ssl
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, timezone

import pytest

from ha_cluster import (ARCHIVE_TIMEOUT, DB_HOSTS, AlertWatch, FLOATING_URL, INSTANCE, LOAD_BALANCERS, REDIS_HOSTS, address,
                        archive_lag, completed_run, etcd_members, event_stored, floating_address_holders,
                        haproxy_servers, https_json, interval_deployment, patroni_members, pg_primary, psql,
                        redis_primary, replication, scheduled_starts, sentinel_cli, wait_cluster_whole, wait_for)
from molecule_fixtures import container

LOAD_SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "prefect_load.py"
CLIENTS = 32
# Runs the load completes before a test acts, and again after it acted
# before the load stops: about one per client.
SETTLE_RUNS = CLIENTS
# The load's requests time out after 30 s: every wait allows for a few.
LOAD_TIMEOUT = 120

# client1's worker (group_vars/prefect_worker.yml) runs this deployment
# through every fault of this module.
WORKER_DEPLOYMENT = "tick/every-minute"
WORKER_INTERVAL = 60

pytestmark = [pytest.mark.usefixtures("cluster_serving"), pytest.mark.machine_to_itself]


@pytest.fixture(scope="module", autouse=True)
def faults_window():
    """When this module's first test started: the worker's runs scheduled
    since then ran through its faults."""
    return {"started": time.time()}


class Load:
    """benchmarks/prefect_load.py in the background until stop()."""

    def __init__(self, ca_file, auth_string, tmp_path, max_seconds=300):
        self.stop_file = tmp_path / "stop"
        self.progress_file = tmp_path / "progress.json"
        self.record_file = tmp_path / "record.json"
        self.process = subprocess.Popen(
            [sys.executable, str(LOAD_SCRIPT), "--api-url", f"{FLOATING_URL}/api", "--ca-file", ca_file,
             "--clients", str(CLIENTS), "--duration", str(max_seconds), "--stop-file", str(self.stop_file),
             "--progress-file", str(self.progress_file), "--auth-string-env", "PREFECT_LOAD_AUTH_STRING",
             "--record-file", str(self.record_file)],
            env=dict(os.environ, PREFECT_LOAD_AUTH_STRING=auth_string),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def progress(self):
        """The load's counts so far (zero before its first report)."""
        try:
            return json.loads(self.progress_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"time": time.time(), "runs": 0, "requests": 0, "errors": 0, "last_error_failed": None}

    def wait_runs(self, more, what):
        """Wait until the load has completed `more` runs beyond those done so
        far; fail saying `what` it waited for if it does not in time."""
        target = self.progress()["runs"] + more
        done = wait_for(lambda: self.process.poll() is not None or self.progress()["runs"] >= target,
                        LOAD_TIMEOUT, 0.2)
        assert self.process.poll() is None, f"the load ended early: {self.process.communicate()[1][-2000:]}"
        assert done, (f"{what}: the load completed {self.progress()['runs']} of {target} runs "
                      f"in {LOAD_TIMEOUT} s")

    def wait_quiet(self, since, seconds, deadline):
        """Wait until the load has run `seconds` without a failed request,
        counted from `since` or from its last error if later, and completed
        SETTLE_RUNS runs meanwhile; give up at `deadline` (time.time())."""
        runs_before = self.progress()["runs"]

        def quiet():
            now = self.progress()
            return (now["time"] - max(since, now["last_error_failed"] or since) >= seconds
                    and now["runs"] >= runs_before + SETTLE_RUNS)

        return wait_for(quiet, max(0.0, deadline - time.time()), 0.2)

    def stop(self):
        self.stop_file.touch()
        out, err = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, err
        return json.loads(out)

    def record(self):
        """After stop(): each run's last acknowledged state, and when each
        successful request was answered."""
        return json.loads(self.record_file.read_text())


STATE_ORDER = {"created": 0, "PENDING": 0, "SCHEDULED": 0, "RUNNING": 1, "COMPLETED": 2}


def lost_runs(primary, acknowledged):
    """The acknowledged runs the database does not hold at least as far as
    the API acknowledged them, checked by id on `primary`."""
    ids = list(acknowledged)
    stored = {}
    for start in range(0, len(ids), 500):
        chunk = ",".join(f"'{run_id}'" for run_id in ids[start:start + 500])
        for line in psql(primary, f"select id, state_type from flow_run where id in ({chunk})").splitlines():
            run_id, state = line.split("|")
            stored[run_id] = state
    return {run_id: (state, stored.get(run_id)) for run_id, state in acknowledged.items()
            if run_id not in stored or STATE_ORDER.get(stored[run_id], -1) < STATE_ORDER[state]}


def recovery_figures(summary, record, fault_at):
    """Requests failed, time to the first success after the fault's last
    failure... as the fault table prints them: (failed requests, seconds from
    the fault to the last failure, seconds to the first success after it,
    seconds until a 5 s window ran at the goodput before the fault)."""
    errors = [e for e in summary["errors"] if e["failed"] >= fault_at]
    last_failure = max((e["failed"] for e in errors), default=fault_at)
    successes = sorted(record["successes"])
    before = [t for t in successes if fault_at - 20 <= t < fault_at]
    rate = len(before) / 20 if before else 0
    first = next((t for t in successes if t > last_failure), None)
    goodput_at = None
    after = [t for t in successes if t >= fault_at]
    for index, start in enumerate(after):
        window = [t for t in after[index:] if t < start + 5]
        if rate and len(window) >= 0.8 * rate * 5:
            goodput_at = start
            break
    return (len(errors), last_failure - fault_at,
            (first - fault_at) if first else None, (goodput_at - fault_at) if goodput_at else None)


def error_span(summary, since):
    """Seconds of errors after `since`: from the first failed answer to the
    last."""
    failures = [e["failed"] for e in summary["errors"] if e["failed"] >= since]
    return max(failures) - min(failures) if failures else 0.0


def print_fault_row(fault, summary, record, fault_at, extra=""):
    failed, last_failure, first_success, goodput = recovery_figures(summary, record, fault_at)
    print(f"\nFAULT | {fault} | {failed} requests failed | last failure {last_failure:.1f} s | first success after it "
          f"{first_success if first_success is None else round(first_success, 1)} s | old goodput again "
          f"{goodput if goodput is None else round(goodput, 1)} s{extra}")
    # The first and last failures, as seconds after the fault: what a failed
    # limit's CI log needs to tell a slow failover from a late straggler.
    errors = sorted((e for e in summary["errors"] if e["failed"] >= fault_at), key=lambda e: e["failed"])
    for error in errors[:2] + errors[-3:] if len(errors) > 5 else errors:
        print(f"  {error['step']} sent +{error['sent'] - fault_at:.2f} failed +{error['failed'] - fault_at:.2f}: "
              f"{str(error['error'])[:200]}")
    return failed, last_failure


def report(title, summary, extra=""):
    print(f"\n{title}: {summary['runs']} runs in {summary['seconds']} s ({summary['goodput_runs_per_s']} runs/s), "
          f"p50 {summary['latency_p50_ms']} ms, p95 {summary['latency_p95_ms']} ms, "
          f"{summary['error_count']} failed of {summary['requests']} requests{extra}")
    for error in summary["errors"][:5]:
        print(f"  {error['step']} sent {error['sent']:.2f} failed {error['failed']:.2f}: {error['error']}")


def active_since(host, unit):
    return host.check_output(f"systemctl show -p ActiveEnterTimestampMonotonic --value {unit}")


def test_rolling_restart_fails_no_request(hosts, ca_file, auth_string, run_playbook, tmp_path):
    unit = f"prefect-server@{INSTANCE}.service"
    before = {name: active_since(hosts[name], unit) for name in ("api1", "api2")}
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the restart")
    started = time.monotonic()
    result = run_playbook("selfhosted.prefect.rolling_restart")
    took = time.monotonic() - started
    load.wait_runs(SETTLE_RUNS, "the load running on after the restart")
    # Archiving keeps up with the load's WAL: what the primary writes now
    # reaches backup1's repository within archive_timeout and a margin.
    lag = archive_lag(hosts[pg_primary(hosts)], hosts["backup1"])
    summary = load.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report("rolling restart under load", summary, f"; the restart took {took:.0f} s; the primary's current WAL "
           f"segment in the repository after {lag if lag is None else round(lag, 1)} s")
    for name in ("api1", "api2"):
        assert active_since(hosts[name], unit) != before[name], f"{name} was not restarted"
    assert summary["runs"] > 0
    assert summary["error_count"] == 0, summary["errors"][:10]
    assert lag is not None, f"the primary's WAL under load was not archived within {ARCHIVE_TIMEOUT + 30} s"


def test_rollout_with_a_migration_migrates_once_and_fails_no_request(hosts, ca_file, auth_string, run_playbook,
                                                                     tmp_path):
    """What a version upgrade does, with the version kept: both stamps gone,
    site.yml drains each host in turn, migrates once (on api1), restarts."""
    stamp = f"/var/lib/prefect/{INSTANCE}/.selfhosted-prefect-migrated"

    def migrations(name):
        log = hosts[name].check_output(f"journalctl --no-pager -o cat -u prefect-server-migrate@{INSTANCE}.service")
        return log.count("Migrations succeeded")

    before = {}
    for name in ("api1", "api2"):
        hosts[name].check_output(f"rm -f {stamp}")
        before[name] = migrations(name)
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the rollout")
    result = run_playbook("--limit", "prefect_server:prefect_loadbalancer", "selfhosted.prefect.site")
    load.wait_runs(SETTLE_RUNS, "the load running on after the rollout")
    summary = load.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report("rollout with a migration under load", summary)
    assert migrations("api1") == before["api1"] + 1, "api1 did not migrate"
    assert migrations("api2") == before["api2"], "api2 migrated a second time"
    for name in ("api1", "api2"):
        assert hosts[name].file(stamp).exists, name
    assert summary["runs"] > 0
    assert summary["error_count"] == 0, summary["errors"][:10]


def test_kill_9_fails_only_requests_in_flight(hosts, ca_file, auth_string, tmp_path):
    """SIGKILL to every process of api2's server: requests api2 held fail;
    new ones go to api1 at once (retry-on conn-failure, redispatch), before
    HAProxy's checks even mark api2 down; systemd starts it again."""
    api2, lb = hosts["api2"], hosts["lb1"]
    unit = f"prefect-server@{INSTANCE}.service"
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the kill")
    killed_at = time.time()
    api2.check_output(f"systemctl kill --signal=SIGKILL {unit}")
    marked_down = wait_for(lambda: haproxy_servers(lb)["api2"]["status"].startswith("DOWN"), 30, 0.5)
    down_at = time.time()
    back_up = wait_for(lambda: haproxy_servers(lb)["api2"]["status"] == "UP", 120)
    up_at = time.time()
    load.wait_runs(SETTLE_RUNS, "the load running on with api2 back")
    summary = load.stop()
    late = [e for e in summary["errors"] if e["sent"] > killed_at + 0.5]
    report("kill -9 of api2 under load", summary,
           f"; HAProxy marked it down after {down_at - killed_at:.1f} s, up again after {up_at - killed_at:.1f} s; "
           f"{len(late)} failed requests sent after the kill")
    assert marked_down and back_up
    assert api2.service(unit).is_running
    assert summary["runs"] > 0
    # Only requests api2 held at the kill: at most one per client.
    assert summary["error_count"] <= CLIENTS
    assert late == []


def kill_the_primarys_host(hosts, old, primary_among):
    """docker kill of old's container, then wait up to 60 s until
    primary_among(the other hosts) names a new primary. Returns the time of
    the kill, whether one was promoted, when, and what was last named."""
    killed_at = time.time()
    subprocess.run(["docker", "kill", container(hosts[old])], check=True, capture_output=True)
    named = []
    promoted = wait_for(lambda: named.append(primary_among()) or named[-1] not in (None, old), 60, 0.2)
    return killed_at, promoted, time.time(), named[-1]


def test_recovers_from_a_redis_restart_unattended(hosts, ca_file, auth_string, replication_password, tmp_path):
    unit = "redis-server.service"
    host = redis_primary(hosts, replication_password)
    assert host, "the Sentinels do not agree on a primary"
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, f"the load running before the restart of {unit}")
    restarted_at = time.time()
    hosts[host].check_output(f"systemctl restart {unit}")
    # The load runs on until it has gone 10 s without a failed request (and
    # completed runs meanwhile), at most until 20 s after the restart: the
    # assertion below then judges the last 10 s of the load.
    load.wait_quiet(since=restarted_at, seconds=10.5, deadline=restarted_at + 20)
    summary = load.stop()
    errors = summary["errors"]
    recovery = (max(e["failed"] for e in errors) - restarted_at) if errors else 0.0
    report(f"restart of {unit} under load", summary, f"; last error {recovery:.1f} s after the restart")
    # Recovered with nobody acting: no error in the last 10 s of the load.
    ended = summary["started"] + summary["seconds"]
    assert summary["runs"] > 0
    assert all(e["failed"] < ended - 10 for e in errors), errors[-3:]


def test_the_loss_of_the_redis_primarys_host(hosts, ca_file, auth_string, redis_password, replication_password,
                                             run_playbook, tmp_path):
    """docker kill of the Redis primary's host under load: the Sentinels
    promote a replica, the servers follow it (redis+sentinel://): writes,
    events (messaging) and the scheduler (Docket) work again, each
    scheduled slot once. The host, started again, rejoins as a replica on
    its own; a converge then writes the new primary into the files, and the
    next converge changes nothing. Every figure is printed."""
    old = redis_primary(hosts, replication_password)
    assert old, "the Sentinels do not agree on a primary"
    survivors = [name for name in REDIS_HOSTS if name != old]
    container_name = container(hosts[old])
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the kill")
    killed_at, promoted, promoted_at, new = kill_the_primarys_host(
        hosts, old, lambda: redis_primary(hosts, replication_password, survivors))
    load.wait_runs(SETTLE_RUNS, "the load running on after the failover")
    # Messaging: a run completed now has its event stored.
    probe_at = time.time()
    run_id = completed_run(ca_file, auth_string)
    events = wait_for(lambda: event_stored(ca_file, auth_string, run_id), 60, 0.5)
    events_at = time.time()
    # Docket and the scheduler: a new deployment's slots filled, each once.
    deployment = interval_deployment(ca_file, auth_string)
    starts = []
    # Filled 8 to 12 s after the failover in five runs, 124 s in a sixth
    # (2026-12-06): the bound allows that, and fails a scheduler that stays down.
    filled = wait_for(lambda: starts.__setitem__(slice(None), scheduled_starts(ca_file, auth_string, deployment["id"]))
                      or len(starts) >= 3, 300, 1)
    filled_at = time.time()
    summary = load.stop()
    errors = summary["errors"]
    recovered = (max(e["failed"] for e in errors) - killed_at) if errors else 0.0

    subprocess.run(["docker", "start", container_name], check=True, capture_output=True)
    started_at = time.time()

    def rejoined():
        try:
            state = replication(hosts[old], redis_password)
        except Exception:  # noqa: BLE001 - Redis not up yet
            return False
        return state.get("role") == "slave" and state.get("master_link_status") == "up"

    replica_again = wait_for(rejoined, 120, 0.5)
    rejoined_at = time.time()
    sentinels = sentinel_cli(hosts[old], replication_password, "SENTINEL CKQUORUM prefect")
    # The Redis play of site.yml (its database play needs every host's facts).
    first = run_playbook("--tags", "redis", "selfhosted.prefect.site")
    second = run_playbook("--tags", "redis", "selfhosted.prefect.site")
    recap = [line for line in second.stdout.splitlines() if " : ok=" in line]

    report(f"docker kill of {old}, the Redis primary's host, under load", summary,
           f"; {new} promoted after {promoted_at - killed_at:.1f} s; last failed request "
           f"{recovered:.1f} s after the kill; an event stored {events_at - probe_at:.1f} s after its run; "
           f"a new schedule filled {filled_at - events_at:.1f} s after its creation; "
           f"{old} a replica again {rejoined_at - started_at:.1f} s after its start")
    assert promoted, f"no replica promoted within 60 s; last named: {new}"
    assert promoted_at - killed_at < 30
    assert recovered < 30, errors[-3:]
    assert events, "no event of a run completed after the failover was stored within 60 s"
    assert filled and len(starts) == len(set(starts)), starts
    assert replica_again, f"{old} did not rejoin as a replica within 120 s"
    assert "OK 3 usable Sentinels" in sentinels, sentinels
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert second.returncode == 0 and recap and all("changed=0" in line for line in recap), \
        "\n".join(recap) or second.stdout[-3000:]


def test_a_planned_switchover(hosts, ca_file, auth_string, inventory_vars, tmp_path):
    """POST /switchover to the synchronous standby, as patronictl switchover
    does, under load: under 5 s of errors, no acknowledged run lost."""
    assert wait_cluster_whole(hosts), patroni_members(hosts)
    old = pg_primary(hosts)
    candidate = next(m["name"] for m in patroni_members(hosts) if m["role"] == "sync_standby")
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the switchover")
    body = json.dumps({"leader": old, "candidate": candidate})
    switched_at = time.time()
    # The password goes in on stdin (curl's -K -), never on a command line.
    password = inventory_vars["db1"]["vault_prefect_patroni_password"]
    result = subprocess.run(
        ["docker", "exec", "-i", container(hosts[old]), "curl", "-sS", "--max-time", "60",
         "--cacert", "/etc/ssl/selfhosted-prefect/ca.pem", "--cert", "/etc/ssl/selfhosted-prefect/patroni.pem",
         "--key", "/etc/ssl/selfhosted-prefect/patroni.key", "-K", "-", "-X", "POST",
         "-H", "Content-Type: application/json", "-d", body,
         f"https://{address(hosts[old])}:8008/switchover"],
        input=f'user = "patroni:{password}"\n', capture_output=True, text=True, check=False)
    switched = wait_for(lambda: pg_primary(hosts) == candidate, 60, 0.2)
    load.wait_quiet(since=switched_at, seconds=10.5, deadline=switched_at + 40)
    summary = load.stop()
    record = load.record()
    lost = lost_runs(hosts[candidate], record["acknowledged"])
    # The goal is seconds of errors: Patroni's checks of the candidate and
    # its checkpoint before the old primary stops fail no request, so the
    # span runs from the first failed answer, not from the POST.
    errors_for = error_span(summary, switched_at)
    print_fault_row(
        f"planned switchover {old} -> {candidate}", summary, record, switched_at,
        f" | errors for {errors_for:.1f} s | {len(record['acknowledged'])} acknowledged runs, {len(lost)} lost")
    assert result.returncode == 0 and "Successfully switched over" in result.stdout, result.stdout + result.stderr
    assert switched, patroni_members(hosts)
    assert lost == {}, list(lost.items())[:5]
    assert errors_for < 5, summary["errors"][-3:]
    assert wait_cluster_whole(hosts), patroni_members(hosts)


def test_the_loss_of_the_postgresql_primarys_host(hosts, ca_file, auth_string, run_playbook, tmp_path):
    """docker kill of the PostgreSQL primary's host under load: Patroni
    promotes the synchronous standby once the leader key expires, the
    servers' next connections find it (target_session_attrs=read-write), and
    every run the load saw acknowledged is in the new primary, by id. The
    monitoring host's Alertmanager shows PostgresqlPrimaryLost before the
    promotion (its wait is 0 s in this scenario: with the shipped 10 s and a
    20-s failover the margin would be a scrape) and resolves it after. The
    host, started again, rejoins as a replica on its own. Then its disks are
    replaced (its etcd member's and PostgreSQL's data gone, as a reinstalled
    host with the same name brings): one converge removes its old etcd
    member, adds it again, and Patroni clones it from the primary; a check
    run after it, as the drift report runs it, finds nothing to change."""
    assert wait_cluster_whole(hosts), patroni_members(hosts)
    old = pg_primary(hosts)
    survivors = [name for name in DB_HOSTS if name != old]
    container_name = container(hosts[old])
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the kill")
    with AlertWatch(hosts["backup1"], "PostgresqlPrimaryLost") as primary_lost:
        killed_at, promoted, promoted_at, new = kill_the_primarys_host(hosts, old, lambda: pg_primary(hosts, survivors))
        load.wait_quiet(since=killed_at, seconds=10.5, deadline=killed_at + 60)
        summary = load.stop()
        record = load.record()
        lost = lost_runs(hosts[new], record["acknowledged"]) if promoted else {"?": ("no primary", None)}

        subprocess.run(["docker", "start", container_name], check=True, capture_output=True)
        started_at = time.time()

        def rejoined():
            member = next((m for m in patroni_members(hosts, survivors) if m["name"] == old), None)
            return member is not None and member["role"] in ("replica", "sync_standby") and member["state"] == "streaming"

        replica_again = wait_for(rejoined, 180, 1)
        rejoined_at = time.time()
        wait_for(lambda: primary_lost.resolved, 60)

    hosts[old].check_output("systemctl stop patroni@17-main etcd")
    hosts[old].check_output("rm -rf /var/lib/etcd/prefect /var/lib/postgresql/17/main")
    listed = sorted(etcd_members(hosts[new]))
    converge_started = time.monotonic()
    # Its slowest tasks are printed: where a host's return spends its time.
    first = run_playbook("--tags", "database", "selfhosted.prefect.site",
                         env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
                              "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "8"})
    converge_took = time.monotonic() - converge_started
    print(first.stdout.partition("TASKS RECAP")[2])
    members = etcd_members(hosts[new])
    cloned = wait_for(rejoined, 60, 1)
    second = run_playbook("--check", "--diff", "--tags", "database", "selfhosted.prefect.site")
    recap = [line for line in second.stdout.splitlines() if " : ok=" in line]

    failed, last_failure = print_fault_row(
        f"docker kill of {old}, the PostgreSQL primary's host", summary, record, killed_at,
        f" | {new} promoted after {promoted_at - killed_at:.1f} s | {len(record['acknowledged'])} acknowledged "
        f"runs, {len(lost)} lost | {old} streaming again {rejoined_at - started_at:.1f} s after its start"
        f" | with its data lost, rejoined by a converge of {converge_took:.0f} s")
    print(f"PostgresqlPrimaryLost in Alertmanager {primary_lost.fired - killed_at:.1f} s after the kill, resolved "
          f"{primary_lost.resolved - promoted_at:.1f} s after the promotion"
          if primary_lost.fired and primary_lost.resolved else
          f"PostgresqlPrimaryLost fired at {primary_lost.fired}, resolved at {primary_lost.resolved}")
    assert promoted, f"no replica promoted within 60 s; last named: {new}"
    assert primary_lost.fired and primary_lost.fired < promoted_at, "PostgresqlPrimaryLost did not fire before the promotion"
    assert primary_lost.resolved and primary_lost.resolved > promoted_at, "PostgresqlPrimaryLost did not resolve"
    assert lost == {}, list(lost.items())[:5]
    assert last_failure < 30, summary["errors"][-3:]
    assert replica_again, patroni_members(hosts, survivors)
    assert listed == sorted(DB_HOSTS), "the lost member should still be listed before the converge"
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert sorted(members) == sorted(DB_HOSTS) and members[old] == [f"https://{address(hosts[old])}:2380"], members
    assert cloned, patroni_members(hosts)
    assert not hosts[old].file("/run/selfhosted-prefect-etcd-join.env").exists
    assert second.returncode == 0 and recap and all("changed=0" in line for line in recap), \
        "\n".join(recap) or second.stdout[-3000:]


def health_answers(ca_file):
    """A new connection through the floating address gets /api/health's
    answer within 2 s."""
    try:
        with urllib.request.urlopen(f"{FLOATING_URL}/api/health", timeout=2,
                                    context=ssl.create_default_context(cafile=ca_file)) as response:
            return response.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error
        return False


def test_the_loss_of_the_load_balancer_that_holds_the_floating_address(
        hosts, ca_file, auth_string, run_playbook, tmp_path):
    """docker kill of the load balancer that holds the floating address,
    under load: the other load balancer's keepalived misses its
    advertisements and takes the address, and the load, which knows only the
    floating address, is served again. The host, started again, rejoins as a
    backup and leaves the address where it is (nopreempt); a converge of the
    load balancers changes nothing."""
    holders = floating_address_holders(hosts)
    assert len(holders) == 1, holders
    old = holders[0]
    other = next(name for name in LOAD_BALANCERS if name != old)
    container_name = container(hosts[old])
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the kill")
    killed_at = time.time()
    subprocess.run(["docker", "kill", container_name], check=True, capture_output=True)
    moved = wait_for(lambda: floating_address_holders(hosts, [other]) == [other], 30, 0.1)
    moved_at = time.time()
    # A new request: the load's clients each wait on the request they had
    # sent to the dead host, which never answers (nothing resets those
    # connections), until the load's 30 s timeout.
    answered = wait_for(lambda: health_answers(ca_file), 30, 0.2)
    answered_at = time.time()
    load.wait_quiet(since=killed_at, seconds=10.5, deadline=killed_at + 60)
    summary = load.stop()
    record = load.record()

    subprocess.run(["docker", "start", container_name], check=True, capture_output=True)
    started_at = time.time()
    backup_again = wait_for(lambda: hosts[old].run("systemctl is-active --quiet keepalived haproxy").rc == 0
                            and "Entering BACKUP STATE" in hosts[old].check_output(
                                "journalctl -b --no-pager -o cat -u keepalived"), 120, 1)
    rejoined_at = time.time()
    holders_after = floating_address_holders(hosts)
    converge = run_playbook("--tags", "loadbalancer", "selfhosted.prefect.site")
    recap = [line for line in converge.stdout.splitlines() if " : ok=" in line]

    print_fault_row(
        f"docker kill of {old}, the load balancer holding the floating address", summary, record, killed_at,
        f" | {other} holds it after {moved_at - killed_at:.1f} s | a new request answered after "
        f"{answered_at - killed_at:.1f} s | {old} a backup again {rejoined_at - started_at:.1f} s after its start")
    assert moved, f"{other} did not take the floating address within 30 s"
    assert answered and answered_at - killed_at < 5, "no answer through the floating address within 5 s"
    # What failed was sent before the other load balancer answered: the
    # requests the dead host held (they hang until the load's timeout when
    # nothing resets them), or refused while the address had no holder. The
    # load's clients retry at once, so their count says little.
    late = [error for error in summary["errors"] if error["sent"] > answered_at]
    assert late == [], late[:3]
    assert backup_again, hosts[old].run("journalctl -b --no-pager -o cat -u keepalived").stdout[-2000:]
    assert holders_after == [other], holders_after
    assert converge.returncode == 0 and recap and all("changed=0" in line for line in recap), \
        "\n".join(recap) or converge.stdout[-3000:]


def test_the_workers_scheduled_runs_all_completed(ca_file, auth_string, faults_window):
    """Last in this module: every run of client1's scheduled deployment due
    while the tests above broke the cluster completed, each slot once and
    none missed; none stays RUNNING or ended Crashed or Failed. Runs due in
    the last interval may still be starting: the wait gives them 3 minutes."""
    deployment = https_json(ca_file, f"/api/deployments/name/{WORKER_DEPLOYMENT}", auth=auth_string)
    started = faults_window["started"]
    until = time.time() - WORKER_INTERVAL
    runs = []

    def due_runs():
        return https_json(ca_file, "/api/flow_runs/filter", {
            "deployments": {"id": {"any_": [deployment["id"]]}},
            "flow_runs": {"expected_start_time": {
                "after_": datetime.fromtimestamp(started, timezone.utc).isoformat(),
                "before_": datetime.fromtimestamp(until, timezone.utc).isoformat()}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 200}, auth_string)

    def all_finished():
        runs[:] = due_runs()
        return all(run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for run in runs)

    finished = wait_for(all_finished, 180, 2)
    states = Counter(run["state_type"] for run in runs)
    slots = [run["expected_start_time"] for run in runs]
    lateness = [(datetime.fromisoformat(run["start_time"]) - datetime.fromisoformat(run["expected_start_time"]))
                .total_seconds() for run in runs if run["start_time"]]
    print(f"\nworker on client1: {len(runs)} runs of {WORKER_DEPLOYMENT} due over {until - started:.0f} s of faults, "
          f"{dict(states)}; started at most {max(lateness, default=0):.1f} s late "
          f"(median {sorted(lateness)[len(lateness) // 2] if lateness else 0:.1f} s)")
    unfinished = [(run["name"], run["state_name"]) for run in runs if run["state_type"] != "COMPLETED"]
    assert finished and not unfinished, unfinished
    assert len(slots) == len(set(slots)), "a scheduled slot ran twice"
    assert len(runs) >= int((until - started) / WORKER_INTERVAL) - 1, \
        f"{len(runs)} runs due over {until - started:.0f} s: the scheduler missed slots"
