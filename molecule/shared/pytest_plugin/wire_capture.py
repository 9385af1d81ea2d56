"""What crossed a scenario's network. A scenario that sets
MOLECULE_WIRE_CAPTURE (its molecule.yml) has dumpcap record every TCP packet
between its hosts from before its first container starts
(molecule/shared/create.yml); its test_wire.py stops the capture and reads
it here with tshark (Debian), then checks the hops it expects."""

import os
import subprocess
import time
from collections import defaultdict

import docker

CAPTURE = os.environ.get("MOLECULE_WIRE_CAPTURE", "")
TLS_HANDSHAKE = b"\x16\x03"  # the record a ClientHello opens with
POSTGRES_SSL_REQUEST = bytes.fromhex("0000000804d2162f")
HTTP_STARTS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"HTTP/1.")


def stop_capture():
    pattern = f"dumpcap .* -w {CAPTURE}$"
    subprocess.run(["pkill", "-INT", "-f", pattern], check=True)
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-f", pattern], check=False, capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "dumpcap did not stop"
        time.sleep(0.2)


def addresses(network, names):
    """The scenario hosts' addresses on its network, by name."""
    containers = docker.from_env().networks.get(network).attrs["Containers"].values()
    found = {container["Name"]: container["IPv4Address"].split("/")[0] for container in containers}
    return {name: found[name] for name in names}


def streams(hosts):
    """The TCP payload between the given hosts ({name: address}), per
    connection and direction, in order, without retransmissions:
    {(stream, client, server, port, sender): bytes}. The client is the side
    that sends first (every protocol here: TLS, PostgreSQL, HTTP, RESP)."""
    fields = subprocess.run(
        ["tshark", "-r", CAPTURE, "-n", "-Y", "tcp.len > 0 and not tcp.analysis.retransmission",
         "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "ip.dst", "-e", "tcp.dstport",
         "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    names = {address: name for name, address in hosts.items()}
    connections = {}
    payload = defaultdict(bytearray)
    for line in fields.splitlines():
        stream, src, dst, dport, data = line.split("\t")
        if src not in names or dst not in names:
            continue
        client, server, port = connections.setdefault(stream, (names[src], names[dst], int(dport)))
        payload[(stream, client, server, port, names[src])] += bytes.fromhex(data.replace(":", ""))
    return {key: bytes(value) for key, value in payload.items()}


def opens_tls(data):
    if data.startswith(POSTGRES_SSL_REQUEST):
        data = data[len(POSTGRES_SSL_REQUEST):]
    return data.startswith(TLS_HANDSHAKE)


def hops_not_in_tls(wire, expected):
    """Prints the connections seen of each expected (client, server, port)
    hop; returns the expected hops never seen and, for every hop between the
    hosts, how many of its connections did not open with TLS."""
    seen = defaultdict(list)
    for (_stream, client, server, port, sender), data in wire.items():
        if sender == client:
            seen[(client, server, port)].append(opens_tls(data))
    for hop in expected:
        print(f"{hop}: {len(seen[hop])} connection(s)")
    missing = [hop for hop in expected if not seen[hop]]
    plaintext = {hop: tls.count(False) for hop, tls in seen.items() if not all(tls)}
    return missing, plaintext


def payload_bytes(wire):
    """All the payload between the hosts, printed with its connection count."""
    total = sum(len(data) for data in wire.values())
    print(f"{len(wire)} directions of {len({key[0] for key in wire})} connections, {total} bytes")
    return total


def plaintext_http(wire, redirectors=()):
    """Every plaintext HTTP message between hosts, but the redirects to
    HTTPS of the given (host, port)s and the requests they answer."""
    found = []
    for (_stream, client, server, port, sender), data in wire.items():
        if not data.startswith(HTTP_STARTS):
            continue
        first_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        redirect = (server, port) in redirectors and (sender == client or first_line.split()[1] == "301")
        if not redirect:
            found.append((client, server, port, first_line))
    return found


def leaks(wire, forms):
    """The hops whose bytes hold any of the secret forms."""
    return sorted({(client, server, port) for (_stream, client, server, port, _sender), data in wire.items()
                   if any(form.encode() in data for form in forms)})
