# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/bench_config_set.py --smoke (one pair of three settings) and
bench_masking.py --smoke (small values), so these benchmarks cannot rot while scripts/benchmark is not run (its figures are not
looked at). The ha and drift Molecule scenarios run the other benchmarks'
smoke modes against their containers."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
BENCH = BENCHMARKS / "bench_config_set.py"


@pytest.mark.skipif(not os.environ.get("PREFECT_BIN"),
                    reason="PREFECT_BIN is not set (source scripts/lib/host.sh and run ensure_prefect_venv)")
def test_bench_config_set_smoke_prints_its_ratios():
    result = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, check=False,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "settings: 3, set in profile 'bench'" in result.stdout
    assert re.search(r"^   1 +[\d.]+ s +[\d.]+ s +[\d.]+ s +[\d.]+x +[\d.]+x$", result.stdout, re.M), result.stdout
    for ratio in ("CLI calls / whole ansible-playbook run", "CLI calls / prefect_config module run"):
        assert re.search(rf"^ratio {ratio}: +min +[\d.]+x +median +[\d.]+x +max +[\d.]+x$", result.stdout, re.M), ratio


def test_bench_masking_smoke_prints_its_ratios():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "bench_masking.py"), "--smoke"], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for shape in ("one long word", "URLs without @", "URLs with passwords"):
        assert re.search(rf"^{shape} +4096 +[\d.]+ +[\d.]+ +[\d.]+$", result.stdout, re.M), result.stdout
        assert re.search(rf"^{shape} +growth when the value grows 4 times: former [\d.]+, now [\d.]+$",
                         result.stdout, re.M), result.stdout
