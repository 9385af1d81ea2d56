#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time 20 settings set by one selfhosted.prefect.prefect_config task against
20 `prefect config set` calls (what a runbook that loops over keys does).

Each pair runs three sides one after the other, each on its own fresh copy
of the same profiles.toml (the profile `bench`, active and empty):

* playbook: one `ansible-playbook` run with the prefect_config task, what an
  operator waits for;
* module: the prefect_config module as the managed host runs it, without
  ansible-playbook's start-up: the cost of the task itself;
* cli: 20 calls of `prefect --profile bench config set KEY=VALUE`.

The script checks that all three files end up equal, then prints each pair's
times and ratios, and the min, median and max of the ratios. Run (from the
repository root):

    source scripts/lib/host.sh && ensure_venv && ensure_prefect_venv
    python benchmarks/bench_config_set.py [--pairs N]

(scripts/benchmark does both.) --smoke runs one pair of 3 settings without
the warm-up, to prove the script still works (the unit stage of scripts/test
runs it so); its figures mean nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFECT_BIN = os.environ.get("PREFECT_BIN")
PROFILE = "bench"
SMOKE_SETTINGS = 3
SEED = 'active = "%s"\n\n[profiles.%s]\n' % (PROFILE, PROFILE)

# 20 settings, values as YAML would type them in a task.
SETTINGS = {
    "PREFECT_SERVER_API_HOST": "0.0.0.0",
    "PREFECT_SERVER_API_PORT": 4202,
    "PREFECT_SERVER_API_BASE_PATH": "/prefect",
    "PREFECT_SERVER_API_KEEPALIVE_TIMEOUT": 10,
    "PREFECT_SERVER_API_DEFAULT_LIMIT": 150,
    "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": True,
    "PREFECT_SERVER_UI_ENABLED": True,
    "PREFECT_SERVER_UI_API_URL": "http://prefect.example.com:4202/api",
    "PREFECT_SERVER_UI_SERVE_BASE": "/ui",
    "PREFECT_SERVER_ANALYTICS_ENABLED": False,
    "PREFECT_SERVER_LOGGING_LEVEL": "INFO",
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": 10,
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": 20,
    "PREFECT_SERVER_DATABASE_TIMEOUT": 10.0,
    "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": False,
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": True,
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": True,
    "PREFECT_API_URL": "http://prefect.example.com:4202/api",
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_API_REQUEST_TIMEOUT": 60.0,
}


def cli_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected(settings):
    """profiles.toml as every side must leave it."""
    return {"active": PROFILE, "profiles": {PROFILE: {key: cli_string(value) for key, value in settings.items()}}}


def clean_env(home=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANSIBLE_CALLBACK"))}
    if home:
        env["PREFECT_HOME"] = home
    return env


def timed(commands, env, cwd):
    """Seconds the commands take, run one after the other."""
    start = time.perf_counter()
    for command in commands:
        subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def run_playbook(workdir, home, settings):
    book = os.path.join(workdir, "play.yml")
    with open(book, "w") as handle:
        json.dump([{
            "hosts": "localhost", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": [{"selfhosted.prefect.prefect_config": {"prefect_home": home, "profile": PROFILE,
                                                             "settings": settings}}],
        }], handle)
    env = clean_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".cache", "collections")
    env["ANSIBLE_LOCALHOST_WARNING"] = "false"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "false"
    env["ANSIBLE_PIPELINING"] = "true"  # one process per task on localhost, no module file copied
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return timed([[playbook, "-i", "localhost,", "-c", "local", book]], env, workdir)


def run_module_alone(workdir, home, settings):
    args = os.path.join(workdir, "args.json")
    with open(args, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"prefect_home": home, "profile": PROFILE, "settings": settings}}, handle)
    env = clean_env()
    env["PYTHONPATH"] = os.path.join(REPO, ".cache", "collections")
    module = "ansible_collections.selfhosted.prefect.plugins.modules.prefect_config"
    return timed([[sys.executable, "-m", module, args]], env, workdir)


def cli_calls(settings):
    return [[PREFECT_BIN, "--profile", PROFILE, "config", "set", "%s=%s" % (key, cli_string(value))]
            for key, value in settings.items()]


def run_cli(workdir, home, settings):
    return timed(cli_calls(settings), clean_env(home), workdir)


SIDES = (("playbook", run_playbook), ("module", run_module_alone), ("cli", run_cli))


def fresh_home(workdir, side):
    """A PREFECT_HOME holding a fresh copy of the seed profiles.toml."""
    home = os.path.join(workdir, side)
    os.makedirs(home)
    with open(os.path.join(home, "profiles.toml"), "w") as handle:
        handle.write(SEED)
    return home


def run_side(side, run, settings):
    """Seconds one side takes from a fresh home; exits if it did not reach expected(settings)."""
    with tempfile.TemporaryDirectory(prefix="bench-config-set-") as workdir:
        home = fresh_home(workdir, side)
        seconds = run(workdir, home, settings)
        with open(os.path.join(home, "profiles.toml"), "rb") as handle:
            reached = tomllib.load(handle)
    if reached != expected(settings):
        sys.exit("%s side left a file that differs from the expected settings: %r" % (side, reached))
    return seconds


def run_pair(index, settings):
    """One pair: every side back to back, so a ratio compares runs made under
    the same load; the order alternates so that no side always runs first."""
    order = SIDES if index % 2 == 0 else SIDES[::-1]
    return {side: run_side(side, run, settings) for side, run in order}


def warm_up(settings):
    """One untimed run of each program, so the first pair does not pay for a
    cold page cache on one side only."""
    with tempfile.TemporaryDirectory(prefix="bench-config-set-") as workdir:
        run_playbook(workdir, fresh_home(workdir, "playbook"), settings)
        run_module_alone(workdir, fresh_home(workdir, "module"), settings)
        timed(cli_calls(settings)[:1], clean_env(fresh_home(workdir, "cli")), workdir)


def spread(values):
    return "min %6.1fx  median %6.1fx  max %6.1fx" % (min(values), statistics.median(values), max(values))


def report(pairs, settings):
    print("settings: %d, set in profile '%s' from the same fresh profiles.toml on every side; "
          "all files checked equal" % (len(settings), PROFILE))
    print("pairs: %d, sides run back to back, order alternating\n" % len(pairs))
    print("pair  playbook  module  CLI (%d calls)  CLI/playbook  CLI/module" % len(settings))
    for number, times in enumerate(pairs, 1):
        print("%4d  %6.2f s  %4.2f s  %12.2f s  %11.1fx  %9.1fx" % (
            number, times["playbook"], times["module"], times["cli"],
            times["cli"] / times["playbook"], times["cli"] / times["module"]))
    cli_call = statistics.median(times["cli"] for times in pairs) / len(settings)
    print("\nmedian of one prefect config set call: %.2f s" % cli_call)
    print("ratio CLI calls / whole ansible-playbook run: %s" % spread([t["cli"] / t["playbook"] for t in pairs]))
    print("ratio CLI calls / prefect_config module run:  %s" % spread([t["cli"] / t["module"] for t in pairs]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=5, help="pairs to run side by side (default: 5)")
    parser.add_argument("--smoke", action="store_true",
                        help="one pair of %d settings, no warm-up: proves the script works, measures nothing"
                        % SMOKE_SETTINGS)
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    if not PREFECT_BIN:
        sys.exit("PREFECT_BIN is not set: source scripts/lib/host.sh && ensure_prefect_venv")
    if args.smoke:
        settings = dict(list(SETTINGS.items())[:SMOKE_SETTINGS])
        report([run_pair(0, settings)], settings)
        return
    warm_up(SETTINGS)
    report([run_pair(index, SETTINGS) for index in range(args.pairs)], SETTINGS)


if __name__ == "__main__":
    main()
