"""Smoke runs of the benchmarks that need converged hosts.

benchmarks/bench_noop_converge.sh --smoke against multi1, which the
converge left in sync (one host with PostgreSQL, the server and the client,
as the benchmark's own containers have): one round of no-op converges, so the
benchmark cannot rot while scripts/benchmark is not run. It changes nothing
on the host."""

import os
import pathlib
import re
import subprocess
import sys

BENCH = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "bench_noop_converge.sh"


def test_bench_noop_converge_smoke_prints_its_ratio(inventory):
    # No drift report of these converges among the ones test_drift.py reads.
    env = {key: value for key, value in os.environ.items() if key != "ANSIBLE_CALLBACKS_ENABLED"}
    result = subprocess.run(["bash", str(BENCH), "--smoke", inventory, "multi1"],
                            capture_output=True, text=True, check=False, env=env, timeout=900)
    print("\n" + result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for side in ("before", "after"):
        assert re.search(rf"^round 1  {side} \(\w+\): [\d.]+ s, \d+ tasks$", result.stdout, re.M), side
    assert re.search(r"^no-op converge, median of 1: before [\d.]+ s, after [\d.]+ s, ratio [\d.]+x$",
                     result.stdout, re.M)


FLEET = BENCH.parent / "bench_fleet_audit.py"


def test_bench_fleet_audit_smoke_prints_the_growth_per_host(inventory):
    """benchmarks/bench_fleet_audit.py --smoke: the drift report's process
    audit alone on client1, then on client1 and worker1, both in sync."""
    result = subprocess.run([sys.executable, str(FLEET), "--smoke", inventory, "client1,worker1"],
                            capture_output=True, text=True, check=False, timeout=600)
    print("\n" + result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for size in (1, 2):
        assert re.search(rf"^audit +{size} host\(s\): +[\d.]+ s, +[\d.]+ s per host, \d+ to \d+ processes per host$",
                         result.stdout, re.M), size
    assert re.search(r"^audit: per host, 2 hosts cost [\d.]+x what 1 host\(s\) cost", result.stdout, re.M)
