"""The day-2 drill on upgrade1: Prefect 3.6.29 with flow runs, a deployment
and a nightly dump; a failed upgrade to 3.8.8 that leaves 3.6.29 serving; the
upgrade; restores that fail and leave the database as it was; a restore of
the 3.6.29 dump into a dropped database; the vacuum; point-in-time restores
from backup1's pgBackRest repository, to a time (after a "disaster") and to
the restore point of the pre-migration dump. The backup and restore times
and the RPO are printed (run with -s, as Molecule's verifier does).

Each step builds on the host the step before left, so the drill is one test,
test_day2_drill, whose steps are the functions below, run in order; what a
step made for a later one (the runs, the nightly dump) is passed along as
arguments, not kept in module state. A test outside the drill needs only a
serving instance, of either release, and runs before or after it.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import testinfra

testinfra_hosts = ["ansible://upgrade1"]

OLD, NEW = "3.6.29", "3.8.8"
API = "http://127.0.0.1:4200/api"
SITE, RESTORE = "selfhosted.prefect.site", "selfhosted.prefect.restore"
UNIT, MIGRATE_UNIT = "prefect-server@default.service", "prefect-server-migrate@default.service"
BACKUP_DIR = "/var/backups/prefect-db"
LOCK_UNIT = "hold-alembic-lock"
CLINGING_UNIT = "cling-to-orion-restore"
UPGRADE = ("-e", f"prefect_server_version={NEW}")

MAKE_RUNS = """
import asyncio
from prefect import flow, get_client

@flow(name="nightly-etl")
def etl(batch: int) -> int:
    return batch

for batch in range(3):
    etl(batch)

async def deploy():
    async with get_client() as client:
        flow_id = await client.create_flow_from_name("nightly-etl")
        await client.create_deployment(flow_id=flow_id, name="nightly")

asyncio.run(deploy())
"""


# Flow runs from a deployment with a schedule, as fast as the API takes them,
# each written down with the times it was sent and acknowledged; and the
# "disaster": every deployment and flow run deleted through the API.
LOAD_AND_DISASTER = """
import asyncio, json, pathlib, sys, time
from prefect import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.schedules import IntervalSchedule

async def load(out, stop):
    async with get_client() as client:
        flow_id = await client.create_flow_from_name("hourly-report")
        schedule = DeploymentScheduleCreate(schedule=IntervalSchedule(interval=60))
        deployment_id = await client.create_deployment(flow_id=flow_id, name="every-minute", schedules=[schedule])
        with open(out, "w") as log:
            while not pathlib.Path(stop).exists():
                sent = time.time()
                run = await client.create_flow_run_from_deployment(deployment_id)
                log.write(json.dumps({"id": str(run.id), "sent": sent, "acked": time.time()}) + "\\n")
                log.flush()

async def disaster():
    async with get_client() as client:
        for deployment in await client.read_deployments():
            await client.delete_deployment(deployment.id)
        while runs := await client.read_flow_runs(limit=200):
            for run in runs:
                await client.delete_flow_run(run.id)

asyncio.run(load(*sys.argv[2:]) if sys.argv[1] == "load" else disaster())
"""
LOAD_UNIT = "point-in-time-load"


def psql(host, sql):
    return host.check_output("runuser -u postgres -- psql -d orion -tAc %s", sql)


def api_version(host):
    return json.loads(host.check_output(f"curl -sS --max-time 10 {API}/admin/version"))


def stored(host):
    """The flow runs (id and state) and deployments in PostgreSQL."""
    return (psql(host, "SELECT id, state_type FROM flow_run ORDER BY id").splitlines(),
            psql(host, "SELECT name FROM deployment ORDER BY name").splitlines())


def migrations_succeeded(host):
    journal = host.check_output(f"journalctl --no-pager -o cat -u {MIGRATE_UNIT}")
    return journal.count("Migrations succeeded")


def newest_dump(host, label):
    return host.check_output(f"ls -1t {BACKUP_DIR}/orion.*.{label}.pgc | head -1")


def text(result):
    """The playbook's output on one line: the YAML callback folds long messages."""
    return " ".join((result.stdout + result.stderr).split())


def recap_changed(output):
    return int(re.search(r"upgrade1\s+: ok=\d+\s+changed=(\d+)", output).group(1))


def older_release_stores_runs_and_a_deployment(host):
    """Returns what the drill keeps: the runs and deployments stored."""
    assert api_version(host) == OLD
    # The production settings reach 3.6.29 too; its client below copes with CSRF.
    settings = json.loads(host.check_output(f"curl -sS --max-time 10 {API}/admin/settings"))["server"]
    assert settings["api"]["csrf_protection_enabled"] is True and settings["analytics_enabled"] is False
    host.check_output(f"cat > /tmp/make_runs.py <<'EOF'\n{MAKE_RUNS}\nEOF")
    host.check_output(f"PREFECT_HOME=/tmp/client PREFECT_API_URL={API} /opt/prefect-server/{OLD}/bin/python /tmp/make_runs.py")
    runs, deployments = data = stored(host)
    assert len(runs) == 3 and all(run.endswith("|COMPLETED") for run in runs)
    assert deployments == ["nightly"]
    return data


def nightly_dump(host):
    """Returns the dump's path."""
    assert host.run("systemctl start prefect-db-backup.service").rc == 0
    nightly = newest_dump(host, "scheduled")
    line = host.check_output("journalctl --no-pager -o cat -u prefect-db-backup.service | grep '^dumped orion' | tail -1")
    print(f"\nnightly backup: {line}")
    return nightly


def failed_migration_leaves_the_old_release_serving(host, run_playbook, data):
    """A session holds a SHARE lock on alembic_version (as a long report or a
    stuck transaction would): the migration's first revision cannot record
    itself, and systemd stops it after the migration timeout."""
    host.check_output(f"systemd-run --unit={LOCK_UNIT} --uid=postgres -E PGAPPNAME={LOCK_UNIT} psql -d orion -c "
                      "'BEGIN; LOCK TABLE alembic_version IN SHARE MODE; SELECT pg_sleep(900); COMMIT;'")
    try:
        result = run_playbook(SITE, *UPGRADE, "-e", "prefect_server_migration_timeout=20")
        output = text(result)
        assert result.returncode != 0
        assert f"database migration of instance default (postgresql://prefect@127.0.0.1:5432/orion) to prefect {NEW} failed" in output
        assert f"Prefect {OLD} serves it again ({UNIT})" in output
        dump = re.search(r"Pre-migration dump: dumped orion to (\S+\.pre-migration\.pgc): \d+ bytes", output).group(1)
        assert host.file(dump).exists
        assert "p/ss:w#rd" not in output and "p%2Fss" not in output
    finally:
        # Its server-side session sleeps on, holding the lock, after psql is gone.
        psql(host, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{LOCK_UNIT}'")
        host.run(f"systemctl stop {LOCK_UNIT}")
    # The role ended the session its migration left waiting, and the locks it held.
    assert psql(host, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                      "'prefect-server-migrate@default'") == "0"
    assert api_version(host) == OLD
    assert f"/opt/prefect-server/{OLD}/bin/prefect server start" in host.check_output(f"systemctl show -p ExecStart --value {UNIT}")
    assert stored(host) == data


def upgrade_migrates_once_keeping_runs_and_deployment(host, run_playbook, data):
    """Returns the restore point made with the pre-migration dump."""
    before = migrations_succeeded(host)
    result = run_playbook(SITE, *UPGRADE)
    assert result.returncode == 0, result.stdout[-3000:]
    dump = re.search(rf"Before migrating to prefect {NEW}: dumped orion to (\S+\.pre-migration\.pgc): \d+ bytes",
                     text(result)).group(1)
    point = re.search(r"restore point (pre-migration-orion-\d{8}T\d{6}Z) \(restore.yml -e restore_target=name:",
                      text(result)).group(1)
    assert (host.file(dump).user, host.file(dump).mode) == ("postgres", 0o600)
    assert "TABLE public flow_run " in host.check_output(f"runuser -u postgres -- pg_restore --list {dump}")
    # The migration's statement timeout is its whole bound (before 3.8, Prefect takes the API's 30 s).
    assert "PREFECT_SERVER_DATABASE_TIMEOUT=900" in host.check_output(f"systemctl show -p Environment --value {MIGRATE_UNIT}")
    assert migrations_succeeded(host) == before + 1
    assert api_version(host) == NEW
    assert stored(host) == data
    assert f"/opt/prefect-server/{NEW}/bin/prefect server start" in host.check_output(f"systemctl show -p ExecStart --value {UNIT}")
    assert not host.file(f"/opt/prefect-server/{OLD}").exists
    assert host.check_output("runuser -u prefect -- cat /var/lib/prefect/default/.selfhosted-prefect-migrated").startswith(f"prefect={NEW} ")
    return point


def second_converge_changes_nothing(run_playbook):
    result = run_playbook(SITE, *UPGRADE)
    changed = re.findall(r"TASK \[([^\]]+)\][^\n]*\n(?:[^\n]*\n)*?changed:", result.stdout)
    assert result.returncode == 0 and recap_changed(result.stdout) == 0, changed


def restore_without_a_dump_lists_them_and_stops_nothing(host, run_playbook, nightly):
    result = run_playbook(RESTORE, "-e", "restore_instance=default")
    assert result.returncode != 0
    assert nightly in text(result)
    assert host.service(UNIT).is_running


def restore_refuses_check_mode_and_stops_nothing(host, run_playbook, data, nightly):
    """Ending the database's sessions cannot be rolled back, so --check
    would act: the restore refuses it before anything stops."""
    result = run_playbook(RESTORE, "--check", "-e", "restore_instance=default", "-e", f"restore_dump={nightly}")
    assert result.returncode != 0
    assert "restore.yml has no check mode" in text(result)
    assert host.service(UNIT).is_running
    assert stored(host) == data


def a_failed_restore_leaves_the_database_as_it_was(host, run_playbook, data, nightly):
    broken = f"{BACKUP_DIR}/orion.20260101T000000Z.broken.pgc"
    host.check_output(f"head -c 4096 {nightly} | runuser -u postgres -- tee {broken} >/dev/null")
    result = run_playbook(RESTORE, *UPGRADE, "-e", "restore_instance=default", "-e", f"restore_dump={broken}")
    assert result.returncode != 0
    assert "The database orion is as it was" in text(result)
    assert psql(host, "SELECT count(*) FROM pg_database WHERE datname = 'orion_restore'") == "0"
    assert stored(host) == data


def clients_that_reconnect_at_once_cannot_block_the_swap(host, run_playbook, data, nightly):
    """Clients that reconnect to the restored database at once (a monitoring
    agent, an operator's psql loop) used to race the restore's swap, which
    failed when they were back first (they were alone, not beside another
    scenario). The restore now refuses new sessions on both databases
    before it ends theirs: three such clients, in the restored database
    until the restore ends them, cannot get back, the swap goes through, and
    the restored database takes sessions again."""
    cling = ("for i in 1 2 3; do (while true; do psql -qd orion_restore -c 'SELECT pg_sleep(600)' || sleep 0.05; "
             "done) & done; wait")
    host.check_output(f"systemd-run --unit={CLINGING_UNIT} --uid=postgres bash -c {shlex.quote(cling)}")
    try:
        result = run_playbook(RESTORE, *UPGRADE, "-e", "restore_instance=default",
                              "-e", f"restore_dump={nightly}")
    finally:
        host.run(f"systemctl stop {CLINGING_UNIT}")
    assert result.returncode == 0, text(result)[-3000:]
    # They were in the restored database until the restore ended them.
    journal = host.check_output(f"journalctl -u {CLINGING_UNIT} -o cat --no-pager")
    assert "terminating connection due to administrator command" in journal
    assert psql(host, "SELECT string_agg(datname || CASE WHEN datallowconn THEN ' open' ELSE ' closed' END, ',') "
                      "FROM pg_database WHERE datname LIKE 'orion%'") == "orion open"
    assert stored(host) == data


def restore_into_a_dropped_database(host, run_playbook, data, nightly):
    """The 3.6.29 nightly dump into a dropped database: restored, migrated to
    3.8.8's schema, and served again."""
    psql_postgres = "runuser -u postgres -- psql -tAc %s"
    host.check_output(psql_postgres, "DROP DATABASE orion WITH (FORCE)")
    started = time.monotonic()
    result = run_playbook(RESTORE, *UPGRADE, "-e", "restore_instance=default", "-e", f"restore_dump={nightly}")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"migrated from revision \w+ \(the dump\) to \w+", text(result))
    assert host.check_output(f"curl -sS -o /dev/null -w '%{{http_code}}' {API}/ready") == "200"
    assert api_version(host) == NEW
    assert stored(host) == data
    size = host.file(nightly).size
    print(f"\nrestore of {nightly} ({size} bytes) with restore.yml, migration and readiness included: {elapsed:.1f} s")


def vacuum_deletes_a_run_past_its_retention(host, data):
    """One of the restored runs ended 91 days ago (the role keeps 90): the
    vacuum service, which passes every 5 s here, deletes it and no other."""
    runs = [line.split("|")[0] for line in data[0]]
    psql(host, f"UPDATE flow_run SET end_time = now() - interval '91 days' WHERE id = '{runs[0]}'")
    started = time.monotonic()
    while psql(host, f"SELECT count(*) FROM flow_run WHERE id = '{runs[0]}'") != "0":
        assert time.monotonic() - started < 90, "the vacuum service did not delete the run"
        time.sleep(2)
    print(f"\nvacuum deleted the run past its retention {time.monotonic() - started:.1f} s after it aged")
    assert psql(host, "SELECT id FROM flow_run ORDER BY id").splitlines() == sorted(runs[1:])


def acknowledged_runs(host, path):
    if not host.file(path).exists:
        return []
    return [json.loads(line) for line in host.file(path).content_string.splitlines()]


def wait_for_runs(host, path, count, after=0.0):
    started = time.monotonic()
    while len([run for run in acknowledged_runs(host, path) if run["sent"] > after]) < count:
        assert time.monotonic() - started < 60, f"the load made fewer than {count} runs in 60 s"
        time.sleep(0.5)


def point_in_time_restore_undoes_a_disaster(host, run_playbook):
    """Runs come in; at T every deployment and run is deleted through the
    API; restore.yml to T brings back every run acknowledged before T and
    none sent after it, and the scheduler plans the restored deployment's
    runs again. The RPO (T minus the newest change restored) and the time
    of the restore are printed."""
    python = f"/opt/prefect-server/{NEW}/bin/python"
    client_env = f"-E PREFECT_HOME=/tmp/client -E PREFECT_API_URL={API}"
    runs_file, stop_file = "/tmp/point-in-time-runs.jsonl", "/tmp/point-in-time-stop"
    host.check_output(f"cat > /tmp/load_and_disaster.py <<'EOF'\n{LOAD_AND_DISASTER}\nEOF")
    host.check_output(f"rm -f {stop_file} {runs_file}; systemd-run --unit={LOAD_UNIT} {client_env} {python} /tmp/load_and_disaster.py "
                      f"load {runs_file} {stop_file}")
    try:
        wait_for_runs(host, runs_file, 30)
        target = datetime.now(timezone.utc)
        wait_for_runs(host, runs_file, 30, after=target.timestamp())
    finally:
        host.check_output(f"touch {stop_file}")
        host.run(f"timeout 30 sh -c 'while systemctl is-active -q {LOAD_UNIT}; do sleep 0.2; done'")
    runs = acknowledged_runs(host, runs_file)
    disaster = datetime.now(timezone.utc)
    host.check_output(f"PREFECT_HOME=/tmp/client PREFECT_API_URL={API} {python} /tmp/load_and_disaster.py disaster")
    assert psql(host, "SELECT (SELECT count(*) FROM flow_run) + (SELECT count(*) FROM deployment)") == "0"

    point = ("-e", "restore_instance=default", "-e", f"restore_target={target.isoformat()}")
    listed = run_playbook(RESTORE, "--check", *UPGRADE, *point)
    assert listed.returncode == 0, listed.stdout[-3000:]
    assert "A restore reaches any time from" in text(listed) and "--type=time" in text(listed)
    assert host.service(UNIT).is_running and psql(host, "SELECT count(*) FROM deployment") == "0"

    started = time.monotonic()
    result = run_playbook(RESTORE, *UPGRADE, *point)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:]
    restored_at = datetime.now(timezone.utc)
    present = set(psql(host, "SELECT id FROM flow_run").splitlines())
    before = {run["id"] for run in runs if run["acked"] < target.timestamp()}
    after = {run["id"] for run in runs if run["sent"] > target.timestamp()}
    assert before <= present, f"{len(before - present)} runs acknowledged before T are missing"
    assert not after & present, f"{len(after & present)} runs sent after T are back"
    assert psql(host, "SELECT name FROM deployment ORDER BY name").splitlines() == ["every-minute", "nightly"]
    # Not counting the runs the scheduler has planned since the restore.
    newest = float(psql(host, f"SELECT extract(epoch FROM max(created)) FROM flow_run WHERE created < '{disaster.isoformat()}'"))
    recovered_to = re.search(r"committed at (\S+) \(UTC\)", text(result)).group(1)
    print(f"\npoint-in-time restore to T={target.isoformat()}: {len(before)} runs acknowledged before T back, "
          f"{len(after)} sent after T gone; RPO (T minus the newest run restored) {target.timestamp() - newest:.2f} s; "
          f"newest change replayed committed at {recovered_to}; restore.yml took {took:.1f} s")
    # The scheduler plans the restored deployment's runs again.
    deadline = time.monotonic() + 120
    while psql(host, "SELECT count(*) FROM flow_run r JOIN deployment d ON r.deployment_id = d.id "
                     f"WHERE d.name = 'every-minute' AND r.created > '{restored_at.isoformat()}'") == "0":
        assert time.monotonic() < deadline, "the scheduler planned no run of the restored deployment in 120 s"
        time.sleep(2)


def restore_to_the_point_before_the_upgrade(host, run_playbook, data, point):
    """The restore point the pre-migration dump made: the database as it was
    on 3.6.29, replayed from the archive, then migrated to 3.8.8 again."""
    result = run_playbook(RESTORE, *UPGRADE, "-e", "restore_instance=default", "-e", f"restore_target=name:{point}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"migrated from revision \w+ \(the dump\) to \w+", text(result))
    assert api_version(host) == NEW
    assert stored(host) == data


def wait_until_archived(host, db):
    """Until backup1's repository holds the WAL segment upgrade1 writes now:
    every change made so far survives upgrade1's loss."""
    segment = psql(db, "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
    deadline = time.monotonic() + 60
    while True:
        info = json.loads(host.check_output("runuser -u postgres -- pgbackrest --stanza=prefect --output=json info"))
        if ((info[0].get("archive") or [{}])[-1].get("max") or "") >= segment:
            return
        assert time.monotonic() < deadline, f"{segment} not archived in 60 s"
        time.sleep(1)


def container_address(name):
    return subprocess.run(["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
                          check=True, capture_output=True, text=True).stdout.strip()


def the_database_host_is_gone(host, run_playbook, inventory, data):
    """upgrade1's container removed with everything on it, and a new one
    made under its name: its converge stops at the database, whose new
    cluster is not the one backup1's repository backs up, before the API
    starts on empty databases. restore.yml to latest restores the whole
    cluster from the repository in place, and the API serves what it served
    before; a converge then changes nothing it should not. The times of the
    rebuild, the converge and the restore are printed."""
    container = host.backend.get_hostname()
    address = container_address(container)
    wait_until_archived(testinfra.get_host("ansible://backup1", ansible_inventory=inventory), host)
    subprocess.run(["docker", "rm", "--force", container], check=True, capture_output=True)
    lost = time.monotonic()
    platform = {"molecule_yml": {"platforms": [{"name": container, "image": "selfhosted-prefect/debian:12"}]}}
    created = run_playbook(str(Path(__file__).resolve().parents[2] / "shared" / "create.yml"), "-e", json.dumps(platform),
                           env={"MOLECULE_SCENARIO_NAME": "upgrade"})
    assert created.returncode == 0, created.stdout[-3000:]
    # backup1's firewall lets in upgrade1's address: Docker gives the new container the one freed.
    assert container_address(container) == address
    rebuilt = time.monotonic()
    converge = run_playbook(SITE, *UPGRADE)
    assert converge.returncode != 0
    assert "backs up another PostgreSQL cluster in stanza prefect" in text(converge)
    assert "a rebuilt database host" in text(converge) and "-e restore_target=latest" in text(converge)
    assert not host.service(UNIT).is_running
    converged = time.monotonic()
    result = run_playbook(RESTORE, *UPGRADE, "-e", "restore_instance=default", "-e", "restore_target=latest")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Restored the whole cluster from the repository on the rebuilt host upgrade1" in text(result)
    restored = time.monotonic()
    assert api_version(host) == NEW
    assert stored(host) == data
    again = run_playbook(SITE, *UPGRADE)
    assert again.returncode == 0, again.stdout[-3000:]
    print(f"\nupgrade1 lost and rebuilt: new container {rebuilt - lost:.1f} s, converge stopped at the database "
          f"{converged - rebuilt:.1f} s, restore.yml to latest (whole cluster, API converged) {restored - converged:.1f} s; "
          f"{restored - lost:.1f} s from the loss to the API serving the old data")


def run_step(number, function, *args):
    """One step of the drill, named in the output with its time: a failing
    step is the last one printed, and its function is in the traceback."""
    print(f"\n[drill step {number}/14] {function.__name__.replace('_', ' ')}")
    started = time.monotonic()
    result = function(*args)
    print(f"[drill step {number}/14] took {time.monotonic() - started:.0f} s")
    return result


def test_day2_drill(host, run_playbook, inventory):
    """The steps in the order of docs/operations.md, each on the host the one
    before left."""
    data = run_step(1, older_release_stores_runs_and_a_deployment, host)
    nightly = run_step(2, nightly_dump, host)
    run_step(3, failed_migration_leaves_the_old_release_serving, host, run_playbook, data)
    point = run_step(4, upgrade_migrates_once_keeping_runs_and_deployment, host, run_playbook, data)
    run_step(5, second_converge_changes_nothing, run_playbook)
    run_step(6, restore_without_a_dump_lists_them_and_stops_nothing, host, run_playbook, nightly)
    run_step(7, restore_refuses_check_mode_and_stops_nothing, host, run_playbook, data, nightly)
    run_step(8, a_failed_restore_leaves_the_database_as_it_was, host, run_playbook, data, nightly)
    run_step(9, clients_that_reconnect_at_once_cannot_block_the_swap, host, run_playbook, data, nightly)
    run_step(10, restore_into_a_dropped_database, host, run_playbook, data, nightly)
    run_step(11, vacuum_deletes_a_run_past_its_retention, host, data)
    run_step(12, point_in_time_restore_undoes_a_disaster, host, run_playbook)
    run_step(13, restore_to_the_point_before_the_upgrade, host, run_playbook, data, point)
    run_step(14, the_database_host_is_gone, host, run_playbook, inventory, data)


def test_metrics_served_when_asked(host):
    """Prometheus metrics (prefect_server_metrics_enabled), before or after
    the drill: 3.6.29 and 3.8.8 serve the same counters."""
    metrics = host.check_output(f"curl -fsS --max-time 10 {API}/metrics")
    assert "# TYPE prefect_events_emitted_total counter" in metrics
    assert "# TYPE python_gc_collections_total counter" in metrics


def test_bench_restore(inventory):
    """benchmarks/bench_restore.py: restore.yml to a point in time against a
    dump of the same data. In the suite a smoke run after the drill (a few
    MB, to prove the script works); scripts/benchmark restore runs it alone
    with BENCH_RESTORE_MEGABYTES (1 GB) on a fresh converge."""
    megabytes = os.environ.get("BENCH_RESTORE_MEGABYTES")
    bench = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_restore.py"
    result = subprocess.run([sys.executable, str(bench), "--inventory", inventory,
                             *(["--megabytes", megabytes] if megabytes else ["--smoke"])],
                            capture_output=True, text=True, check=False, timeout=3600)
    print("\n" + result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^ratio point in time / dump: [\d.]+x$", result.stdout, re.M)
