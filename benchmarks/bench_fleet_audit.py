#!/usr/bin/env python
"""The drift report over a fleet of client hosts: its process audit alone
(--tags process_audit) and the whole report (the client role's check plus the
audit), on 1, 10 and 30 hosts in one run, printing seconds per host and how the
cost per host grows from the smallest fleet to the largest.

Each host is a systemd container made from one converged client: the Prefect
venv and a hosted profile (prefect_client), plus the contexts an on-prem client
runs Prefect from, so each host has four to audit: root's shell, a user whose
login exports PREFECT_API_URL, a oneshot unit with its URL in an
EnvironmentFile=, and a cron job that cds into a directory holding a
prefect.toml. Every one of them is hosted, so every report must exit 0. The API
is not reachable (prefect.invalid): the audit's probe answers at once, and no
server's speed is measured.

    benchmarks/bench_fleet_audit.py [--sizes 1,10,30] [--forks 5]
    benchmarks/bench_fleet_audit.py --smoke INVENTORY HOST[,HOST...]

About 12 minutes with the default sizes (scripts/benchmark fleet_audit). --smoke
runs the audit alone once on the first host and once on all the given hosts
of an inventory that exists (the default scenario's verify runs it on client1
and worker1): it proves the script works, and its figures mean nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
IMAGE = "selfhosted-prefect/debian:12"
FLEET_IMAGE = "selfhosted-prefect/fleet-client:bench"
NETWORK_SCENARIO = "fleet"
AUDIT_TAGS = ["--tags", "process_audit"]

# The contexts every fleet host has besides root's profile (run in the seed).
CONTEXTS = r"""
set -e
useradd --create-home --shell /bin/bash analyst
printf 'export PREFECT_API_URL=https://prefect.invalid:4200/api\n' >> /home/analyst/.profile
install -d -m 0755 /srv/etl /etc/etl
printf '[api]\nurl = "https://prefect.invalid:4200/api"\n' > /srv/etl/prefect.toml
printf 'PREFECT_API_URL="https://prefect.invalid:4200/api"\nPREFECT_API_AUTH_STRING="etl:bench secret"\n' > /etc/etl/api.env
chmod 0600 /etc/etl/api.env
cat > /etc/systemd/system/etl-report.service <<'EOF'
[Service]
Type=oneshot
EnvironmentFile=/etc/etl/api.env
Environment=PREFECT_HOME=/var/lib/etl
ExecStart=/opt/prefect-client/bin/prefect deployment run etl/report
EOF
printf '0 6 * * * analyst cd /srv/etl && /opt/prefect-client/bin/prefect deployment run etl/daily\n' > /etc/cron.d/etl
systemctl daemon-reload
"""

CLIENT_VARS = {
    "prefect_client_profiles": [{"name": "hosted", "api_url": "https://prefect.invalid:4200/api",
                                 "auth_string": "bench:not a real secret"}],
    "prefect_client_active_profile": "hosted",
    "prefect_client_check_api": False,
    "prefect_venv_ca_bundle_src": os.environ.get("HOST_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"),
    "prefect_venv_wheel_dir": "/srv/prefect-wheels" if os.environ.get("SELFHOSTED_PREFECT_WHEELHOUSE") else "",
    "prefect_venv_index_url": os.environ.get("MOLECULE_PIP_INDEX_URL", ""),
}


def run(args, env=None, check=True):
    started = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, check=False, cwd=REPO,
                            env=dict(os.environ, ANSIBLE_FORCE_COLOR="false", **(env or {})))
    if check and result.returncode != 0:
        sys.exit("%s failed (%d):\n%s\n%s" % (" ".join(args[:3]), result.returncode, result.stdout[-4000:],
                                              result.stderr[-2000:]))
    return result, time.monotonic() - started


def collections_path(work):
    """This checkout as the collection selfhosted.prefect, then the controller's collections."""
    link = work / "collections" / "ansible_collections" / "selfhosted"
    link.mkdir(parents=True)
    (link / "prefect").symlink_to(REPO)
    site = subprocess.check_output([sys.executable, "-c", "import ansible_collections, os; "
                                    "print(os.path.dirname(list(ansible_collections.__path__)[0]))"], text=True)
    return "%s:%s" % (work / "collections", site.strip())


def inventory(work, hosts):
    """hosts.yml: the hosts in prefect_client, reached through Docker."""
    path = work / "hosts.yml"
    path.write_text(json.dumps({"prefect_client": {
        "hosts": {host: {"ansible_connection": "community.docker.docker"} for host in hosts},
        "vars": CLIENT_VARS}}))
    return str(path)


def create(work, names, image):
    platforms = [{"name": name, "image": image} for name in names]
    run(["ansible-playbook", "molecule/shared/create.yml",
         "-e", json.dumps({"molecule_yml": {"platforms": platforms}})],
        env={"MOLECULE_SCENARIO_NAME": NETWORK_SCENARIO, "ANSIBLE_LOCALHOST_WARNING": "false"})


INOTIFY_INSTANCES = pathlib.Path("/proc/sys/fs/inotify/max_user_instances")


def allow_inotify_instances(containers):
    """Each container's systemd takes a few inotify instances, all counted to
    root: 30 of them outgrow Linux's default of 128 ("Failed to create
    inotify object: Too many open files", their boot degraded)."""
    needed = 128 + 16 * containers
    current = int(INOTIFY_INSTANCES.read_text())
    if current < needed:
        INOTIFY_INSTANCES.write_text(str(needed))
        print("fs.inotify.max_user_instances raised from %d to %d for %d containers" % (current, needed, containers))
    return current


def build_fleet_image(work, env):
    create(work, ["fleet-seed"], IMAGE)
    run(["ansible-playbook", "-i", inventory(work, ["fleet-seed"]), "selfhosted.prefect.site"], env=env)
    run(["docker", "exec", "fleet-seed", "bash", "-c", CONTEXTS])
    run(["docker", "commit", "fleet-seed", FLEET_IMAGE])
    run(["docker", "rm", "-f", "fleet-seed"])


def drift_report(inventory_path, hosts, env, work, audit_only, forks):
    """One drift report over the hosts; (seconds, processes per host)."""
    report_dir = tempfile.mkdtemp(dir=work, prefix="report-")
    args = ["ansible-playbook", "-i", inventory_path, "selfhosted.prefect.drift_report", "--check", "--diff",
            "--forks", str(forks), "--limit", ",".join(hosts + ["localhost"])] + (AUDIT_TAGS if audit_only else [])
    result, seconds = run(args, env=dict(env, ANSIBLE_CALLBACKS_ENABLED="selfhosted.prefect.drift_report",
                                         SELFHOSTED_PREFECT_DRIFT_REPORT_DIR=report_dir), check=False)
    summary = json.loads((pathlib.Path(report_dir) / "summary.json").read_text())
    if result.returncode != 0 or sorted(summary["hosts"]) != sorted(hosts):
        sys.exit("the report of %d host(s) failed (%d): %s\n%s" % (
            len(hosts), result.returncode, result.stdout[-3000:], result.stderr[-2000:]))
    processes = [len(json.loads((pathlib.Path(report_dir) / ("%s.json" % host)).read_text())["processes"])
                 for host in hosts]
    return seconds, processes


def measure(inventory_path, all_hosts, sizes, env, work, forks, kinds):
    figures = {}
    for size in sizes:
        hosts = all_hosts[:size]
        for kind in kinds:
            seconds, processes = drift_report(inventory_path, hosts, env, work, kind == "audit", forks)
            figures[(kind, size)] = seconds
            print("%-6s %3d host(s): %7.1f s, %5.2f s per host, %d to %d processes per host"
                  % (kind, size, seconds, seconds / size, min(processes), max(processes)), flush=True)
    for kind in kinds:
        small, large = sizes[0], sizes[-1]
        ratio = (figures[(kind, large)] / large) / (figures[(kind, small)] / small)
        print("%s: per host, %d hosts cost %.2fx what %d host(s) cost (%.2f s against %.2f s)"
              % (kind, large, ratio, small, figures[(kind, large)] / large, figures[(kind, small)] / small))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,30")
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--smoke", nargs=2, metavar=("INVENTORY", "HOSTS"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as directory:
        work = pathlib.Path(directory)
        env = {"ANSIBLE_COLLECTIONS_PATH": collections_path(work), "ANSIBLE_HOST_KEY_CHECKING": "false"}
        if args.smoke:
            hosts = args.smoke[1].split(",")
            print("smoke: the audit alone on %s, forks %d; the figures mean nothing" % (", ".join(hosts), args.forks))
            measure(args.smoke[0], hosts, sorted({1, len(hosts)}), env, work, args.forks, ["audit"])
            return
        sizes = sorted(int(size) for size in args.sizes.split(","))
        names = ["fleet-%03d" % number for number in range(sizes[-1])]
        inotify_instances = allow_inotify_instances(len(names) + 1)
        try:
            build_fleet_image(work, env)
            create(work, names, FLEET_IMAGE)
            print("fleet: %d client hosts (one converged client, committed), forks %d" % (len(names), args.forks))
            measure(inventory(work, names), names, sizes, env, work, args.forks, ["audit", "report"])
        finally:
            subprocess.run(["docker", "rm", "-f", "fleet-seed"] + names, capture_output=True, check=False)
            subprocess.run(["docker", "network", "rm", "prefect-" + NETWORK_SCENARIO], capture_output=True,
                           check=False)
            INOTIFY_INSTANCES.write_text(str(inotify_instances))  # the host as it was


if __name__ == "__main__":
    main()
