"""What the ha scenario's tests share: where the cluster answers, how to read
HAProxy's view of it, and waits for the cluster to serve again."""

import base64
import csv
import io
import json
import re
import shlex
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

from molecule_fixtures import container, pgbackrest_info

# The load balancers' floating address (keepalived) and its name, as the
# inventory gives them (group_vars/all.yml): the tests reach the cluster
# through it, wherever it is.
FLOATING_ADDRESS = "10.99.63.200"
FLOATING_NAME = "prefect.ha.test"
FLOATING_URL = f"https://{FLOATING_ADDRESS}"
INSTANCE = "default"
API_HOSTS = ("api1", "api2")
LOAD_BALANCERS = ("lb1", "lb2")


def floating_address_holders(hosts, names=LOAD_BALANCERS):
    """The load balancers among names that hold the floating address now."""
    return [name for name in names
            if f" {FLOATING_ADDRESS}/" in hosts[name].check_output("ip -4 -o addr show")]


CSRF_CLIENT = "molecule-ha-tests"
CLIENT_PYTHON = "/opt/prefect-client/bin/python"


def run_flow_on_client(client):
    """A flow run on client1 from its profile alone (no PREFECT_* variable,
    no CA bundle in the environment): returns (flow name, flow run id,
    what the script printed)."""
    flow_name = f"molecule-ha-{uuid.uuid4().hex[:8]}"
    script = (
        "from prefect import flow\n"
        "from prefect.settings import PREFECT_API_URL, PREFECT_API_SSL_CERT_FILE\n"
        f"@flow(name={flow_name!r})\n"
        "def smoke():\n"
        "    return 42\n"
        "if __name__ == '__main__':\n"
        "    print('API', PREFECT_API_URL.value(), PREFECT_API_SSL_CERT_FILE.value())\n"
        "    state = smoke(return_state=True)\n"
        "    print('STATE', state.type.value)\n"
        "    print('FLOW_RUN_ID', state.state_details.flow_run_id)\n"
    )
    client.run("mkdir -p /root/flowtest")
    client.run("cat > /root/flowtest/smoke.py <<'PYEOF'\n" + script + "PYEOF")
    run = client.run("cd /root/flowtest && env -u PREFECT_API_URL -u PREFECT_PROFILE -u SSL_CERT_FILE "
                     f"{CLIENT_PYTHON} smoke.py")
    assert run.rc == 0, run.stdout + run.stderr
    assert "STATE COMPLETED" in run.stdout
    return flow_name, re.search(r"FLOW_RUN_ID (\S+)", run.stdout).group(1), run.stdout


def https_json(ca_file, path, body=None, auth=None, method=None):
    """GET (or POST a JSON body, or another method, with a CSRF token: the
    role turns the protection on) through the floating address, verifying
    its certificate against the generated CA, with basic auth when given."""
    method = method or ("POST" if body is not None else "GET")
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    if method != "GET":
        token = https_json(ca_file, f"/api/csrf-token?client={CSRF_CLIENT}", auth=auth)["token"]
        headers.update({"Prefect-Csrf-Token": token, "Prefect-Csrf-Client": CSRF_CLIENT})
    request = urllib.request.Request(FLOATING_URL + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=30, context=ssl.create_default_context(cafile=ca_file)) as response:
        text = response.read()
        return json.loads(text) if text else None


def haproxy_servers(lb):
    """HAProxy's stats of the backend's servers, by server name."""
    text = lb.check_output("curl -fsS 'http://127.0.0.1:8404/stats;csv'").lstrip("# ")
    return {row["svname"]: row for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == f"prefect_{INSTANCE}" and row["svname"] not in ("FRONTEND", "BACKEND")}


def wait_for(predicate, timeout, interval=1.0):
    """True as soon as predicate() is, False after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def wait_serving(hosts, timeout=180):
    """Wait until HAProxy reports both API hosts UP: its health check (GET
    /api/ready on each) passes again, and neither is DOWN, in MAINT or DRAIN,
    or still counting checks up; fail with what it reports."""
    servers = {}

    def serving():
        try:
            servers.update(haproxy_servers(hosts["lb1"]))
        except AssertionError:  # the stats page does not answer while HAProxy reloads
            return False
        return all(servers.get(name, {}).get("status") == "UP" for name in API_HOSTS)

    assert wait_for(serving, timeout), (
        f"HAProxy did not report both API hosts UP within {timeout} s: "
        + ", ".join(f"{name} {servers.get(name, {}).get('status', 'missing')}" for name in API_HOSTS))


def wait_writes(ca_file, auth, timeout=60):
    """Wait until a client's writes go through the floating address again (a flow run created
    and moved RUNNING then COMPLETED, as benchmarks/prefect_load.py does);
    fail with the last error if they do not within timeout seconds."""
    errors = []

    def writes():
        try:
            flow = https_json(ca_file, "/api/flows/", {"name": "molecule-ha-probe"}, auth)
            run = https_json(ca_file, "/api/flow_runs/", {"flow_id": flow["id"], "name": f"probe-{uuid.uuid4().hex[:8]}"},
                             auth)
            return all(https_json(ca_file, f"/api/flow_runs/{run['id']}/set_state",
                                  {"state": {"type": state}}, auth)["status"] == "ACCEPT"
                       for state in ("RUNNING", "COMPLETED"))
        except (OSError, ValueError, KeyError) as exc:  # HTTP errors are OSErrors
            errors.append(repr(exc)[:300])
            return False

    assert wait_for(writes, timeout), f"no write went through the floating address within {timeout} s; last error: {errors[-1:]}"


# Redis under Sentinels (prefect_redis on three hosts).
REDIS_HOSTS = ("db1", "db2", "db3")
REDIS_CA_FILE = "/etc/ssl/selfhosted-prefect/ca.pem"


def redis_cli(host, commands, port=6379, check=True):
    """redis-cli over TLS (the only way in) in the container, the commands on
    its stdin: a password is on no command line, not even the test's own.
    Its output, one reply element per line."""
    return subprocess.run(["docker", "exec", "-i", container(host), "redis-cli", "--tls",
                           "--cacert", REDIS_CA_FILE, "-p", str(port)],
                          input=commands + "\n", capture_output=True, text=True, check=check, timeout=30).stdout


def redis_auth(user, password):
    """redis-cli's AUTH line, the password double-quoted (it may hold spaces)."""
    return 'AUTH %s "%s"' % (user, password.replace("\\", "\\\\").replace('"', '\\"'))


def sentinel_cli(host, password, commands):
    """Commands to the host's Sentinel as its administrative user."""
    return redis_cli(host, redis_auth("sentinel", password) + "\n" + commands, port=26379, check=False)


_ADDRESSES = {}


def address(host):
    """The host's address on the scenario's network, remembered: a killed
    host's address is still asked for."""
    name = host.backend.get_hostname()
    if name not in _ADDRESSES:
        _ADDRESSES[name] = host.check_output("hostname -I").split()[0]
    return _ADDRESSES[name]


def sentinel_answer(host, password):
    """The primary's address as this host's Sentinel names it, or None."""
    try:
        lines = sentinel_cli(host, password, "SENTINEL GET-MASTER-ADDR-BY-NAME prefect").split()
    except subprocess.TimeoutExpired:
        return None
    return lines[1] if len(lines) == 3 and lines[0] == "OK" else None


def redis_primary(hosts, password, among=REDIS_HOSTS):
    """The inventory name of the Redis primary every Sentinel of `among`
    names, or None while they disagree or one does not answer."""
    names = {address(hosts[name]): name for name in REDIS_HOSTS}
    answers = {sentinel_answer(hosts[name], password) for name in among}
    if len(answers) != 1 or None in answers:
        return None
    (primary,) = answers
    return names.get(primary)


def replication(host, password):
    """INFO replication of the host's Redis as a mapping."""
    out = redis_cli(host, redis_auth("prefect", password) + "\nINFO replication")
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def scheduled_starts(ca_file, auth, deployment_id):
    """The expected start times of a deployment's runs."""
    runs = https_json(ca_file, "/api/flow_runs/filter",
                      {"deployments": {"id": {"any_": [deployment_id]}}, "limit": 200}, auth)
    return [run["expected_start_time"] for run in runs]


def interval_deployment(ca_file, auth, seconds=600):
    """A deployment on an interval schedule anchored an hour ahead: the
    scheduler fills its next slots, none of which starts during the test."""
    flow = https_json(ca_file, "/api/flows/", {"name": f"molecule-ha-scheduled-{uuid.uuid4().hex[:8]}"}, auth)
    anchor = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    return https_json(ca_file, "/api/deployments/", {
        "name": f"every-{seconds}-s",
        "flow_id": flow["id"],
        "schedules": [{"schedule": {"interval": seconds, "anchor_date": anchor.isoformat()}, "active": True}],
    }, auth)


def completed_run(ca_file, auth):
    """A flow run created and moved RUNNING then COMPLETED; its id."""
    flow = https_json(ca_file, "/api/flows/", {"name": "molecule-ha-probe"}, auth)
    run = https_json(ca_file, "/api/flow_runs/", {"flow_id": flow["id"], "name": f"probe-{uuid.uuid4().hex[:8]}"}, auth)
    for state in ("RUNNING", "COMPLETED"):
        https_json(ca_file, f"/api/flow_runs/{run['id']}/set_state", {"state": {"type": state}}, auth)
    return run["id"]


def event_stored(ca_file, auth, flow_run_id):
    """Whether the event of the run's completion went through Redis (the
    messaging) into the database."""
    found = https_json(ca_file, "/api/events/filter", {
        "filter": {"event": {"name": ["prefect.flow-run.Completed"]},
                   "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]}},
        "limit": 5}, auth)
    return len(found.get("events", [])) > 0


DB_HOSTS = ("db1", "db2", "db3")
DB_CA_FILE = "/etc/ssl/selfhosted-prefect/ca.pem"
PATRONI_PORT = 8008


def patroni(host, path="/cluster", check=True):
    """GET `path` of the host's own Patroni REST API (HTTPS, verified against
    the collection's CA) from the host: the JSON answer, or None."""
    out = host.run(f"curl -sS --max-time 5 --cacert {DB_CA_FILE} https://{address(host)}:{PATRONI_PORT}{path}")
    if out.rc != 0:
        if check:
            raise AssertionError(out.stderr)
        return None
    return json.loads(out.stdout)


def patroni_members(hosts, among=DB_HOSTS):
    """The cluster's members (name, role, state, lag...) as the first of
    `among` whose Patroni answers sees them; [] when none answers."""
    for name in among:
        try:
            answer = patroni(hosts[name], check=False)
        except Exception:  # noqa: BLE001 - the host is down
            answer = None
        if answer and "members" in answer:
            return answer["members"]
    return []


def pg_primary(hosts, among=DB_HOSTS):
    """The name of the cluster's leader, or None while there is none."""
    leaders = [m["name"] for m in patroni_members(hosts, among) if m["role"] == "leader" and m["state"] == "running"]
    return leaders[0] if len(leaders) == 1 else None


def psql(host, sql, database="orion"):
    """Run `sql` as postgres on `host` over its socket; the rows as lines."""
    return host.check_output(f"runuser -u postgres -- psql -X -d {database} -tA -c {shlex.quote(sql)}")


# The cluster's archive_timeout (inventory/group_vars/prefect_db.yml).
ARCHIVE_TIMEOUT = 10


def archive_lag(db, repository, timeout=ARCHIVE_TIMEOUT + 30):
    """Seconds until the repository host's stanza holds the WAL segment the
    primary `db` writes now (every change made so far survives the loss of
    every member), or None after timeout seconds."""
    segment = psql(db, "select pg_walfile_name(pg_current_wal_insert_lsn())", database="postgres")
    asked = time.monotonic()
    archived = wait_for(lambda: ((pgbackrest_info(repository).get("archive") or [{}])[-1].get("max") or "") >= segment,
                        timeout, 0.5)
    return time.monotonic() - asked if archived else None


def etcd_members(host):
    """etcd's members as `host` sees them: {name: [peer URLs]}; a member that
    has not started yet has no name."""
    answer = host.check_output(
        f"etcdctl --endpoints=https://{address(host)}:2379 --cacert={DB_CA_FILE} "
        "--cert=/etc/ssl/selfhosted-prefect/etcd.pem --key=/etc/ssl/selfhosted-prefect/etcd.key "
        "member list -w json")
    return {member.get("name", ""): member["peerURLs"] for member in json.loads(answer)["members"]}


def wait_cluster_whole(hosts, timeout=180):
    """All three members running or streaming, one leader, a sync standby."""
    def whole():
        members = patroni_members(hosts)
        return (len(members) == 3 and all(m["state"] in ("running", "streaming") for m in members)
                and [m["role"] for m in members].count("leader") == 1
                and any(m["role"] == "sync_standby" for m in members))
    return wait_for(whole, timeout, 1)


def active_alerts(monitor):
    """The names of the alerts active in the monitoring host's Alertmanager
    (not silenced, not inhibited)."""
    answer = subprocess.run(
        ["docker", "exec", container(monitor), "curl", "-fsS", "--max-time", "5",
         "http://127.0.0.1:9093/api/v2/alerts?active=true&silenced=false&inhibited=false"],
        capture_output=True, text=True, check=True, timeout=15).stdout
    return {alert["labels"]["alertname"] for alert in json.loads(answer)}


class AlertWatch(threading.Thread):
    """One alert as Alertmanager shows it, read every second from now until
    stop() (a context manager: stopped however the test ends): when it was
    first active (fired) and, after that, gone in two reads in a row
    (resolved, the first of them), as time.time(). It must be inactive when
    the watch starts, so an alert left over from an earlier fault cannot
    count."""

    def __init__(self, monitor, name):
        super().__init__(daemon=True)
        self.monitor, self.name = monitor, name
        self.fired = self.resolved = self._gone_since = None
        self.stopping = threading.Event()
        assert wait_for(lambda: name not in active_alerts(monitor), 120), f"{name} active before the fault"
        self.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def run(self):
        while not self.stopping.wait(1):
            try:
                active = self.name in active_alerts(self.monitor)
            except (subprocess.SubprocessError, ValueError):
                continue  # Alertmanager busy or restarting: the next look counts
            now = time.time()
            if active:
                self.fired = self.fired or now
                self._gone_since = None
            elif self.fired is not None and self.resolved is None:
                if self._gone_since is None:
                    self._gone_since = now
                else:
                    self.resolved = self._gone_since

    def stop(self):
        self.stopping.set()
        self.join()
