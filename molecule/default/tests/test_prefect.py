"""End-to-end checks of selfhosted.prefect.site on db1/server1/client1.

The container-restart test waits until every instance is ready again before
it ends, so the tests run in any order.
"""

import json
import os
import re
import ssl
import subprocess
import time
import urllib.request
import uuid

import pytest

PUBLISHED_URL = "https://127.0.0.1:4200/api"
# Where client1's profile keeps the CA of the server's certificate.
CLIENT_CA = "/etc/selfhosted-prefect/ca/hosted.pem"
ENV_FILE = "/etc/prefect-server/default.env"
SERVER_PROFILES = "/var/lib/prefect/default/profiles.toml"
CLIENT_PREFECT_HOME = "/root/.prefect"
CLIENT_PYTHON = "/opt/prefect-client/bin/python"
SERVER_PYTHON = "/opt/prefect-server/3.8.8/bin/python"
MAX_EXPOSURE = 2.5


def _instances(inventory_vars):
    return {i["name"]: i for i in inventory_vars["server1"]["prefect_server_instances"]}


def _curl(host, url):
    return host.check_output(f"curl -fsS --max-time 10 --cacert {CLIENT_CA} {url}")


def _asyncpg_connect(host, python, password, ssl="None"):
    """Try to log in to db1/orion as prefect from `host`, with `ssl` (Python
    source for asyncpg's ssl argument; None: asyncpg's default, TLS without
    verification if the server offers it); return the command result."""
    script = (
        "import asyncio, asyncpg, ssl, sys\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(host='db1', port=5432, user='prefect',\n"
        f"                                 password=sys.argv[1], database='orion', timeout=10, ssl={ssl})\n"
        "    print(await conn.fetchval('select current_user'))\n"
        "    await conn.close()\n"
        "asyncio.run(main())\n"
    )
    host.run("cat > /tmp/pgtry.py <<'PYEOF'\n" + script + "PYEOF")
    return host.run(f"{python} /tmp/pgtry.py {_shquote(password)}")


def _shquote(value):
    return "'" + value.replace("'", "'\"'\"'") + "'"


def test_units_active_and_enabled(server, inventory_vars):
    for name in _instances(inventory_vars):
        svc = server.service(f"prefect-server@{name}.service")
        assert svc.is_running, name
        assert svc.is_enabled, name


def test_listens_on_all_addresses(server, inventory_vars):
    for name, inst in _instances(inventory_vars).items():
        assert server.socket(f"tcp://0.0.0.0:{inst['port']}").is_listening, name


def test_health_and_ready_from_client(client, inventory_vars):
    for inst in _instances(inventory_vars).values():
        base = f"https://server1:{inst['port']}/api"
        assert json.loads(_curl(client, f"{base}/health")) is True
        assert json.loads(_curl(client, f"{base}/ready")) == {"message": "OK"}


def test_every_instance_serves_only_verified_tls_to_other_hosts(server, client, inventory_vars):
    """The clients send the auth string to a standalone server: only over
    TLS with the collection CA's certificate for the name they use."""
    for port in (inst["port"] for inst in _instances(inventory_vars).values()):
        assert json.loads(_curl(client, f"https://server1:{port}/api/health")) is True
        # A client that trusts only the system's CAs: curl's error 60.
        assert client.run(f"curl -sS --max-time 10 https://server1:{port}/api/health").rc == 60, port
        # Plain HTTP gets no answer.
        assert client.run(f"curl -fsS --max-time 10 http://server1:{port}/api/health").rc != 0, port
    key = server.file("/etc/ssl/selfhosted-prefect/api.key")
    assert key.mode == 0o600 and key.user == "prefect"


def test_ui_settings_report_external_url(client, inventory_vars):
    for inst in _instances(inventory_vars).values():
        settings = json.loads(_curl(client, f"https://server1:{inst['port']}/ui-settings"))
        assert settings["api_url"] == inst["external_api_url"]


def test_environment_file_mode(server):
    f = server.file(ENV_FILE)
    assert f.is_file
    assert f.mode == 0o640
    assert f.user == "root"
    assert f.group == "prefect"
    content = f.content_string
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL=\"postgresql+asyncpg://prefect:" in content
    assert 'PREFECT_HOME="/var/lib/prefect/default"' in content


def test_server_profile(server):
    f = server.file(SERVER_PROFILES)
    assert f.mode == 0o600
    assert f.user == "prefect"
    text = f.content_string
    assert 'active = "default"' in text
    assert 'PREFECT_SERVER_API_HOST = "0.0.0.0"' in text
    assert 'PREFECT_SERVER_DATABASE_MIGRATE_ON_START = "false"' in text
    assert "PASSWORD" not in text and "CONNECTION_URL" not in text


def _hosted_api_url(hostvar):
    profiles = {p["name"]: p for p in hostvar("client1", "prefect_client_profiles")}
    return profiles[hostvar("client1", "prefect_client_active_profile")]["api_url"]


def test_client_profile(client, hostvar):
    f = client.file(f"{CLIENT_PREFECT_HOME}/profiles.toml")
    assert f.mode == 0o600
    assert f.user == "root"
    text = f.content_string
    assert f'active = "{hostvar("client1", "prefect_client_active_profile")}"' in text
    assert f'PREFECT_API_URL = "{_hosted_api_url(hostvar)}"' in text
    assert 'PREFECT_SERVER_EPHEMERAL_ENABLED = "false"' in text


CSRF_CLIENT = "molecule-tests"


def _csrf_token(host, base, auth=None):
    """A CSRF token for CSRF_CLIENT, as Prefect's client fetches one."""
    user = f"-u {_shquote(auth)} " if auth else ""
    return json.loads(_curl(host, f"{user}'{base}/csrf-token?client={CSRF_CLIENT}'"))["token"]


def _post_status(host, url, auth=None, csrf_token=None):
    user = f"-u {_shquote(auth)} " if auth else ""
    csrf = f"-H 'Prefect-Csrf-Client: {CSRF_CLIENT}' -H 'Prefect-Csrf-Token: {csrf_token}' " if csrf_token else ""
    return host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 --cacert {CLIENT_CA} -X POST "
        f"-H 'Content-Type: application/json' -d '{{}}' {user}{csrf}{url}"
    )


def test_basic_auth_on_personal_instance(server, client, inventory_vars, hostvar):
    auth = inventory_vars["server1"]["prefect_personal_auth_string"]
    base = next(p["api_url"] for p in hostvar("client1", "prefect_client_profiles") if p["name"] == "personal")
    assert json.loads(_curl(client, f"{base}/health")) is True
    # Only an authenticated client gets a CSRF token, and a token is no login.
    token = _csrf_token(client, base, auth)
    assert _post_status(client, f"{base}/flows/filter", csrf_token=token) == "401"
    assert _post_status(client, f"{base}/flows/filter", auth, csrf_token=token) == "200"
    env = server.file("/etc/prefect-server/personal.env").content_string
    assert "PREFECT_SERVER_API_AUTH_STRING=" in env
    assert "PREFECT_SERVER_API_AUTH_STRING=" in server.file(ENV_FILE).content_string
    profiles = client.file(f"{CLIENT_PREFECT_HOME}/profiles.toml").content_string
    assert "PREFECT_API_AUTH_STRING" in profiles


# The role's production settings (prefect_server defaults), as the profile
# holds them: the running server must report the same values.
PRODUCTION_PROFILE = {
    "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P3D",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": "P90D",
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "10",
    "PREFECT_SERVER_DATABASE_TIMEOUT": "30",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
    "PREFECT_SERVER_METRICS_ENABLED": "false",
}


# Every path of the API but the probes, for a caller without credentials.
PROTECTED = [("GET", "/admin/settings"), ("GET", "/admin/version"), ("GET", "/csrf-token?client=x"),
             ("POST", "/flow_runs/filter"), ("POST", "/variables/filter"), ("POST", "/deployments/filter"),
             ("POST", "/work_pools/filter"), ("GET", "/flows/00000000-0000-0000-0000-000000000000")]


def _status(host, method, url, auth=None):
    user = f"-u {_shquote(auth)} " if auth else ""
    data = "-H 'Content-Type: application/json' -d '{}' " if method == "POST" else ""
    return host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 --cacert {CLIENT_CA} -X {method} {data}{user}'{url}'")


def test_the_default_instance_asks_for_credentials_on_every_path_but_the_probes(client, inventory_vars):
    """No instance listens beyond loopback without credentials (the role's
    default): anyone without them gets 401, not even a CSRF token, and a
    change 403 (Prefect checks the CSRF token, which they cannot get, first)."""
    base = "https://server1:4200/api"
    for method, path in PROTECTED:
        refused = "403" if method == "POST" else "401"
        assert _status(client, method, base + path) == refused, (method, path)
        assert _status(client, method, base + path, "ops:wrong") == refused, (method, path)
    for path in ("/health", "/ready"):
        assert _status(client, "GET", base + path) == "200", path
    auth = inventory_vars["server1"]["vault_prefect_auth_string"]
    assert _status(client, "GET", base + "/admin/version", auth) == "200"
    # The UI shows its login page: it asks /ui-settings, which needs none.
    assert json.loads(_curl(client, "https://server1:4200/ui-settings"))["auth"] == "BASIC"


def test_production_settings_reach_the_server(server, client, inventory_vars):
    auth = _shquote(inventory_vars["server1"]["vault_prefect_auth_string"])
    profile = server.file(SERVER_PROFILES).content_string
    for key, value in PRODUCTION_PROFILE.items():
        assert f'{key} = "{value}"' in profile, key
    settings = json.loads(_curl(client, f"-u {auth} https://server1:4200/api/admin/settings"))["server"]
    assert settings["events"]["retention_period"] == "P3D"
    assert sorted(settings["services"]["db_vacuum"]["enabled"]) == ["events", "flow_runs"]
    assert settings["services"]["db_vacuum"]["retention_period"] == "P90D"
    assert settings["database"]["sqlalchemy"]["pool_size"] == 10
    assert settings["database"]["sqlalchemy"]["max_overflow"] == 10
    assert settings["database"]["timeout"] == 30 and settings["database"]["connection_timeout"] == 10
    assert settings["analytics_enabled"] is False
    assert settings["api"]["csrf_protection_enabled"] is True
    assert json.loads(_curl(client, "https://server1:4200/ui-settings"))["csrf_enabled"] is True
    # Metrics are served only when asked (the upgrade scenario asks).
    assert client.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {CLIENT_CA} -u {auth} "
                      "https://server1:4200/api/metrics").stdout == "404"


def test_csrf_protection_refuses_a_post_without_token(client, inventory_vars):
    auth = inventory_vars["server1"]["vault_prefect_auth_string"]
    assert _post_status(client, "https://server1:4200/api/flows/filter", auth) == "403"


def test_postgresql_accepts_prefect_only_from_server(server, client, inventory_vars):
    password = inventory_vars["db1"]["vault_prefect_db_password"]
    ok = _asyncpg_connect(server, SERVER_PYTHON, password)
    assert ok.rc == 0, ok.stderr
    assert ok.stdout.strip() == "prefect"
    # The host firewall drops the attempt before pg_hba.conf is asked.
    denied = _asyncpg_connect(client, CLIENT_PYTHON, password)
    assert denied.rc != 0
    assert "TimeoutError" in denied.stderr, denied.stderr


CA_FILE = "/etc/ssl/selfhosted-prefect/ca.pem"


def test_postgresql_lets_the_server_in_over_tls_only(server, inventory_vars):
    """hostssl: without TLS the server's host has no pg_hba.conf entry; the
    certificate is the collection CA's, for the name db1: a client that
    trusts only the system's CAs refuses it."""
    password = inventory_vars["db1"]["vault_prefect_db_password"]
    plain = _asyncpg_connect(server, SERVER_PYTHON, password, ssl="False")
    assert plain.rc != 0 and "no encryption" in plain.stderr, plain.stderr
    verified = _asyncpg_connect(server, SERVER_PYTHON, password,
                                ssl=f"ssl.create_default_context(cafile={CA_FILE!r})")
    assert verified.rc == 0 and verified.stdout.strip() == "prefect", verified.stderr
    unknown_ca = _asyncpg_connect(server, SERVER_PYTHON, password, ssl="ssl.create_default_context()")
    assert unknown_ca.rc != 0 and "CERTIFICATE_VERIFY_FAILED" in unknown_ca.stderr, unknown_ca.stderr


def test_the_servers_sessions_are_encrypted_and_verify_the_certificate(server, client, db, inventory_vars):
    auth = _shquote(inventory_vars["server1"]["vault_prefect_auth_string"])
    tls = json.loads(_curl(client, f"-u {auth} https://server1:4200/api/admin/settings")
                     )["server"]["database"]["sqlalchemy"]["connect_args"]["tls"]
    assert (tls["enabled"], tls["ca_file"], tls["check_hostname"]) == (True, CA_FILE, True)
    assert server.file(CA_FILE).mode == 0o644
    # /api/ready asks the database: each instance has a session open then.
    for port in (4200, 4202):
        assert _curl(client, f"https://server1:{port}/api/ready")
    sessions = db.check_output(
        "runuser -u postgres -- psql -tA -F ' ' -c \"select s.ssl, s.version from pg_stat_ssl s "
        "join pg_stat_activity a using (pid) where a.usename = 'prefect' and a.client_addr is not null\"")
    rows = [line.split() for line in sessions.splitlines() if line.strip()]
    assert rows and all(row[0] == "t" and row[1] in ("TLSv1.2", "TLSv1.3") for row in rows), rows


def test_flow_run_lands_in_postgresql(client, db, hostvar):
    flow_name = f"molecule-smoke-{uuid.uuid4().hex[:8]}"
    script = (
        "from prefect import flow\n"
        "from prefect.settings import PREFECT_API_URL\n"
        f"@flow(name={flow_name!r})\n"
        "def smoke():\n"
        "    return 42\n"
        "if __name__ == '__main__':\n"
        "    print('API', PREFECT_API_URL.value())\n"
        "    state = smoke(return_state=True)\n"
        "    print('STATE', state.type.value)\n"
        "    print('FLOW_RUN_ID', state.state_details.flow_run_id)\n"
    )
    client.run("mkdir -p /root/flowtest")
    client.run("cat > /root/flowtest/smoke.py <<'PYEOF'\n" + script + "PYEOF")
    # Nothing but the active profile: no PREFECT_* variables in the environment.
    run = client.run(
        "cd /root/flowtest && env -u PREFECT_API_URL -u PREFECT_PROFILE -u PREFECT_HOME "
        f"{CLIENT_PYTHON} smoke.py"
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert f"API {_hosted_api_url(hostvar)}" in run.stdout
    assert "STATE COMPLETED" in run.stdout
    flow_run_id = re.search(r"FLOW_RUN_ID (\S+)", run.stdout).group(1)

    query = (
        "import psycopg, sys\n"
        "with psycopg.connect(dbname='orion') as conn:\n"
        "    row = conn.execute('select f.name, fr.state_type::text from flow_run fr '\n"
        "                       'join flow f on f.id = fr.flow_id where fr.id = %s',\n"
        "                       (sys.argv[1],)).fetchone()\n"
        "    print(row[0], row[1])\n"
    )
    db.run("cat > /tmp/q.py <<'PYEOF'\n" + query + "PYEOF")
    stored = db.run(f"runuser -u postgres -- python3 /tmp/q.py {flow_run_id}")
    assert stored.rc == 0, stored.stderr
    assert stored.stdout.split() == [flow_name, "COMPLETED"]

    for name in ("prefect.db", "memory.db"):
        assert not client.file(f"{CLIENT_PREFECT_HOME}/{name}").exists, name


def test_migration_ran_as_its_own_unit(server, inventory_vars):
    for name in _instances(inventory_vars):
        unit = f"prefect-server-migrate@{name}.service"
        assert server.check_output(f"systemctl show -p Result --value {unit}") == "success", unit
        assert "EnvironmentFile=/etc/prefect-server/%i.env" in server.check_output(f"systemctl cat {unit}")
        assert "Migrations succeeded" in server.check_output(f"journalctl --no-pager -o cat -u {unit}")


@pytest.mark.skipif(not os.environ.get("SELFHOSTED_PREFECT_WHEELHOUSE"),
                    reason="no wheelhouse mounted (scripts/test mounts one)")
def test_venvs_installed_offline_from_the_wheelhouse(server, client):
    for host, venv in ((server, "/opt/prefect-server/3.8.8"), (client, "/opt/prefect-client")):
        config = host.file(f"/etc/selfhosted-prefect/pip{venv.replace('/', '-')}.conf")
        assert config.mode == 0o600 and config.user == "root"
        assert "no-index = true" in config.content_string
        assert "find-links = /srv/prefect-wheels" in config.content_string
        assert host.run(f"{venv}/bin/python -c 'import prefect'").rc == 0


def test_systemd_exposure_score(server, exposure):
    assert exposure(server, "prefect-server@default.service") <= MAX_EXPOSURE


def _wait_published_health(ca_file, timeout=180):
    deadline = time.time() + timeout
    context = ssl.create_default_context(cafile=ca_file)
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{PUBLISHED_URL}/health", timeout=5, context=context) as resp:
                if resp.status == 200:
                    return time.time()
        except OSError:
            pass
        time.sleep(2)
    raise AssertionError(f"{PUBLISHED_URL}/health did not answer within {timeout} s")


def _wait_ready_from_client(client, port, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if client.run(f"curl -fsS --max-time 5 --cacert {CLIENT_CA} https://server1:{port}/api/ready").rc == 0:
            return
        time.sleep(2)
    raise AssertionError(f"https://server1:{port}/api/ready did not answer within {timeout} s")


def test_zz_survives_container_restart(server, client, inventory_vars, hostvar):
    ca_file = f"{hostvar('server1', 'prefect_pki_ca_dir')}/ca.pem"
    start = time.time()
    subprocess.run(["docker", "restart", "server1"], check=True, capture_output=True)
    healthy = _wait_published_health(ca_file)
    print(f"\nserver1 healthy again {healthy - start:.1f} s after docker restart")
    svc = server.service("prefect-server@default.service")
    assert svc.is_running
    assert svc.is_enabled
    # selfhosted-prefect-firewall.service loaded the host firewall at boot.
    assert "policy drop;" in server.check_output("nft list table inet selfhosted_prefect")
    assert json.loads(_curl(client, "https://server1:4200/api/ready")) == {"message": "OK"}
    # Every instance (personal too, which worker1 uses) serves again before the next test.
    for inst in _instances(inventory_vars).values():
        _wait_ready_from_client(client, inst["port"])
