"""worker1: a Prefect worker under systemd polling the pool "onprem" of
server1's "personal" instance (basic auth), with the flows of
molecule/shared/flows deployed from their prefect.yaml.

The kill tests (test_zz_*) restart the worker, and wait until it answers its
healthcheck again before they end, so the tests run in any order.
"""

import hashlib
import json
import re
import time
import uuid

import pytest

UNIT = "prefect-worker@etl.service"
WORKER_NAME = "worker1-etl"
API_ENV = "/etc/prefect-worker/api.env"
DATABASE = "orion_personal"


def sql(db, query, *params):
    """Rows of a query on the personal instance's database, run on db1 as postgres."""
    script = (
        "import json, psycopg, sys\n"
        f"with psycopg.connect(dbname={DATABASE!r}) as conn:\n"
        "    rows = conn.execute(sys.argv[1], sys.argv[2:]).fetchall()\n"
        "    print(json.dumps([list(r) for r in rows], default=str))\n"
    )
    db.run("cat > /tmp/sql.py <<'PYEOF'\n" + script + "PYEOF")
    quoted = " ".join("'" + str(p).replace("'", "'\"'\"'") + "'" for p in (query, *params))
    result = db.run(f"runuser -u postgres -- python3 /tmp/sql.py {quoted}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def prefect_cli(worker, *args):
    """The worker venv's CLI with the workers' own environment file (the
    auth string stays out of the command line)."""
    command = ("systemd-run --quiet --wait --pipe --collect --uid=prefect-worker "
               f"--property=EnvironmentFile={API_ENV} /opt/prefect-worker/bin/prefect " + " ".join(args))
    result = worker.run(command)
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


def wait_for(what, probe, timeout, interval=2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s")


def stored(db, what, query, *params):
    """The rows of the query once it has any. The server stores what a run's
    processes send it (events, logs, task runs through their events) in
    batches, so a short run's rows can land after its COMPLETED state."""
    return wait_for(f"{what} stored", lambda: sql(db, query, *params), timeout=60)


def submitted_by(db, flow_run_id):
    """The names of the workers that submitted the run."""
    return stored(db, f"the submitted-flow-run event of {flow_run_id}",
                  "select resource->>'prefect.resource.name' from events "
                  "where event = 'prefect.worker.submitted-flow-run' "
                  "and related::text like %s", f'%prefect.flow-run.{flow_run_id}"%')


def run_state(db, flow_run_id):
    rows = sql(db, "select state_type::text, state_name, coalesce(s.message, '') from flow_run fr "
                   "left join flow_run_state s on s.id = fr.state_id where fr.id = %s", flow_run_id)
    return rows[0] if rows else None


def test_worker_unit_active_enabled_as_its_user(worker):
    svc = worker.service(UNIT)
    assert svc.is_running and svc.is_enabled
    pid = worker.check_output(f"systemctl show -p MainPID --value {UNIT}")
    assert worker.check_output(f"ps -o user= -p {pid}") == "prefect-worker"
    exec_start = worker.check_output(f"systemctl show -p ExecStart --value {UNIT}")
    for arg in ("--pool onprem", "--type process", f"--name {WORKER_NAME}", "--limit 2", "--with-healthcheck"):
        assert arg in exec_start.replace('"', ""), arg


def test_healthcheck_answers_on_loopback_only(worker):
    assert worker.socket("tcp://127.0.0.1:8081").is_listening
    assert not worker.socket("tcp://0.0.0.0:8081").is_listening
    assert worker.check_output("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8081/health") == "200"


def test_secrets_only_in_the_0640_environment_file(worker, inventory_vars):
    auth_string = inventory_vars["worker1"]["prefect_personal_auth_string"]
    env = worker.file(API_ENV)
    assert (env.user, env.group, env.mode) == ("root", "prefect-worker", 0o640)
    assert auth_string.replace("$", "") in env.content_string.replace("$", "")
    assert 'PREFECT_SERVER_EPHEMERAL_ENABLED="false"' in env.content_string
    assert auth_string not in worker.check_output(f"systemctl cat {UNIT}")
    assert auth_string not in worker.check_output("ps -eo args")


def test_the_worker_and_its_flow_runs_retry_a_500(worker):
    """What a clustered API answers to a state change while its Redis
    primary is lost (docs/workers.md); the flow runs inherit the worker's
    environment."""
    pid = worker.check_output(f"systemctl show -p MainPID --value {UNIT}")
    environment = worker.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines()
    assert "PREFECT_CLIENT_RETRY_EXTRA_CODES=500" in environment


def test_flow_code_is_read_only_to_the_flows(worker):
    code = worker.file("/var/lib/prefect-worker/flows/flows.py")
    assert (code.user, code.group, code.mode) == ("root", "prefect-worker", 0o640)
    assert "ReadOnlyPaths=/var/lib/prefect-worker/flows" in worker.check_output(f"systemctl cat {UNIT}")


def test_worker_exposure_score(worker, exposure):
    assert exposure(worker, UNIT) <= 2.5


@pytest.fixture(scope="module")
def zombie_window(inventory_vars):
    """Seconds without a heartbeat after which the automation crashes a run."""
    return int(inventory_vars["worker1"]["prefect_worker_zombie_window_seconds"])


def test_pool_and_zombie_automation_on_the_server(db, zombie_window):
    [[limit, pool_type]] = sql(db, "select concurrency_limit, type from work_pool where name = 'onprem'")
    assert (limit, pool_type) == (10, "process")
    [[trigger]] = sql(db, "select trigger::text from automation where name = 'Crash zombie flow runs' and enabled")
    trigger = json.loads(trigger)
    assert trigger["posture"] == "Proactive"
    assert trigger["after"] == ["prefect.flow-run.heartbeat"]
    assert float(trigger["within"]) == zombie_window


def test_scheduled_deployment_runs_on_the_worker_and_lands_in_postgresql(db):
    """every-minute, applied from prefect.yaml, is picked up by worker1 and
    ends COMPLETED; the worker's name is stored with the run."""
    def completed():
        return sql(db, "select fr.id::text from flow_run fr "
                       "join deployment d on d.id = fr.deployment_id "
                       "where d.name = 'every-minute' and fr.state_type = 'COMPLETED' "
                       "order by fr.end_time limit 1")
    [[flow_run_id]] = wait_for("a COMPLETED run of every-minute", completed, timeout=240)
    assert submitted_by(db, flow_run_id) == [[WORKER_NAME]]
    printed = stored(db, f"the log of {flow_run_id}",
                     "select message from log where flow_run_id = %s and message like 'tick on %%'", flow_run_id)
    assert printed == [["tick on worker1: hello from an Ansible-managed variable"]]


def test_the_pools_queues_as_declared(db):
    rows = sql(db, "select q.name, q.priority, q.concurrency_limit from work_queue q "
                   "join work_pool p on p.id = q.work_pool_id where p.name = 'onprem' order by q.priority")
    assert rows == [["default", 1, None], ["backfills", 2, 1], ["second-host", 3, None]]


LOAD_BLOCKS = """
import hashlib
from prefect.blocks.system import Secret
from prefect.filesystems import LocalFileSystem
print(hashlib.sha256(Secret.load("warehouse-password").get().encode()).hexdigest())
print(LocalFileSystem.load("exports").basepath)
"""


def test_the_declared_blocks_load_on_the_worker(worker, inventory_vars):
    """prefect_worker_blocks: a flow's code on worker1, as the worker's user
    with its environment, loads the Secret block (its value compared by
    digest, never printed) and the file system block."""
    worker.run("cat > /tmp/blocks.py <<'PYEOF'\n" + LOAD_BLOCKS + "PYEOF")
    loaded = worker.run("systemd-run --quiet --wait --pipe --collect --uid=prefect-worker "
                        f"--property=EnvironmentFile={API_ENV} /opt/prefect-worker/bin/python /tmp/blocks.py")
    assert loaded.rc == 0, loaded.stderr[-2000:]
    password = inventory_vars["worker1"]["vault_prefect_warehouse_password"]
    assert loaded.stdout.split() == [hashlib.sha256(password.encode()).hexdigest(), "/var/lib/prefect-worker/exports"]


STALE_DEPLOYMENT = """
import asyncio
from prefect.client.orchestration import get_client
async def main():
    async with get_client() as client:
        flow_id = await client.create_flow_from_name("renamed-long-ago")
        await client.create_deployment(flow_id=flow_id, name="stale", entrypoint="old.py:renamed", work_pool_name="onprem")
asyncio.run(main())
"""


# The deployments of onprem that molecule/shared/flows/prefect.yaml declares, by name.
DECLARED = ["every-minute", "long-sleep", "shared-result-first", "shared-result-second"]


def test_a_deployment_prefect_yaml_does_not_declare_is_pruned(worker, db, run_playbook):
    """prefect_worker_prune_deployments: a deployment of onprem made by hand
    (as an older prefect.yaml had it) is listed by a check run and deleted
    by a converge of the deployments; the declared ones stay."""
    worker.run("cat > /tmp/stale.py <<'PYEOF'\n" + STALE_DEPLOYMENT + "PYEOF")
    made = worker.run("systemd-run --quiet --wait --pipe --collect --uid=prefect-worker "
                      f"--property=EnvironmentFile={API_ENV} /opt/prefect-worker/bin/python /tmp/stale.py")
    assert made.rc == 0, made.stdout + made.stderr

    def deployments():
        return sorted(name for [name] in sql(db, "select d.name from deployment d "
                                                 "join work_queue q on q.id = d.work_queue_id "
                                                 "join work_pool p on p.id = q.work_pool_id where p.name = 'onprem'"))
    assert deployments() == DECLARED + ["stale"]
    checked = run_playbook("--check", "--diff", "--tags", "deployments", "--limit", "worker1",
                           "selfhosted.prefect.site")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "onprem/stale (old.py:renamed)" in checked.stdout
    assert deployments() == DECLARED + ["stale"]
    pruned = run_playbook("--tags", "deployments", "--limit", "worker1", "selfhosted.prefect.site")
    assert pruned.returncode == 0, pruned.stdout[-3000:]
    assert deployments() == DECLARED


def test_worker_registered_in_its_pool(db):
    rows = sql(db, "select w.name from worker w join work_pool p on p.id = w.work_pool_id "
                   "where p.name = 'onprem'")
    assert [WORKER_NAME] in rows


def test_pool_changed_by_hand_is_reported_and_set_back(worker, db, run_playbook, tmp_path):
    prefect_cli(worker, "work-pool", "set-concurrency-limit", "onprem", "99")
    assert sql(db, "select concurrency_limit from work_pool where name = 'onprem'") == [[99]]

    # localhost too: the report's own plays run there.
    report = run_playbook("--limit", "worker1,localhost", "--check", "--diff", "selfhosted.prefect.drift_report",
                          env={"ANSIBLE_CALLBACKS_ENABLED": "selfhosted.prefect.drift_report",
                               "SELFHOSTED_PREFECT_DRIFT_REPORT_DIR": str(tmp_path)})
    summary = json.loads((tmp_path / "summary.json").read_text())
    text = (tmp_path / "summary.txt").read_text()
    print(text)
    assert report.returncode != 0
    assert summary["drifted_hosts"] == ["worker1"]
    assert "Ensure the work pools" in text
    assert sql(db, "select concurrency_limit from work_pool where name = 'onprem'") == [[99]]

    converge = run_playbook("--limit", "worker1", "selfhosted.prefect.site")
    assert converge.returncode == 0, converge.stdout[-3000:]
    assert sql(db, "select concurrency_limit from work_pool where name = 'onprem'") == [[10]]


def run_deployment(worker, db, name, *params):
    """Start a run of the deployment and wait until it is COMPLETED; its id."""
    out = prefect_cli(worker, "deployment", "run", name, *[f"--param {param}" for param in params])
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
    wait_for(f"{name} COMPLETED", lambda: (run_state(db, flow_run_id) or [None])[0] == "COMPLETED", timeout=240)
    return flow_run_id


def test_a_task_cached_on_one_worker_host_is_a_cache_hit_on_the_other(worker, client, db):
    """prefect_worker_result_storage: worker1 computes and persists a cached
    task's result in the storage both worker hosts mount; the same task with
    the same input on client1's worker is Cached and returns worker1's value."""
    key = uuid.uuid4().hex
    first = run_deployment(worker, db, "shared-result/shared-result-first", f"key={key}")
    second = run_deployment(worker, db, "shared-result/shared-result-second", f"key={key}")
    assert submitted_by(db, first) == [[WORKER_NAME]] and submitted_by(db, second) == [["client1-second"]]
    printed = [stored(db, f"the log of {run}",
                      "select message from log where flow_run_id = %s and message like 'result of %%'", run)
               for run in (first, second)]
    assert printed[0] == printed[1] and len(printed[0]) == 1, printed
    assert printed[0][0][0].startswith(f"result of {key} computed on worker1: ")
    states = [stored(db, f"the final state of {run}'s cached task",
                     "select state_name from task_run where flow_run_id = %s and name like 'computed_once%%' "
                     "and state_type in ('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED')", run)
              for run in (first, second)]
    assert states == [[["Completed"]], [["Cached"]]]
    # The same files on both hosts: one storage, the worker user's on each.
    listings = [host.check_output("find /srv/prefect-results -type f -printf %s | sort", r"%u %g %m %P\n")
                for host in (worker, client)]
    assert listings[0] == listings[1] and listings[0].startswith("prefect-worker prefect-worker 640 ")


def start_long_run(worker, db):
    out = prefect_cli(worker, "deployment", "run", "sleeper/long-sleep")
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
    wait_for("long-sleep RUNNING", lambda: (run_state(db, flow_run_id) or [None])[0] == "RUNNING", timeout=120)
    return flow_run_id


def main_pid(worker):
    return worker.check_output(f"systemctl show -p MainPID --value {UNIT}")


def heartbeats(db, flow_run_id):
    """Heartbeat events of a flow run the server has stored."""
    [[count]] = sql(db, "select count(*) from events where event = 'prefect.flow-run.heartbeat' "
                        "and resource_id = %s", f"prefect.flow-run.{flow_run_id}")
    return count


def wait_worker_healthy(worker):
    """The restarted worker polls again: its healthcheck answers 200."""
    wait_for("the worker's healthcheck answering 200 again",
             lambda: worker.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8081/health").stdout == "200",
             timeout=120)


def test_zz_restart_ends_the_runs_in_flight_through_their_worker(worker, db):
    """systemctl restart: the flow run gets SIGTERM while its worker still
    runs, and reports Crashed itself at once (the zombie automation is not
    needed)."""
    flow_run_id = start_long_run(worker, db)
    started = time.time()
    worker.run(f"systemctl restart {UNIT}")
    state = wait_for("the run in a final state",
                     lambda: (s := run_state(db, flow_run_id)) and s[0] != "RUNNING" and s, timeout=30, interval=1)
    print(f"\nsystemctl restart of the worker: run {state[1]} after {time.time() - started:.1f} s ({state[2]!r})")
    assert state[0] == "CRASHED"
    assert "termination signal" in state[2]
    assert worker.service(UNIT).is_running
    wait_worker_healthy(worker)


def test_zz_kill_9_of_the_worker_restarts_it_and_the_automation_crashes_its_run(worker, db, zombie_window):
    """kill -9 of the worker: systemd starts it again; the flow process,
    left without its worker, cannot report its end, so the run stays
    RUNNING until the zombie automation sees no heartbeat for the window."""
    flow_run_id = start_long_run(worker, db)
    # The automation watches a run from its first heartbeat on.
    wait_for("the run's first heartbeat stored", lambda: heartbeats(db, flow_run_id) > 0, timeout=60, interval=1)
    killed_pid = main_pid(worker)
    started = time.time()
    worker.run(f"kill -9 {killed_pid}")

    wait_for("the worker restarted by systemd",
             lambda: main_pid(worker) not in ("0", killed_pid) and worker.service(UNIT).is_running, timeout=60)
    state = wait_for("the run in a final state",
                     lambda: (s := run_state(db, flow_run_id)) and s[0] != "RUNNING" and s,
                     timeout=zombie_window + 90, interval=5)
    elapsed = time.time() - started
    print(f"\nkill -9 of the worker: run {state[1]} after {elapsed:.0f} s ({state[2]!r})")
    assert state[0] == "CRASHED"
    assert "No heartbeat" in state[2]
    assert elapsed < zombie_window + 60
    wait_worker_healthy(worker)
