"""What crossed the scenario's network, from before its first container
started through the converge, the idempotence run, a flow run from client1
and a run of the scheduled deployment on worker1
(molecule/shared/pytest_plugin/wire_capture.py). Between the hosts: the
clients and the worker reach the standalone server over TLS, the server
reaches PostgreSQL over TLS, no plaintext HTTP passes, and no form of the
database password or either auth string is in any byte.

The shared plugin runs this module first, so the capture ends before the
tests that try plaintext connections on purpose."""

import time

import pytest
import wire_capture
from molecule_fixtures import secret_forms

HOSTS = ("db1", "server1", "client1", "worker1")
HOPS = [("server1", "db1", 5432), ("client1", "server1", 4200), ("worker1", "server1", 4202)]
FLOW = "from prefect import flow\n@flow\ndef wire():\n    return 1\nif __name__ == '__main__':\n    wire()\n"
WORKER_RUNS = ("select count(*) from flow_run fr join deployment d on d.id = fr.deployment_id "
               "where d.name = 'every-minute' and fr.state_type = 'COMPLETED'")


@pytest.fixture(scope="module")
def secrets(inventory_vars):
    """Every form of the database password and of both auth strings."""
    variables = inventory_vars["server1"]
    values = [variables["vault_prefect_db_password"]]
    for auth_string in (variables["vault_prefect_auth_string"], variables["prefect_personal_auth_string"]):
        values += [auth_string, auth_string.split(":", 1)[1]]
    return secret_forms(values)


@pytest.fixture(scope="module")
def wire(client, db, secrets):
    client.run("cat > /root/wire_flow.py <<'PYEOF'\n" + FLOW + "PYEOF")
    run = client.run("cd /root && /opt/prefect-client/bin/python wire_flow.py")
    assert run.rc == 0, run.stdout + run.stderr
    deadline = time.monotonic() + 240
    while db.check_output(f'runuser -u postgres -- psql -d orion_personal -tA -c "{WORKER_RUNS}"') == "0":
        assert time.monotonic() < deadline, "no run of every-minute completed on worker1"
        time.sleep(2)
    wire_capture.stop_capture()
    return wire_capture.streams(wire_capture.addresses("prefect-default", HOSTS), secrets)


def test_every_hop_is_seen_in_tls(wire):
    missing, plaintext = wire_capture.hops_not_in_tls(wire, HOPS)
    assert not missing, f"no connection {missing} in the capture"
    assert not plaintext, f"connections without TLS: {plaintext}"


def test_no_plaintext_http_between_hosts(wire):
    assert not wire_capture.plaintext_http(wire)


def test_no_secret_crosses_the_network(wire):
    assert wire_capture.payload_bytes(wire) > 100_000, "the capture holds too little to say anything"
    assert not wire_capture.leaks(wire)
