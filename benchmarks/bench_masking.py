#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time the masking of passwords in URL-shaped setting values
(profiles_toml.url_password_spans, which redact and secret_values use)
against the regular expression it replaced, on values of growing size.

The regular expression backtracked over long runs of letters: a 64 KiB
value took 16 to 23 s per module call. For each shape of value and each
size the script runs both, checks they find the same passwords, and prints
both times and their ratio, then how much each time grows when the value
grows 4 times: about 4 for a linear pass, about 16 for a quadratic one.
Run (from the repository root):

    source scripts/lib/host.sh && ensure_venv
    python benchmarks/bench_masking.py

(scripts/benchmark masking does both.) --smoke runs the smallest size only,
to prove the script still works; its figures mean nothing.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".cache", "collections"))

from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import (  # noqa: E402
    url_password_spans,
)

FORMER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:(?P<password>[^@\s]*)@")
# Values an operator or a careless template may hand a module.
SHAPES = {
    "one long word": lambda size: "a" * size,
    "URLs without @": lambda size: ("a://u:" * size)[:size],
    "URLs with passwords": lambda size: ("a://u:p@h " * size)[:size],
}


def timed(function, value):
    started = time.perf_counter()
    found = function(value)
    return time.perf_counter() - started, found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one small size, to prove the script runs")
    args = parser.parse_args()
    sizes = [1024, 4096] if args.smoke else [4096, 16384, 65536]
    print("%-20s %8s %12s %12s %10s" % ("value", "size", "former s", "now s", "former/now"))
    for shape, make in SHAPES.items():
        times = []
        for size in sizes:
            value = make(size)
            former, expected = timed(lambda v: [m.span("password") for m in FORMER.finditer(v)], value)
            now, found = timed(url_password_spans, value)
            if found != expected:
                sys.exit("url_password_spans and the former expression disagree on %s of %d characters"
                         % (shape, size))
            times.append((former, now))
            print("%-20s %8d %12.4f %12.4f %10.1f" % (shape, size, former, now, former / max(now, 1e-9)))
        (former_small, now_small), (former_large, now_large) = times[-2], times[-1]
        print("%-20s growth when the value grows 4 times: former %.1f, now %.1f" % (
            shape, former_large / max(former_small, 1e-9), now_large / max(now_small, 1e-9)))


if __name__ == "__main__":
    main()
