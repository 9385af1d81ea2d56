"""The host firewall (prefect_firewall) of the standalone topology: each
host lets in what its services need from the hosts that need it, and drops
the rest. A dropped connection attempt times out (no answer at all): 0
connected, 124 dropped (molecule_fixtures.connection_outcomes)."""

import pytest
from molecule_fixtures import connection_outcomes

TABLE = "inet selfhosted_prefect"


@pytest.mark.parametrize("name", ["db", "server", "client", "worker"])
def test_every_host_drops_what_no_rule_lets_in(request, name):
    host = request.getfixturevalue(name)
    table = host.check_output(f"nft list table {TABLE}")
    assert "policy drop;" in table and 'tcp dport 22 accept comment "SSH"' in table, table
    assert host.service("selfhosted-prefect-firewall").is_enabled
    # Debian's nftables.service would flush every table at boot, Docker's DNS rules too.
    assert not host.service("nftables").is_enabled


def test_postgresql_from_the_servers_only(db, server, client, worker):
    outcomes = connection_outcomes({"server": server, "client": client, "worker": worker},
                                   [("server", "db1", 5432), ("client", "db1", 5432), ("worker", "db1", 5432)])
    assert outcomes == {("server", "db1", 5432): 0, ("client", "db1", 5432): 124, ("worker", "db1", 5432): 124}


@pytest.mark.parametrize("port", [4200, 4202])
def test_the_api_from_its_clients_and_workers_only(db, client, worker, port):
    outcomes = connection_outcomes({"client": client, "worker": worker, "db": db},
                                   [("client", "server1", port), ("worker", "server1", port), ("db", "server1", port)])
    assert outcomes == {("client", "server1", port): 0, ("worker", "server1", port): 0, ("db", "server1", port): 124}


def test_nothing_else_reaches_the_hosts(db, server, client):
    # Nothing listens there: without the firewall the attempt is refused at
    # once; with it, it gets no answer.
    probes = [("client", "worker1", 8081), ("client", "db1", 6543), ("db", "client1", 22222)]
    assert connection_outcomes({"client": client, "db": db}, probes) == {probe: 124 for probe in probes}
    counter = db.check_output(f"nft list chain {TABLE} input")
    assert 'counter packets' in counter and 'comment "dropped: no rule lets it in"' in counter


def test_the_boot_unit_is_sandboxed(server, exposure):
    assert exposure(server, "selfhosted-prefect-firewall.service") <= 2.5
