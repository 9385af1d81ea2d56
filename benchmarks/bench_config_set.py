#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time 20 settings set by one selfhosted.prefect.prefect_config task against
20 `prefect config set` calls (what a runbook that loops over keys does).

Both run in the same invocation on separate, fresh PREFECT_HOMEs; the script
checks that both files end up holding the same 20 settings, then prints both
times and the ratio. Run (from the repository root):

    source scripts/lib/host.sh && ensure_venv && ensure_prefect_venv
    python benchmarks/bench_config_set.py [ROUNDS]

The module time is that of one whole `ansible-playbook` run (startup, one
prefect_profile task and one prefect_config task), so it is what an operator waits for.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = "bench"

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


def clean_env(home=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ANSIBLE_CALLBACK"))}
    if home:
        env["PREFECT_HOME"] = home
    return env


def run_module(workdir, home):
    book = os.path.join(workdir, "play.yml")
    with open(book, "w") as handle:
        json.dump([{
            "hosts": "localhost", "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": [
                {"selfhosted.prefect.prefect_profile": {"prefect_home": home, "name": PROFILE, "active": True}},
                {"selfhosted.prefect.prefect_config": {"prefect_home": home, "profile": PROFILE,
                                                       "settings": SETTINGS}},
            ],
        }], handle)
    env = clean_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".cache", "collections")
    env["ANSIBLE_LOCALHOST_WARNING"] = "false"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "false"
    env["ANSIBLE_PIPELINING"] = "true"  # one process per task on localhost, no module file copied
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    start = time.perf_counter()
    subprocess.run([playbook, "-i", "localhost,", "-c", "local", book], env=env, cwd=workdir,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def run_module_alone(workdir, home):
    """The prefect_config module as the managed host runs it, without
    ansible-playbook's start-up: the cost of the task itself."""
    os.makedirs(home)
    with open(os.path.join(home, "profiles.toml"), "w") as handle:
        handle.write('active = "%s"\n\n[profiles.%s]\n' % (PROFILE, PROFILE))
    args = os.path.join(workdir, "args.json")
    with open(args, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"prefect_home": home, "profile": PROFILE, "settings": SETTINGS}}, handle)
    env = clean_env()
    env["PYTHONPATH"] = os.path.join(REPO, ".cache", "collections")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ansible_collections.selfhosted.prefect.plugins.modules.prefect_config", args],
                   env=env, cwd=workdir, check=True, capture_output=True)
    return time.perf_counter() - start


def run_cli(prefect_bin, workdir, home):
    env = clean_env(home)
    start = time.perf_counter()
    subprocess.run([prefect_bin, "profile", "create", PROFILE], env=env, cwd=workdir, check=True, capture_output=True)
    # `profile use` saves the switch, then exits non-zero because no server answers.
    subprocess.run([prefect_bin, "profile", "use", PROFILE], env=env, cwd=workdir, capture_output=True, check=False)
    for key, value in SETTINGS.items():
        subprocess.run([prefect_bin, "--profile", PROFILE, "config", "set", "%s=%s" % (key, cli_string(value))],
                       env=env, cwd=workdir, check=True, capture_output=True)
    return time.perf_counter() - start


def profile_of(home):
    with open(os.path.join(home, "profiles.toml"), "rb") as handle:
        return tomllib.load(handle)["profiles"][PROFILE]


def main():
    prefect_bin = os.environ.get("PREFECT_BIN")
    if not prefect_bin:
        sys.exit("PREFECT_BIN is not set: source scripts/lib/host.sh && ensure_prefect_venv")
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    module_times, alone_times, cli_times = [], [], []
    for dummy in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-config-set-") as workdir:
            module_home = os.path.join(workdir, "module-home")
            cli_home = os.path.join(workdir, "cli-home")
            alone_home = os.path.join(workdir, "alone-home")
            module_times.append(run_module(workdir, module_home))
            alone_times.append(run_module_alone(workdir, alone_home))
            cli_times.append(run_cli(prefect_bin, workdir, cli_home))

            expected = {key: cli_string(value) for key, value in SETTINGS.items()}
            by_cli = profile_of(cli_home)
            for home in (module_home, alone_home):
                if profile_of(home) != expected:
                    sys.exit("module file differs from the expected settings: %r" % profile_of(home))
            if by_cli != expected:
                sys.exit("CLI file differs from the expected settings: %r" % by_cli)
    module_seconds = sorted(module_times)[len(module_times) // 2]
    alone_seconds = sorted(alone_times)[len(alone_times) // 2]
    cli_seconds = sorted(cli_times)[len(cli_times) // 2]

    print("rounds: %d (median times)" % rounds)
    print("settings: %d, identical in both files" % len(SETTINGS))
    print("one prefect_config task (ansible-playbook): %6.2f s" % module_seconds)
    print("%d x prefect config set (+ profile create/use): %6.2f s (%.2f s a call)" % (
        len(SETTINGS), cli_seconds, cli_seconds / (len(SETTINGS) + 2)))
    print("the prefect_config module alone (no ansible-playbook start-up): %6.2f s" % alone_seconds)
    print("ratio: %.1fx (whole playbook run vs CLI calls)" % (cli_seconds / module_seconds))
    print("ratio: %.1fx (module run vs CLI calls)" % (cli_seconds / alone_seconds))


if __name__ == "__main__":
    main()
