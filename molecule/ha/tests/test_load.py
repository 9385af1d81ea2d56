"""The cluster under load: 32 clients create flow runs through lb1 and move
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
import subprocess
import sys
import time

import pytest

from ha_cluster import (INSTANCE, PUBLISHED_URL, REDIS_HOSTS, completed_run, event_stored, haproxy_servers,
                        interval_deployment, redis_primary, replication, scheduled_starts, sentinel_cli, wait_for)

LOAD_SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "prefect_load.py"
CLIENTS = 32
# Runs the load completes before a test acts, and again after it acted
# before the load stops: about one per client.
SETTLE_RUNS = CLIENTS
# The load's requests time out after 30 s: every wait allows for a few.
LOAD_TIMEOUT = 120

pytestmark = pytest.mark.usefixtures("cluster_serving")


class Load:
    """benchmarks/prefect_load.py in the background until stop()."""

    def __init__(self, ca_file, auth_string, tmp_path, max_seconds=300):
        self.stop_file = tmp_path / "stop"
        self.progress_file = tmp_path / "progress.json"
        self.process = subprocess.Popen(
            [sys.executable, str(LOAD_SCRIPT), "--api-url", f"{PUBLISHED_URL}/api", "--ca-file", ca_file,
             "--clients", str(CLIENTS), "--duration", str(max_seconds), "--stop-file", str(self.stop_file),
             "--progress-file", str(self.progress_file), "--auth-string-env", "PREFECT_LOAD_AUTH_STRING"],
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
    summary = load.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report("rolling restart under load", summary, f"; the restart took {took:.0f} s")
    for name in ("api1", "api2"):
        assert active_since(hosts[name], unit) != before[name], f"{name} was not restarted"
    assert summary["runs"] > 0
    assert summary["error_count"] == 0


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
    assert summary["error_count"] == 0


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


@pytest.mark.parametrize("host, unit", [("redis primary", "redis-server.service"), ("db1", "postgresql.service")])
def test_recovers_from_a_backend_restart_unattended(hosts, ca_file, auth_string, replication_password, tmp_path,
                                                    host, unit):
    if host == "redis primary":
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
    container = hosts[old].backend.get_hostname()
    load = Load(ca_file, auth_string, tmp_path)
    load.wait_runs(SETTLE_RUNS, "the load running before the kill")
    killed_at = time.time()
    subprocess.run(["docker", "kill", container], check=True, capture_output=True)
    new = []
    promoted = wait_for(lambda: new.append(redis_primary(hosts, replication_password, survivors)) or
                        new[-1] not in (None, old), 60, 0.2)
    promoted_at = time.time()
    load.wait_runs(SETTLE_RUNS, "the load running on after the failover")
    # Messaging: a run completed now has its event stored.
    probe_at = time.time()
    run_id = completed_run(ca_file, auth_string)
    events = wait_for(lambda: event_stored(ca_file, auth_string, run_id), 60, 0.5)
    events_at = time.time()
    # Docket and the scheduler: a new deployment's slots filled, each once.
    deployment = interval_deployment(ca_file, auth_string)
    starts = []
    filled = wait_for(lambda: starts.__setitem__(slice(None), scheduled_starts(ca_file, auth_string, deployment["id"]))
                      or len(starts) >= 3, 120, 1)
    filled_at = time.time()
    summary = load.stop()
    errors = summary["errors"]
    recovered = (max(e["failed"] for e in errors) - killed_at) if errors else 0.0

    subprocess.run(["docker", "start", container], check=True, capture_output=True)
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
           f"; {new[-1]} promoted after {promoted_at - killed_at:.1f} s; last failed request "
           f"{recovered:.1f} s after the kill; an event stored {events_at - probe_at:.1f} s after its run; "
           f"a new schedule filled {filled_at - events_at:.1f} s after its creation; "
           f"{old} a replica again {rejoined_at - started_at:.1f} s after its start")
    assert promoted, f"no replica promoted within 60 s: {new[-5:]}"
    assert promoted_at - killed_at < 30
    assert recovered < 30, errors[-3:]
    assert events, "no event of a run completed after the failover was stored within 60 s"
    assert filled and len(starts) == len(set(starts)), starts
    assert replica_again, f"{old} did not rejoin as a replica within 120 s"
    assert "OK 3 usable Sentinels" in sentinels, sentinels
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert second.returncode == 0 and recap and all("changed=0" in line for line in recap), \
        "\n".join(recap) or second.stdout[-3000:]
