"""What crossed the scenario's network, from before its first container
started through the converge and idempotence runs, and a flow run
from client1 (molecule/shared/pytest_plugin/wire_capture.py). Between the
cluster's hosts: every connection to PostgreSQL, etcd, Redis, the Sentinels, the API hosts,
the load balancer, pgBackRest and the scrapes of the monitoring host is TLS, no plaintext HTTP but a redirect to HTTPS, and
no form of the database password, the Redis passwords, the auth string or the
repository's passphrase in any byte.

The conftest runs this module first, so the capture ends before the load
tests and the deliberate plaintext attempts of test_pg_hba and test_firewall."""

import pytest
import wire_capture
from ha_cluster import FLOATING_ADDRESS, run_flow_on_client
from molecule_fixtures import secret_forms

CLUSTER = ("db1", "db2", "db3", "api1", "api2", "lb1", "lb2", "client1", "backup1")
# Redis: db2 is the primary until test_load kills it; the replicas follow it,
# the servers ask the first Sentinel of their URL (db1), and the Sentinels
# each other.
HOPS = [("client1", "floating", 443), ("lb1", "api1", 4200), ("lb1", "api2", 4200), ("lb2", "api1", 4200),
        ("lb2", "api2", 4200),
        ("api1", "db1", 5432), ("api2", "db1", 5432), ("api1", "db2", 6379), ("api2", "db2", 6379),
        ("db1", "db2", 6379), ("db3", "db2", 6379), ("api1", "db1", 26379), ("api2", "db1", 26379),
        ("db1", "db3", 26379),
        # PostgreSQL: db1 is the primary until test_load switches over; the
        # replicas stream from it, and the etcd members talk to each other.
        ("db2", "db1", 5432), ("db3", "db1", 5432), ("db1", "db2", 2380), ("db2", "db3", 2380),
        ("db1", "backup1", 8432), ("backup1", "db1", 8432),
        # The monitoring host scrapes every node exporter, both API hosts,
        # Patroni, etcd, HAProxy, and PostgreSQL's and Redis's exporters.
        ("backup1", "db1", 9100), ("backup1", "api1", 9100), ("backup1", "lb1", 9100), ("backup1", "client1", 9100),
        ("backup1", "api1", 4200), ("backup1", "api2", 4200), ("backup1", "db2", 8008), ("backup1", "db3", 2379),
        ("backup1", "lb2", 8405), ("backup1", "db3", 9187), ("backup1", "db2", 9121)]


@pytest.fixture(scope="module")
def secrets(inventory_vars):
    """Every form of the database, Redis, Patroni and replication passwords,
    the auth string and the repository's passphrase."""
    variables = inventory_vars["api1"]
    auth_string = variables["vault_prefect_auth_string"]
    database = inventory_vars["db1"]
    return secret_forms([variables["vault_prefect_db_password"], variables["vault_prefect_redis_password"],
                         variables["vault_prefect_redis_replication_password"],
                         database["vault_prefect_patroni_password"], database["vault_prefect_pg_replication_password"],
                         database["vault_prefect_pg_rewind_password"], database["vault_prefect_redis_metrics_password"],
                         inventory_vars["backup1"]["vault_prefect_backup_cipher_pass"],
                         auth_string, auth_string.split(":", 1)[1]])


@pytest.fixture(scope="module")
def wire(hosts, secrets):
    run_flow_on_client(hosts["client1"])
    wire_capture.stop_capture()
    # The load balancers' floating address, wherever it was, as a host of its own.
    return wire_capture.streams(dict(wire_capture.addresses("prefect-ha", CLUSTER), floating=FLOATING_ADDRESS), secrets)


def test_every_hop_of_the_cluster_is_seen_in_tls(wire):
    missing, plaintext = wire_capture.hops_not_in_tls(wire, HOPS)
    assert not missing, f"no connection {missing} in the capture"
    assert not plaintext, f"connections without TLS: {plaintext}"


def test_no_plaintext_http_between_hosts_but_redirects(wire):
    assert not wire_capture.plaintext_http(wire, redirectors=[("lb1", 80)])


def test_no_secret_crosses_the_network(wire):
    assert wire_capture.payload_bytes(wire) > 1_000_000, "the capture holds too little to say anything"
    assert not wire_capture.leaks(wire)
