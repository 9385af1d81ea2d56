"""benchmarks/bench_cluster.py, run against this scenario's converged
containers (--existing: it converges and destroys nothing) with tiny figures
(--smoke), so the benchmark cannot rot while scripts/benchmark is not run.
It disables api2 in HAProxy for a while and starts a SQLite server on
client1: the cluster_serving fixture waits until both API hosts serve again.
"""

import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "bench_cluster.py"


@pytest.mark.machine_to_itself
@pytest.mark.usefixtures("cluster_serving")
def test_bench_cluster_smoke_prints_its_ratios():
    result = subprocess.run([sys.executable, str(BENCH), "--existing", "--smoke"],
                            capture_output=True, text=True, check=False, timeout=600)
    print("\n" + result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for side in ("cluster, 2 API hosts", "cluster, 1 API host", "default server, SQLite"):
        assert any(line.startswith(side) and " runs/s " in line for line in result.stdout.splitlines()), side
    assert "2 API hosts / 1 API host, goodput:" in result.stdout
    assert "cluster (2 hosts) / default SQLite:" in result.stdout
