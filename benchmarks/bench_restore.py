#!/usr/bin/env python
"""Restore time per GB of a Prefect database, two ways side by side in one run:
restore.yml to a point in time from the pgBackRest repository (the database
recovered beside the live cluster, dumped and swapped in: docs/backup.md)
against restore.yml with a dump of the same data (the swap alone).

On the upgrade scenario's hosts: --db-host (PostgreSQL and the server
instance `default` on database `orion`) and --repository-host (pgBackRest's
repository), through --inventory, as a converge left them.

  1. grows orion to --megabytes with completed flow runs, each with 5 task
     runs of 10 log lines (SQL on the database host: the rows Prefect's API
     writes, without the API's time);
  2. takes a dump (prefect-db-backup bench) and a full backup
     (prefect-pgbackrest-backup@full on the repository host);
  3. runs restore.yml -e restore_target=latest, then restore.yml with the
     dump, timing each from start to the instance serving;
  4. prints the database's size, each time, its time per GB and the ratio.

    python3 benchmarks/bench_restore.py --inventory INVENTORY [--megabytes 1024]

scripts/benchmark restore converges the upgrade scenario and runs it for
1 GB; the scenario's verify runs it with --smoke (a few MB: proves the script
works, measures nothing).
"""

import argparse
import json
import subprocess
import sys
import time

API = "http://127.0.0.1:4200/api"
DATABASE = "orion"
# Runs per batch: about 40 MB of rows; a smoke run's batch is a twentieth.
BATCH_RUNS = 2000
SMOKE_BATCH_RUNS = 100
# One batch: a flow, its completed runs, 5 task runs each, 10 log lines per task run.
GROW = """
WITH flow_made AS (
  INSERT INTO flow (name) VALUES ('bench-etl-' || gen_random_uuid()) RETURNING id
), runs AS (
  INSERT INTO flow_run (flow_id, name, state_type, state_name, start_time, end_time, expected_start_time,
                        total_run_time, run_count, parameters, tags)
  SELECT flow_made.id, 'bench-run-' || n, 'COMPLETED'::state_type, 'Completed', now() - n * interval '1 minute',
         now() - n * interval '1 minute' + interval '42 seconds', now() - n * interval '1 minute',
         interval '42 seconds', 1, jsonb_build_object('batch', n, 'source', 's3://warehouse/raw'), '["bench"]'::jsonb
  FROM flow_made, generate_series(1, {batch_runs}) AS n
  RETURNING id, start_time
), tasks AS (
  INSERT INTO task_run (flow_run_id, task_key, dynamic_key, name, state_type, state_name, start_time, end_time)
  SELECT runs.id, 'load-' || k, k::text, 'load-' || k, 'COMPLETED'::state_type, 'Completed', runs.start_time,
         runs.start_time + interval '5 seconds'
  FROM runs, generate_series(1, 5) AS k
  RETURNING id, flow_run_id, start_time
)
INSERT INTO log (name, level, flow_run_id, task_run_id, message, timestamp)
SELECT 'prefect.task_runs', 20, tasks.flow_run_id, tasks.id,
       'Loaded chunk ' || l || ' (' || md5(random()::text) || ') into the warehouse: 5000 rows, 0 rejected',
       tasks.start_time + l * interval '10 milliseconds'
FROM tasks, generate_series(1, 10) AS l
"""


def on(host, *command, stdin=None):
    result = subprocess.run(["docker", "exec", "-i", host, *command], input=stdin, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        sys.exit(f"{host}: {' '.join(command)} failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    return result.stdout.strip()


def psql(host, sql):
    return on(host, "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", DATABASE,
              stdin=sql)


def grow(host, megabytes, batch_runs):
    """Batches of runs, one at least, until the database is as big as asked;
    returns its size in bytes."""
    while True:
        psql(host, GROW.format(batch_runs=batch_runs))
        if int(psql(host, "SELECT pg_database_size(current_database())")) >= megabytes * 1024 * 1024:
            break
    psql(host, "VACUUM ANALYZE")
    return int(psql(host, "SELECT pg_database_size(current_database())"))


def restore(inventory, version, target):
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", inventory, "selfhosted.prefect.restore",
                             "-e", "restore_instance=default", "-e", f"prefect_server_version={version}",
                             "-e", target], capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"restore.yml -e {target} failed:\n{result.stdout[-4000:]}")
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--inventory", required=True, help="the upgrade scenario's inventory (Molecule's)")
    parser.add_argument("--db-host", default="upgrade1")
    parser.add_argument("--repository-host", default="backup1")
    parser.add_argument("--megabytes", type=int, default=1024, help="the database's size to reach")
    parser.add_argument("--smoke", action="store_true", help="8 MB: proves the script works, measures nothing")
    args = parser.parse_args()
    megabytes = 8 if args.smoke else args.megabytes
    db = args.db_host

    version = json.loads(on(db, "curl", "-fsS", "--max-time", "10", f"{API}/admin/version"))
    size = grow(db, megabytes, SMOKE_BATCH_RUNS if args.smoke else BATCH_RUNS)
    runs = int(psql(db, "SELECT count(*) FROM flow_run"))
    dumped = on(db, "runuser", "-u", "postgres", "--", "/usr/local/libexec/selfhosted-prefect/prefect-db-backup",
                "bench", DATABASE)
    dump = dumped.split()[3].rstrip(":")
    on(args.repository_host, "systemctl", "start", "prefect-pgbackrest-backup@full.service")

    point_in_time = restore(args.inventory, version, "restore_target=latest")
    if int(psql(db, "SELECT count(*) FROM flow_run")) != runs:
        sys.exit("the point-in-time restore did not bring back every run")
    from_dump = restore(args.inventory, version, f"restore_dump={dump}")
    if int(psql(db, "SELECT count(*) FROM flow_run")) != runs:
        sys.exit("the restore of the dump did not bring back every run")

    gigabytes = size / 1024 ** 3
    print(f"database {DATABASE}: {size / 1024 ** 2:.0f} MB, {runs} flow runs (prefect {version})")
    print(f"restore.yml to a point in time (recovered beside, dumped, swapped in): {point_in_time:.1f} s, "
          f"{point_in_time / gigabytes:.0f} s per GB")
    print(f"restore.yml with a dump of the same data (swapped in): {from_dump:.1f} s, {from_dump / gigabytes:.0f} s per GB")
    print(f"ratio point in time / dump: {point_in_time / from_dump:.2f}x")


if __name__ == "__main__":
    main()
