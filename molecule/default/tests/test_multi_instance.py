"""multi1: two isolated Prefect server instances on one host, and a third one
removed.

default:  port 4200, PostgreSQL database orion, client profile "default"
personal: port 4202, SQLite /var/lib/prefect/personal/orion_personal.db, client profile "personal"
scratch:  port 4204, removed and brought back by test_removed_instance_stopped_and_disabled
"""

import json
import re
import uuid

import pytest

testinfra_hosts = ["ansible://multi1"]

INSTANCES = {
    "default": {"port": 4200, "profile": "default"},
    "personal": {"port": 4202, "profile": "personal"},
}
PERSONAL_DB = "/var/lib/prefect/personal/orion_personal.db"
PYTHON = "/opt/prefect-server/3.8.8/bin/python"


def _get(host, url):
    """HTTP status and body of a GET from inside the host."""
    out = host.check_output(f"curl -sS --max-time 10 -o /tmp/body -w '%{{http_code}}' {url}; echo; cat /tmp/body")
    status, body = out.split("\n", 1)
    return int(status), body


def _api(name, path=""):
    return f"http://127.0.0.1:{INSTANCES[name]['port']}/api{path}"


@pytest.mark.parametrize("name", INSTANCES)
def test_instance_running_enabled_and_healthy(host, name):
    service = host.service(f"prefect-server@{name}.service")
    assert service.is_running and service.is_enabled
    assert host.socket(f"tcp://0.0.0.0:{INSTANCES[name]['port']}").is_listening
    assert _get(host, _api(name, "/health")) == (200, "true")
    status, body = _get(host, _api(name, "/ready"))
    assert status == 200 and json.loads(body) == {"message": "OK"}


@pytest.mark.parametrize("name", INSTANCES)
def test_ui_reports_its_own_api_url(host, name):
    status, body = _get(host, f"http://127.0.0.1:{INSTANCES[name]['port']}/ui-settings")
    assert status == 200
    assert json.loads(body)["api_url"] == _api(name)


@pytest.mark.parametrize("name", INSTANCES)
def test_own_home_profile_and_environment(host, name):
    profiles = host.file(f"/var/lib/prefect/{name}/profiles.toml").content_string
    assert f'active = "{name}"' in profiles
    assert f'PREFECT_SERVER_API_PORT = "{INSTANCES[name]["port"]}"' in profiles
    env = host.file(f"/etc/prefect-server/{name}.env").content_string
    assert f'PREFECT_HOME="/var/lib/prefect/{name}"' in env
    assert f'PREFECT_PROFILE="{name}"' in env


def test_databases(host):
    default_env = host.file("/etc/prefect-server/default.env").content_string
    assert re.search(r'PREFECT_SERVER_DATABASE_CONNECTION_URL="postgresql\+asyncpg://prefect:[^"]+@127\.0\.0\.1:5432/orion"',
                     default_env)
    personal_env = host.file("/etc/prefect-server/personal.env").content_string
    assert f'PREFECT_SERVER_DATABASE_CONNECTION_URL="sqlite+aiosqlite:///{PERSONAL_DB}"' in personal_env
    assert host.file(PERSONAL_DB).is_file


def _run_flow(host, profile):
    """Run a flow through a client profile of root; return the flow run id."""
    flow_name = f"isolation-{profile}-{uuid.uuid4().hex[:8]}"
    script = (
        "from prefect import flow\n"
        "from prefect.settings import PREFECT_API_URL\n"
        f"@flow(name={flow_name!r})\n"
        "def isolation():\n"
        "    return 1\n"
        "if __name__ == '__main__':\n"
        "    print('API', PREFECT_API_URL.value())\n"
        "    state = isolation(return_state=True)\n"
        "    print('STATE', state.type.value)\n"
        "    print('FLOW_RUN_ID', state.state_details.flow_run_id)\n"
    )
    host.run("mkdir -p /root/flowtest")
    host.run("cat > /root/flowtest/isolation.py <<'PYEOF'\n" + script + "PYEOF")
    run = host.run(f"cd /root/flowtest && env -u PREFECT_API_URL -u PREFECT_HOME PREFECT_PROFILE={profile} "
                   f"{PYTHON} isolation.py")
    assert run.rc == 0, run.stdout + run.stderr
    assert "STATE COMPLETED" in run.stdout
    return run.stdout, re.search(r"FLOW_RUN_ID (\S+)", run.stdout).group(1)


def _in_postgresql(host, flow_run_id):
    out = host.check_output(
        f"runuser -u postgres -- psql -d orion -tAc \"select count(*) from flow_run where id = '{flow_run_id}'\"")
    return int(out.strip())


def _in_sqlite(host, flow_run_id):
    out = host.check_output(
        f"python3 -c \"import sqlite3, sys; c = sqlite3.connect('file:{PERSONAL_DB}?mode=ro', uri=True); "
        f"print(c.execute('select count(*) from flow_run where id = ?', (sys.argv[1],)).fetchone()[0])\" "
        f"{flow_run_id}")
    return int(out.strip())


@pytest.mark.parametrize("name, other", [("default", "personal"), ("personal", "default")])
def test_flow_run_stays_in_its_instance(host, name, other):
    stdout, flow_run_id = _run_flow(host, INSTANCES[name]["profile"])
    assert f"API {_api(name)}" in stdout
    assert _get(host, _api(name, f"/flow_runs/{flow_run_id}"))[0] == 200
    assert _get(host, _api(other, f"/flow_runs/{flow_run_id}"))[0] == 404
    stored = {"default": _in_postgresql(host, flow_run_id), "personal": _in_sqlite(host, flow_run_id)}
    assert stored == {name: 1, other: 0}


def test_removed_instance_stopped_and_disabled(host, hostvar, run_playbook):
    """A converge of multi1 whose variables no longer name scratch stops and
    disables it, and keeps its data; the next converge, with the inventory
    as written, brings it back (so the tests after this one, the drift
    report's among them, find the host as the converge left it)."""
    assert host.service("prefect-server@scratch.service").is_running, "the converge did not start scratch"
    kept = [i for i in hostvar("multi1", "multi_instance_all") if i["name"] != "scratch"]
    result = run_playbook("--limit", "multi1", "-e", json.dumps({"prefect_server_instances": kept}),
                          "selfhosted.prefect.site")
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        service = host.service("prefect-server@scratch.service")
        assert not service.is_running and not service.is_enabled
        assert not host.socket("tcp://0.0.0.0:4204").is_listening
        assert not host.file("/etc/prefect-server/scratch.env").exists
        # Its data stays unless prefect_server_purge_removed_instances is true.
        assert host.file("/var/lib/prefect/scratch").is_directory
    finally:
        restored = run_playbook("--limit", "multi1", "selfhosted.prefect.site")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    assert host.service("prefect-server@scratch.service").is_running
