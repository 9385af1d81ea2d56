"""What crossed the scenario's network, from before its first container
started through the converge, the idempotence and check runs, and a flow run
from client1 (dumpcap on the network's bridge, molecule/shared/create.yml;
tshark from Debian reads it). Between the scenario's hosts: every connection
to PostgreSQL, Redis, the API hosts and the load balancer is TLS, no plaintext
HTTP but a redirect to HTTPS, and no form of the database password, the Redis
password or the auth string in any byte.

The conftest runs this module first, so the capture ends before the load
tests and the deliberate plaintext attempts of test_pg_hba and test_firewall."""

import os
import subprocess
import time
from collections import defaultdict

import docker
import pytest
from ha_cluster import run_flow_on_client
from molecule_fixtures import secret_forms

CAPTURE = os.environ["MOLECULE_WIRE_CAPTURE"]
NETWORK = "prefect-ha"
CLUSTER = ("db1", "api1", "api2", "lb1", "client1")
# The hops of the cluster, as (client, server, port); each must be seen, in TLS.
HOPS = [("client1", "lb1", 443), ("lb1", "api1", 4200), ("lb1", "api2", 4200),
        ("api1", "db1", 5432), ("api2", "db1", 5432), ("api1", "db1", 6379), ("api2", "db1", 6379)]
TLS_RECORD = b"\x16\x03"  # a handshake record: the ClientHello
POSTGRES_SSL_REQUEST = bytes.fromhex("0000000804d2162f")
HTTP_STARTS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"HTTP/1.")


def stop_capture():
    subprocess.run(["pkill", "-INT", "-f", f"dumpcap .* -w {CAPTURE}$"], check=True)
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-f", f"dumpcap .* -w {CAPTURE}$"], check=False,
                         capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "dumpcap did not stop"
        time.sleep(0.2)


def streams(addresses):
    """The TCP payload between the scenario's hosts, per connection and
    direction, in order and without retransmissions:
    {(client, server, port, sender): bytes}."""
    fields = subprocess.run(
        ["tshark", "-r", CAPTURE, "-n", "-Y", "tcp.len > 0 and not tcp.analysis.retransmission",
         "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "tcp.srcport",
         "-e", "ip.dst", "-e", "tcp.dstport", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    names = {address: name for name, address in addresses.items()}
    ports = {}  # stream -> the server's port: the port of the connection's first sender's peer
    payload = defaultdict(bytearray)
    for line in fields.splitlines():
        stream, src, sport, dst, dport, data = line.split("\t")
        if src not in names or dst not in names:
            continue
        ports.setdefault(stream, (names[src], names[dst], int(dport)))
        client, server, port = ports[stream]
        sender = names[src]
        payload[(stream, client, server, port, sender)] += bytes.fromhex(data.replace(":", ""))
    return {key: bytes(value) for key, value in payload.items()}


def opens_tls(data):
    if data.startswith(POSTGRES_SSL_REQUEST):
        data = data[len(POSTGRES_SSL_REQUEST):]
    return data.startswith(TLS_RECORD)


@pytest.fixture(scope="module")
def wire(hosts):
    run_flow_on_client(hosts["client1"])
    stop_capture()
    network = docker.from_env().networks.get(NETWORK)
    addresses = {container["Name"]: container["IPv4Address"].split("/")[0]
                 for container in network.attrs["Containers"].values()}
    return streams({name: addresses[name] for name in CLUSTER})


def opening(wire):
    """The first bytes each client sent on each connection."""
    return {(stream, client, server, port): data for (stream, client, server, port, sender), data in wire.items()
            if sender == client}


def test_every_hop_of_the_cluster_is_seen_in_tls(wire):
    seen = defaultdict(list)
    for (_stream, client, server, port), data in opening(wire).items():
        seen[(client, server, port)].append(opens_tls(data))
    for hop in HOPS:
        print(f"{hop}: {len(seen[hop])} connection(s)")
        assert seen[hop], f"no connection {hop} in the capture"
        assert all(seen[hop]), f"{hop}: {seen[hop].count(False)} connection(s) without TLS"


def test_no_plaintext_http_between_hosts_but_redirects(wire):
    plaintext = []
    for (_stream, client, server, port, sender), data in wire.items():
        if data.startswith(HTTP_STARTS):
            first_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
            redirect = server == "lb1" and port == 80 and (sender == client or first_line.split()[1] == "301")
            if not redirect:
                plaintext.append((client, server, port, first_line))
    assert not plaintext, plaintext


def test_no_secret_crosses_the_network(wire, inventory_vars):
    variables = inventory_vars["api1"]
    auth_string = variables["vault_prefect_auth_string"]
    forms = secret_forms([variables["vault_prefect_db_password"], variables["vault_prefect_redis_password"],
                          auth_string, auth_string.split(":", 1)[1]])
    total = sum(len(data) for data in wire.values())
    print(f"{len(wire)} directions of {len({key[0] for key in wire})} connections, {total} bytes")
    assert total > 1_000_000, "the capture holds too little to say anything"
    leaked = {(client, server, port) for (_stream, client, server, port, _sender), data in wire.items()
              if any(form.encode() in data for form in forms)}
    assert not leaked, f"a secret crossed {sorted(leaked)}"
