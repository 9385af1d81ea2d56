"""The host firewall (prefect_firewall) of the standalone topology: each
host lets in what its services need from the hosts that need it, and drops
the rest. A dropped connection attempt times out (no answer at all)."""

import pytest

TABLE = "inet selfhosted_prefect"


def _attempt(host, target, port):
    """Exit status of a TCP connection from host to target:port: 0 connected,
    1 refused (nothing listens), 124 no answer within 3 s (dropped)."""
    return host.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{target}/{port}'").rc


def _connects(host, target, port):
    return _attempt(host, target, port) == 0


def _dropped(host, target, port):
    return _attempt(host, target, port) == 124


@pytest.mark.parametrize("name", ["db", "server", "client", "worker"])
def test_every_host_drops_what_no_rule_lets_in(request, name):
    host = request.getfixturevalue(name)
    table = host.check_output(f"nft list table {TABLE}")
    assert "policy drop;" in table and 'tcp dport 22 accept comment "SSH"' in table, table
    assert host.service("selfhosted-prefect-firewall").is_enabled
    # Debian's nftables.service would flush every table at boot, Docker's DNS rules too.
    assert not host.service("nftables").is_enabled


def test_postgresql_from_the_servers_only(db, server, client, worker):
    assert _connects(server, "db1", 5432)
    assert _dropped(client, "db1", 5432)
    assert _dropped(worker, "db1", 5432)


@pytest.mark.parametrize("port", [4200, 4202])
def test_the_api_from_its_clients_and_workers_only(db, client, worker, port):
    assert _connects(client, "server1", port)
    assert _connects(worker, "server1", port)
    assert _dropped(db, "server1", port)


def test_nothing_else_reaches_the_hosts(db, server, client):
    # Nothing listens there: without the firewall the attempt is refused at
    # once; with it, it gets no answer.
    assert _dropped(client, "worker1", 8081)
    assert _dropped(client, "db1", 6543)
    assert _dropped(db, "client1", 22222)
    counter = db.check_output(f"nft list chain {TABLE} input")
    assert 'counter packets' in counter and 'comment "dropped: no rule lets it in"' in counter


def test_the_boot_unit_is_sandboxed(server, exposure):
    assert exposure(server, "selfhosted-prefect-firewall.service") <= 2.5
