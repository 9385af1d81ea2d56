#!/usr/bin/env python
"""Goodput of the clustered server against one API host and against Prefect's
default single SQLite server, measured side by side in one run.

Converges the Molecule scenario `ha` (db1, api1, api2, lb1, client1), then
puts the same load (benchmarks/prefect_load.py: --clients clients, each
creating flow runs and moving them RUNNING then COMPLETED) on:

  1. the cluster through lb1 over HTTPS, both API hosts in HAProxy;
  2. the same with api2 disabled in HAProxy (one API host, same path);
  3. a default `prefect server start` (SQLite, services in-process) on
     client1, over plain HTTP.

For each it prints goodput, latency, errors, and the CPU the Prefect
containers used (api1 and api2, or client1; their cgroups' CPU time, so busy
cores = CPU seconds / wall seconds; PostgreSQL, Redis and HAProxy on db1 and
lb1 not counted), then the ratios. Every container shares this host's cores
with the load generator: see docs/cluster.md for what the figures mean.

    python3 benchmarks/bench_cluster.py [--seconds 20] [--clients 32] [--keep]
    python3 benchmarks/bench_cluster.py --existing [--smoke]

Run it with scripts/benchmark, or from its environment (scripts/lib/host.sh:
the images, the wheelhouse, HOST_CA_BUNDLE); it destroys the scenario unless
--keep. --existing measures the scenario's containers as they are, converging
and destroying nothing (the ha scenario's verify runs it so, with --smoke:
2 s of load from 4 clients per side, to prove the script still works, not to
measure).
"""

import argparse
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from prefect_load import run_load  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
LB_URL = "https://127.0.0.1:8443/api"
SQLITE_UNIT = "bench-sqlite-server"
CLIENT_PREFECT = "/opt/prefect-client/bin/prefect"
# The basic auth the ha scenario's cluster asks for, from its inventory.
SCENARIO_VARS = ROOT / "molecule" / "shared" / "inventory" / "group_vars" / "all.yml"


def container(host):
    """The ha scenario's container of an inventory host (its ansible_host)."""
    return f"ha-{host}"


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout.strip()


def molecule(action):
    subprocess.run(["molecule", action, "-s", "ha"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def cpu_seconds(hosts):
    """CPU seconds the given hosts' containers have used so far, from their
    cgroup (v1 cpuacct or v2 cpu.stat): whole containers, since systemd in
    them cannot account per unit on every host."""
    total = 0.0
    for host in hosts:
        cid = sh("docker", "inspect", "-f", "{{.Id}}", container(host))
        v1 = pathlib.Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        v2 = pathlib.Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat")
        if v1.exists():
            total += int(v1.read_text()) / 1e9
        elif v2.exists():
            usage = dict(line.split() for line in v2.read_text().splitlines())
            total += int(usage["usage_usec"]) / 1e6
        else:
            raise SystemExit(f"no CPU accounting found for {container(host)} ({v1} or {v2})")
    return total


def haproxy(command):
    """A command on lb1's admin socket (the role's, level admin)."""
    script = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
              "s.sendall(sys.argv[1].encode()+b'\\n'); chunks=iter(lambda: s.recv(65536), b''); "
              "print(b''.join(chunks).decode())")
    return sh("docker", "exec", container("lb1"), "python3", "-c", script, command)


def wait_up(servers, timeout=120):
    """Wait until HAProxy reports exactly these API hosts UP."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [line.split(",") for line in haproxy("show stat").splitlines() if line.startswith("prefect_default,")]
        if {row[1] for row in rows if row[17] == "UP"} - {"BACKEND"} == set(servers):
            return
        time.sleep(1)
    raise SystemExit(f"HAProxy did not report {servers} UP in {timeout} s")


def measure(title, url, containers, clients, seconds, ca_file=None, auth_string=""):
    """Load url; report goodput and the busy cores of the Prefect containers
    and, apart, of db1 (PostgreSQL and Redis) and lb1 (HAProxy)."""
    others = [name for name in ("db1", "lb1") if name not in containers]
    before = {name: cpu_seconds([name]) for name in containers + others}
    summary = run_load(url, clients=clients, duration=seconds, ca_file=ca_file, auth_string=auth_string)
    used = {name: (cpu_seconds([name]) - before[name]) / summary["seconds"] for name in before}
    busy = sum(used[name] for name in containers)
    summary.update(title=title, busy_cores=round(busy, 2), db_cores=round(used["db1"], 2),
                   runs_per_busy_core=round(summary["goodput_runs_per_s"] / busy, 2) if busy else None)
    print(f"{title:<24} {summary['goodput_runs_per_s']:>6.2f} runs/s  p50 {summary['latency_p50_ms']:>6} ms  "
          f"p95 {summary['latency_p95_ms']:>6} ms  errors {summary['error_count']:>5}  "
          f"Prefect CPU {busy:.2f} cores ({summary['runs_per_busy_core']} runs/s per core)  "
          f"db1 {used['db1']:.2f}  lb1 {used['lb1']:.2f} cores", flush=True)
    return summary


def wait_healthy(url, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not become healthy in {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="leave the scenario's containers running")
    parser.add_argument("--existing", action="store_true",
                        help="measure the running, converged ha containers; converge and destroy nothing")
    parser.add_argument("--smoke", action="store_true",
                        help="2 s of load from 4 clients per side: proves the script works, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.clients = 2, 4

    if args.existing:
        print(f"measuring the running ha scenario ({socket.gethostname()})", flush=True)
    else:
        print(f"converging the ha scenario (2 cores shared by 5 containers and the load generator; "
              f"{socket.gethostname()})", flush=True)
        molecule("converge")
    auth = yaml.safe_load(SCENARIO_VARS.read_text())["vault_prefect_auth_string"]
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca:
            ca.write(sh("docker", "exec", container("lb1"), "cat", "/etc/ssl/selfhosted-prefect/ca.pem"))
            ca.flush()
            cluster_units = ["api1", "api2"]
            wait_up(["api1", "api2"])
            two = measure("cluster, 2 API hosts", LB_URL, cluster_units, args.clients, args.seconds, ca.name, auth)
            haproxy("disable server prefect_default/api2")
            try:
                wait_up(["api1"])
                one = measure("cluster, 1 API host", LB_URL, cluster_units, args.clients, args.seconds, ca.name,
                              auth)
            finally:
                haproxy("enable server prefect_default/api2")

        # Prefect's default: SQLite under PREFECT_HOME, services in-process.
        sh("docker", "exec", container("client1"), "systemd-run", f"--unit={SQLITE_UNIT}", "--collect",
           "--setenv=PREFECT_HOME=/var/tmp/bench-sqlite", "--setenv=PREFECT_SERVER_ANALYTICS_ENABLED=false",
           CLIENT_PREFECT, "server", "start", "--host", "0.0.0.0", "--port", "4300")
        # client1's host firewall lets nothing in: a rule for the measurement,
        # then the declared table again (prefect_firewall's file).
        sh("docker", "exec", container("client1"), "nft", "add", "rule", "inet", "selfhosted_prefect", "input",
           "tcp", "dport", "4300", "accept")
        try:
            address = sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                         container("client1"))
            sqlite_url = f"http://{address}:4300/api"
            wait_healthy(sqlite_url)
            sqlite = measure("default server, SQLite", sqlite_url, ["client1"],
                             args.clients, args.seconds)
        finally:
            sh("docker", "exec", container("client1"), "systemctl", "stop", SQLITE_UNIT, check=False)
            sh("docker", "exec", container("client1"), "nft", "-f", "/etc/nftables.d/selfhosted-prefect.nft", check=False)
    finally:
        if not (args.keep or args.existing):
            molecule("destroy")

    def ratio(a, b):
        return f"{a / b:.2f}x" if b else "n/a (no run completed)"

    print(f"2 API hosts / 1 API host, goodput:      {ratio(two['goodput_runs_per_s'], one['goodput_runs_per_s'])}")
    print(f"cluster (2 hosts) / default SQLite:     {ratio(two['goodput_runs_per_s'], sqlite['goodput_runs_per_s'])} "
          f"(SQLite errors: {sqlite['error_count']} of {sqlite['requests']} requests)")
    print(f"runs/s per busy Prefect core, 2 hosts / 1 host: "
          f"{ratio(two['runs_per_busy_core'] or 0, one['runs_per_busy_core'] or 0)}")
    if two["goodput_runs_per_s"] and two["runs_per_busy_core"]:
        print(f"PostgreSQL and Redis (db1) per run/s: {two['db_cores'] / two['goodput_runs_per_s'] * 1000:.1f} millicores; "
              f"API per run/s: {1000 / two['runs_per_busy_core']:.1f} millicores")


if __name__ == "__main__":
    main()
