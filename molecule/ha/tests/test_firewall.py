"""The host firewall (prefect_firewall) of the cluster: the API hosts let in
the load balancer only, so nobody bypasses its TLS and its checks;
PostgreSQL lets in the API hosts and the other database hosts, etcd and
Patroni the other database hosts only, Redis and Sentinel the API hosts and
the other Redis hosts, pgBackRest's servers on the database hosts the
repository host and the repository's the database hosts, every node
exporter the monitoring host only, and the API hosts, Patroni, etcd and
the load balancers' metrics port it too; the load balancer lets in everyone on its
frontends. A dropped attempt gets no answer within 3 s
(0 connected, 124 dropped: molecule_fixtures.connection_outcomes)."""

import pytest
from molecule_fixtures import connection_outcomes

FLOWS = [
    ("lb1", "api1", 4200, 0),
    ("lb1", "api2", 4200, 0),
    ("client1", "api1", 4200, 124),
    ("client1", "api2", 4200, 124),
    ("db1", "api1", 4200, 124),
    ("api2", "api1", 4200, 124),
    ("api1", "db1", 5432, 0),
    ("api2", "db1", 6379, 0),
    ("lb1", "db1", 5432, 124),
    ("client1", "db1", 5432, 124),
    ("client1", "db1", 6379, 124),
    ("api1", "db2", 26379, 0),
    ("db3", "db2", 6379, 0),
    ("db1", "db3", 26379, 0),
    ("lb1", "db2", 6379, 124),
    ("client1", "db3", 26379, 124),
    ("db2", "db1", 5432, 0),
    ("db2", "db1", 2379, 0),
    ("db3", "db2", 2380, 0),
    ("db3", "db1", 8008, 0),
    ("api1", "db1", 2379, 124),
    ("api2", "db2", 8008, 124),
    ("client1", "db3", 2380, 124),
    ("client1", "lb1", 443, 0),
    ("client1", "lb1", 80, 0),
    ("db1", "lb1", 443, 0),
    ("client1", "lb2", 443, 0),
    ("lb2", "api1", 4200, 0),
    ("lb2", "db1", 5432, 124),
    ("backup1", "db2", 8432, 0),
    ("db3", "backup1", 8432, 0),
    ("api1", "db1", 8432, 124),
    ("db1", "db2", 8432, 124),
    ("api1", "backup1", 8432, 124),
    ("client1", "backup1", 8432, 124),
    ("backup1", "db1", 9100, 0),
    ("backup1", "api2", 4200, 0),
    ("backup1", "db3", 8008, 0),
    ("backup1", "db2", 2379, 0),
    ("backup1", "lb1", 8405, 0),
    ("client1", "lb2", 8405, 124),
    ("backup1", "lb2", 9100, 0),
    ("api1", "db1", 9100, 124),
    ("client1", "api2", 9100, 124),
    ("backup1", "db2", 9187, 0),
    ("api1", "db2", 9187, 124),
    ("backup1", "db1", 9121, 0),
    ("client1", "db1", 9121, 124),
]


@pytest.fixture(scope="module")
def outcomes(hosts):
    """Every flow tried at once: the dropped ones wait out 3 s together."""
    return connection_outcomes(hosts, [flow[:3] for flow in FLOWS])


@pytest.mark.parametrize("source, target, port, outcome", FLOWS)
def test_each_host_lets_in_exactly_the_flows_the_cluster_needs(outcomes, source, target, port, outcome):
    assert outcomes[(source, target, port)] == outcome


@pytest.mark.parametrize("name", ["db1", "db2", "db3", "api1", "api2", "lb1", "lb2", "client1", "backup1"])
def test_every_host_drops_by_default(hosts, name):
    table = hosts[name].check_output("nft list table inet selfhosted_prefect")
    assert "policy drop;" in table, table
