"""The monitoring host (backup1, prefect_monitoring): Prometheus and
Alertmanager on its loopback only; every host's node exporter, both API
hosts' /api/metrics (TLS and basic auth), Patroni's and etcd's metrics on
the database hosts, PostgreSQL's and Redis's exporters on each of them,
HAProxy's on the load balancers and the Prefect exporter scraped and up,
each one's TLS probed and verified; replication and
WAL archiving measured; the
collection's rules loaded; the Prefect exporter's view of client1's
worker; every query of the dashboard answered; each fault of issue 23
firing its alert through Alertmanager and resolving after its repair. A
node exporter answers only a client with a certificate from the CA (and,
test_firewall, only the monitoring host); test_wire sees every scrape in
TLS."""

import json
import re
import shlex
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from ha_cluster import active_alerts, wait_for

HOSTS = ("db1", "db2", "db3", "api1", "api2", "lb1", "lb2", "client1", "backup1")
DB_HOSTS = ("db1", "db2", "db3")
# (job, instance) of every target: each declared by the role that owns it.
EXPECTED = ({("node", f"{name}:9100") for name in HOSTS} | {("prefect_exporter", "127.0.0.1:9812")}
            | {("prefect_server", f"{name}:4200") for name in ("api1", "api2")}
            | {("patroni", f"{name}:8008") for name in DB_HOSTS} | {("etcd", f"{name}:2379") for name in DB_HOSTS}
            | {("haproxy", f"{name}:8405") for name in ("lb1", "lb2")}
            | {("postgresql", f"{name}:9187") for name in DB_HOSTS} | {("redis", f"{name}:9121") for name in DB_HOSTS})
# The job tls: every target but the exporter on loopback, probed through the
# blackbox exporter, by the job it was declared for.
PROBED = {instance: job for job, instance in EXPECTED if job != "prefect_exporter"}
RULES = Path(__file__).resolve().parents[3] / "roles" / "prefect_monitoring" / "files" / "rules"
TLS_DIR = "/etc/prometheus/selfhosted-prefect/tls"
CA = "/etc/ssl/selfhosted-prefect/ca.pem"
DASHBOARD = "/etc/prometheus/selfhosted-prefect/dashboards/selfhosted-prefect.json"


@pytest.fixture(scope="module")
def monitor(hosts):
    return hosts["backup1"]


def api(monitor, path, port=9090):
    return json.loads(monitor.check_output(f"curl -fsS --max-time 10 'http://127.0.0.1:{port}{path}'"))


def query(monitor, expr):
    """Prometheus' instant vector for expr: {frozenset(labels): value}."""
    answer = api(monitor, "/api/v1/query?query=" + urllib.parse.quote(expr))
    return {frozenset(sample["metric"].items()): float(sample["value"][1]) for sample in answer["data"]["result"]}


# A fault an earlier test repaired (test_floating_address stops HAProxy on a
# load balancer) can leave its alert pending until the next scrape and rule
# evaluation, 30 s each by the role's defaults.
ALERT_SETTLE = 90


def assert_no_alert(monitor, names):
    """No alert whose name matches `names` pending or firing once a scrape
    and an evaluation have passed; for a failed unit of backup1, what its
    journal says."""
    expr = f'ALERTS{{alertname=~"{names}"}}'
    if wait_for(lambda: not query(monitor, expr), ALERT_SETTLE):
        return
    active = [dict(labels) for labels in query(monitor, expr)]
    journals = {alert["name"]: monitor.run(f"journalctl -u {shlex.quote(alert['name'])} -n 15 --no-pager").stdout
                for alert in active if "name" in alert and alert.get("instance", "").startswith("backup1:")}
    pytest.fail(f"active after {ALERT_SETTLE} s: {active}; {journals}")


def test_every_host_and_the_prefect_exporter_are_scraped_and_up(monitor):
    targets = {}

    def all_up():
        targets.clear()
        for target in api(monitor, "/api/v1/targets?state=active")["data"]["activeTargets"]:
            targets[(target["labels"]["job"], target["labels"]["instance"])] = (target["health"], target["lastError"])
        return len(targets) == len(EXPECTED) + len(PROBED) and all(health == "up" for health, _error in targets.values())

    assert wait_for(all_up, 60), f"targets not all up: {targets}"
    assert set(targets) == EXPECTED | {("tls", instance) for instance in PROBED}


def test_every_targets_tls_verifies_and_its_certificate_has_more_than_21_days(monitor):
    """The blackbox exporter's handshake with each target, verified against
    the CA under the target's name (CertificateExpiresSoon, TlsProbeFailed)."""
    verified = {}

    def all_verified():
        verified.clear()
        for labels, value in query(monitor, 'probe_success{job="tls"}').items():
            labels = dict(labels)
            verified[labels["instance"]] = (labels["service"], value)
        return verified == {instance: (job, 1.0) for instance, job in PROBED.items()}

    assert wait_for(all_verified, 60), verified
    days = {dict(labels)["instance"]: seconds / 86400
            for labels, seconds in query(monitor, 'probe_ssl_earliest_cert_expiry{job="tls"} - time()').items()}
    assert set(days) == set(PROBED) and min(days.values()) > 21, days
    assert_no_alert(monitor, "CertificateExpiresSoon|TlsProbeFailed")


def test_the_collections_rules_and_the_sites_windows_are_loaded(monitor):
    groups = api(monitor, "/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"}
    shipped = {rule["alert"] for path in RULES.glob("*.yml")
               for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
    assert loaded == shipped
    windows = query(monitor, "selfhosted_prefect:timer_max_age_seconds")
    assert {dict(labels)["name"]: value for labels, value in windows.items()}["prefect-pgbackrest-check.timer"] == 7200


def test_every_query_of_the_dashboard_returns_data(monitor):
    """roles/prefect_monitoring/files/dashboards: each panel's query names
    series this Prometheus has (tests/unit checks the dashboard's form)."""
    dashboard = json.loads(monitor.file(DASHBOARD).content_string)
    empty = [(panel["title"], target["expr"]) for panel in dashboard["panels"] if panel["type"] != "row"
             for target in panel["targets"] if not query(monitor, target["expr"])]
    assert not empty, empty


def test_prometheus_sends_its_alerts_to_alertmanager(monitor):
    active = api(monitor, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [manager["url"] for manager in active] == ["http://127.0.0.1:9093/api/v2/alerts"]
    status = api(monitor, "/api/v2/status", port=9093)
    assert status["cluster"]["status"] == "disabled"
    assert "receiver: default" in status["config"]["original"]


def test_prometheus_alertmanager_and_the_exporters_listen_on_loopback_only(monitor):
    # Prometheus, Alertmanager (and no cluster listener, 9094), the exporters.
    listening = [line.split()[3] for line in monitor.check_output("ss -ltnH").splitlines()]
    for port in (9090, 9093, 9115, 9812):
        assert [socket for socket in listening if socket.endswith(f":{port}")] == [f"127.0.0.1:{port}"], listening
    assert not [socket for socket in listening if socket.endswith(":9094")], listening


def test_the_prefect_exporter_sees_the_worker_and_the_api(monitor):
    # The worker's pool has client1's worker online; the API answers ready
    # through the floating address.
    assert wait_for(lambda: query(monitor, "prefect_exporter_scrape_success") and all(
        value == 1 for value in query(monitor, "prefect_exporter_scrape_success").values()), 30)
    assert list(query(monitor, "prefect_api_ready").values()) == [1]
    online = {dict(labels)["pool"]: value for labels, value in query(monitor, "prefect_work_pool_online_workers").items()}
    assert online and all(value >= 1 for value in online.values()), online
    age = list(query(monitor, "prefect_newest_event_age_seconds").values())
    assert age and age[0] < 120, age


def test_the_systemd_collector_reports_the_backup_timers(monitor):
    timers = {dict(labels)["name"] for labels in query(monitor, 'node_systemd_unit_start_time_seconds{instance="backup1:9100"}')}
    assert {"prefect-pgbackrest-check.timer", "prefect-pgbackrest-full.timer", "prefect-pgbackrest-diff.timer"} <= timers
    assert_no_alert(monitor, "BackupStale")


def test_the_last_successful_backups_are_measured(monitor):
    """The backup units (test_backup ran a differential one) time each
    success in the node exporter's textfile directory; none is late."""
    ages = {}

    def measured():
        ages.clear()
        for labels, age in query(monitor, 'time() - node_textfile_mtime_seconds{instance="backup1:9100"}').items():
            ages[dict(labels)["file"].rsplit("/", 1)[-1]] = age
        return "prefect-pgbackrest-diff.prom" in ages

    assert wait_for(measured, 30), ages
    print(f"\nseconds since each backup unit's last success on backup1: {ages}")
    assert ages["prefect-pgbackrest-diff.prom"] < 3600, ages
    assert_no_alert(monitor, "BackupNotSucceeded|BackupFailed")


@pytest.mark.parametrize("port, metric", [(9100, "node_filesystem_avail_bytes"), (9187, "pg_up 1"), (9121, "redis_up 1")])
def test_an_exporter_answers_only_a_client_certificate(monitor, port, metric):
    url = f"https://db1:{port}/metrics"
    without = monitor.run(f"curl -sS --max-time 10 --cacert {CA} -o /dev/null {url}")
    assert without.rc != 0, f"db1's exporter on {port} answered a client without a certificate"
    started = time.monotonic()
    metrics = monitor.check_output(f"curl -fsS --max-time 10 --cacert {CA} --cert {TLS_DIR}/prometheus-client.pem "
                                   f"--key {TLS_DIR}/prometheus-client.key {url}")
    assert metric in metrics
    print(f"\none scrape of db1's exporter on {port} over TLS: {time.monotonic() - started:.2f} s")


def test_redis_roles_and_replication_are_measured(monitor):
    """Each Redis host's exporter logs in as the monitoring user: one
    primary, two replicas linked to it, no scrape error, no Redis alert."""
    assert wait_for(lambda: len(query(monitor, "redis_up == 1")) == len(DB_HOSTS), 60), query(monitor, "redis_up")
    roles = {dict(labels)["instance"]: dict(labels)["role"] for labels in query(monitor, "redis_instance_info")}
    assert sorted(roles.values()) == ["master", "slave", "slave"], roles
    assert list(query(monitor, "redis_master_link_up").values()) == [1, 1]
    assert not query(monitor, "redis_exporter_last_scrape_error != 0")
    assert_no_alert(monitor, "Redis.*")


def test_postgresql_replication_and_wal_archiving_are_measured(monitor):
    """Each member's exporter reaches its PostgreSQL (as the role prometheus,
    by peer authentication); the primary's shows both replicas' lag, which
    PostgreSQL hides from a role outside pg_monitor, and its archiver's
    progress; neither alert of them is active."""
    assert wait_for(lambda: len(query(monitor, "pg_up == 1")) == len(DB_HOSTS), 60), query(monitor, "pg_up")
    lag = query(monitor, "pg_stat_replication_pg_wal_lsn_diff")
    assert len(lag) == len(DB_HOSTS) - 1, lag
    primaries = {dict(labels)["instance"] for labels in lag}
    assert len(primaries) == 1, lag
    primary = primaries.pop()
    print(f"\nreplication lag in bytes on {primary}:",
          {dict(labels)["application_name"]: value for labels, value in lag.items()})
    archived = query(monitor, f'pg_stat_archiver_archived_count{{instance="{primary}"}}')
    assert archived and list(archived.values())[0] > 0, archived
    age = query(monitor, f'pg_stat_archiver_last_archive_age{{instance="{primary}"}}')
    print(f"segments archived: {list(archived.values())[0]:.0f}, the newest {list(age.values())} s ago")
    assert_no_alert(monitor, "PostgresqlReplicationLag|PostgresqlWalArchivingFailing|PostgresqlDown")


def test_an_exporter_turned_off_is_stopped_and_withdrawn_then_back(hosts, monitor, run_playbook):
    """A Redis replica's exporter with its port 0 (a converge of the
    monitoring and firewall tags): stopped and disabled, its settings (with the password)
    gone, its target gone from the monitoring host and its port closed; the
    converge with the port back restores all of it. A replica's: without
    the primary's exporter, RedisPrimaryLost would fire."""
    replicas = sorted(dict(labels)["instance"].split(":")[0] for labels in query(monitor, 'redis_instance_info{role="slave"}'))
    name = replicas[-1]
    host, target = hosts[name], f"/etc/prometheus/selfhosted-prefect/targets/redis/{name}.yml"
    # With the API hosts: this inventory's pg_hba entries are their addresses, from their facts.
    limit = f"{name},prefect_server"
    off = run_playbook("--limit", limit, "--tags", "monitoring,firewall", "-e", "prefect_redis_metrics_port=0",
                       "selfhosted.prefect.site")
    try:
        assert off.returncode == 0, off.stdout[-3000:]
        unit = host.service("prometheus-redis-exporter")
        assert not unit.is_running and not unit.is_enabled
        assert not host.file("/etc/default/prometheus-redis-exporter").exists
        assert not monitor.file(target).exists
        assert "9121" not in host.check_output("nft list ruleset")
        assert wait_for(lambda: not query(monitor, f'up{{job="redis", instance="{name}:9121"}}'), 30)
    finally:
        back = run_playbook("--limit", limit, "--tags", "monitoring,firewall", "selfhosted.prefect.site")
    assert back.returncode == 0, back.stdout[-3000:]
    assert host.service("prometheus-redis-exporter").is_running and monitor.file(target).exists
    assert wait_for(lambda: list(query(monitor, f'up{{job="redis", instance="{name}:9121"}}').values()) == [1], 60)


SETTINGS_RULES = "/etc/prometheus/selfhosted-prefect/rules/settings.rules.yml"
READY = ("curl -fsS --max-time 5 --cacert /etc/ssl/selfhosted-prefect/ca.pem "
         "--resolve prefect.ha.test:443:10.99.63.200 -o /dev/null https://prefect.ha.test/api/ready")
# Each alert, the fault that fires it, and how long the parts take to
# notice it besides the alert's own wait (its `for`, 20 s for these in
# group_vars/prefect_monitoring.yml): a scrape and an evaluation every 5 s
# here; HAProxy's three failed checks; a worker is offline 3 heartbeats of
# 10 s after its last, once the foreman's 15-s loop looks; the next run is
# due within 60 s and Late 15 s past its start. BackupStale waits for nothing,
# but its fault is a reload of Prometheus, whose notifier then rediscovers
# Alertmanager for up to 5 s: an alert that fires meanwhile is dropped
# (prometheus_notifications_dropped_total) and sent again after the resend
# delay, a minute, at the evaluation after it.
ALERTS = {
    "PrefectApiHostDown": ("api2", 20),
    "HaproxyServerDown": ("api2", 30),
    "PrefectNoReadyWorker": ("paused", 30 + 15 + 20),
    "PrefectLateRuns": ("paused", 60 + 15 + 5 + 20),
    "PrefectWorkerDown": ("stopped", 5 + 5 + 20),
    "BackupStale": ("windows", 20 + 60 + 5),
    "BackupNotSucceeded": ("windows", 20 + 60 + 5),
}
# client1's worker is paused first, then, once resumed, stopped.
FOLLOWS = {"stopped": "paused"}


def seconds(duration):
    """A Prometheus duration of h, m and s in seconds."""
    return sum(int(number) * {"h": 3600, "m": 60, "s": 1}[unit] for number, unit in re.findall(r"(\d+)([hms])", duration))


@pytest.fixture(scope="module")
def bounds(inventory_vars):
    """The longest each alert may take from its fault: its wait in this
    scenario plus the time to notice the fault."""
    overrides = inventory_vars["backup1"].get("prefect_monitoring_alert_overrides", {})
    shipped = {rule["alert"]: rule.get("for", "0s") for path in RULES.glob("*.yml")
               for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
    return {name: seconds(overrides.get(name, {}).get("for", shipped[name])) + notice
            for name, (_fault, notice) in ALERTS.items()}


class Faults:
    """The faults of the window: (host, command that breaks, command that
    repairs), by name; the backup windows are the settings rules file with
    every window multiplied by 0, and the file as the converge wrote it. A
    pause is SIGSTOP to every process of the worker's unit, which stays
    active; SIGCONT resumes them."""

    def __init__(self, hosts, monitor):
        settings = monitor.file(SETTINGS_RULES).content_string
        reload = f" > {SETTINGS_RULES} && systemctl reload prometheus"
        worker = "prefect-worker@etl"
        self.steps = {
            "api2": (hosts["api2"], "systemctl stop prefect-server@default", "systemctl start prefect-server@default"),
            "paused": (hosts["client1"], f"systemctl kill --signal=SIGSTOP {worker}",
                       f"systemctl kill --signal=SIGCONT {worker}"),
            "stopped": (hosts["client1"], f"systemctl stop {worker}", f"systemctl start {worker}"),
            "windows": (monitor, "printf %s " + shlex.quote(settings.replace("vector(", "vector(0 * ")) + reload,
                        "printf %s " + shlex.quote(settings) + reload),
        }

    def inject(self, name):
        host, breaks, _repairs = self.steps[name]
        host.check_output(breaks)

    def repair(self, name, check=True):
        host, _breaks, repairs = self.steps[name]
        (host.check_output if check else host.run)(repairs)


@pytest.mark.machine_to_itself
def test_each_fault_fires_its_alert_through_alertmanager_and_resolves_after_repair(hosts, monitor, bounds,
                                                                                   cluster_serving):
    """One window, the faults side by side: api2's instance stopped (the
    load balancer still answers ready through api1), client1's worker paused
    (its unit stays active, so PrefectWorkerDown stays quiet, but its pool
    has no online worker and its every-minute runs go Late), then resumed and
    stopped (its unit is not active), and the backup timers' windows shrunk
    to zero, as if each had passed since the timers last ran. Each alert is
    read from Alertmanager's API and timed from its own fault; each fault is
    repaired once all its alerts fired, and every alert must then resolve."""
    assert wait_for(lambda: not active_alerts(monitor) & set(ALERTS), 120), active_alerts(monitor)
    faults = Faults(hosts, monitor)
    started = time.monotonic()
    injected, fired, repaired, resolved, early, ready_meanwhile = {}, {}, {}, {}, set(), []
    for fault in set(faults.steps) - set(FOLLOWS):
        faults.inject(fault)
        injected[fault] = time.monotonic()
    try:
        while len(fired) < len(ALERTS) and time.monotonic() - started < 2 * max(bounds.values()) + 60:
            for name in active_alerts(monitor) & set(ALERTS) - set(fired):
                cause = ALERTS[name][0]
                if cause in injected:
                    fired[name] = time.monotonic() - injected[cause]
                else:
                    early.add(name)
            for fault in set(injected) - set(repaired):
                if all(name in fired for name, (cause, _notice) in ALERTS.items() if cause == fault):
                    faults.repair(fault)
                    repaired[fault] = time.monotonic()
                    for follower in [after for after, before in FOLLOWS.items() if before == fault]:
                        faults.inject(follower)
                        injected[follower] = time.monotonic()
            if "api2" not in repaired:
                ready_meanwhile.append(monitor.run(READY).rc == 0)
            time.sleep(2)
    finally:
        for fault in set(injected) - set(repaired):
            faults.repair(fault, check=False)
            repaired[fault] = time.monotonic()

    def all_resolved():
        active = active_alerts(monitor)
        for name in set(fired) - active - set(resolved):
            resolved[name] = time.monotonic()
        return not active & set(ALERTS)

    cleared = wait_for(all_resolved, 180, 2)
    print("\nalert | its fault | fired after the fault | its bound | resolved after the repair")
    for name, (fault, _notice) in ALERTS.items():
        after = f"{resolved[name] - repaired[fault]:.0f} s" if name in resolved and fault in repaired else "no"
        print(f"{name} | {fault} | {fired.get(name, float('nan')):.0f} s | {bounds[name]} s | {after}")
    assert not early, f"fired before their fault: {early}"
    assert set(fired) == set(ALERTS), f"not fired: {set(ALERTS) - set(fired)}"
    for name, bound in bounds.items():
        assert fired[name] <= bound, f"{name} fired after {fired[name]:.0f} s, its bound is {bound} s"
    assert ready_meanwhile and all(ready_meanwhile), "the load balancer did not answer ready while api2 was down"
    assert cleared, f"still active after their repair: {active_alerts(monitor) & set(ALERTS)}"
