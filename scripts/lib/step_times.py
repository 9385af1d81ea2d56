"""Copy Molecule's output through, and at the start and end of each of its
steps (create, converge, idempotence, verify, ...) say so, with the time it
took (scripts/test waits for a scenario's verify to start):

    molecule test -s default 2>&1 | python3 -u scripts/lib/step_times.py

Molecule names a step's start and end ("default ➜ converge: Executing",
"... Executed: Successful") but not the time.
"""
from __future__ import annotations

import re
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STEP = re.compile(r"(\S+) ➜ (\w+): (Executing|Executed)")


def follow(lines, out, clock=time.monotonic):
    """Write each line to out; at a step's start a line saying so, after
    its end a line with its time."""
    started = {}
    for line in lines:
        out.write(line)
        match = STEP.search(ANSI.sub("", line))
        if not match:
            continue
        scenario, step, what = match.groups()
        if what == "Executing":
            if step not in started:
                started[step] = clock()
                out.write(f"==> {scenario} step {step} started\n")
        elif step in started:
            out.write(f"==> {scenario} step {step} took {clock() - started.pop(step):.0f} s\n")
        out.flush()


if __name__ == "__main__":
    follow(sys.stdin, sys.stdout)
