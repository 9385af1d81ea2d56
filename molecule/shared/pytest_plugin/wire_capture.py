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
    """The scenario hosts' addresses on its network, by inventory name (the
    containers' host name; ha's containers have names of their own)."""
    client = docker.from_env()
    containers = client.networks.get(network).attrs["Containers"]
    found = {client.containers.get(cid).attrs["Config"]["Hostname"]: container["IPv4Address"].split("/")[0]
             for cid, container in containers.items()}
    return {name: found[name] for name in names}


class Capture:
    """The TCP payload between the scenario's hosts, per connection and
    direction, in order, without retransmissions:
    payload[(stream, client, server, port, sender)] = bytes. The client is
    the side whose SYN opened the connection. Connections whose SYN or first
    client segment the capture lacks (dumpcap dropped it, or tshark took a
    segment for a retransmission) are in `unopened`: their bytes still count
    for leaks, but they cannot say how they opened."""

    def __init__(self):
        self.payload = defaultdict(bytearray)
        self.unopened = set()
        self.opener = {}

    def add(self, stream, src, dst, dport, syn, seq, data):
        if syn:
            self.opener.setdefault(stream, (src, dst, dport))
            return
        if stream not in self.opener:
            self.unopened.add(stream)
        client, server, port = self.opener.setdefault(stream, (src, dst, dport))
        key = (stream, client, server, port, src)
        # Relative sequence number 1 is the first byte after the SYN.
        if src == client and not self.payload[key] and seq != 1:
            self.unopened.add(stream)
        self.payload[key] += data

    def items(self):
        return self.payload.items()

    def values(self):
        return self.payload.values()


def streams(hosts):
    """The Capture of the TCP payload between the given hosts ({name: address})."""
    fields = subprocess.run(
        ["tshark", "-r", CAPTURE, "-n", "-Y",
         "(tcp.len > 0 and not tcp.analysis.retransmission) or (tcp.flags.syn == 1 and tcp.flags.ack == 0)",
         "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "ip.dst", "-e", "tcp.dstport",
         "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.seq", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    names = {address: name for name, address in hosts.items()}
    capture = Capture()
    for line in fields.splitlines():
        stream, src, dst, dport, syn, ack, seq, data = line.split("\t")
        if src not in names or dst not in names:
            continue
        opens = syn in ("1", "True") and ack in ("0", "False")
        capture.add(stream, names[src], names[dst], int(dport), opens, int(seq),
                    bytes.fromhex(data.replace(":", "")))
    return capture


def opens_tls(data):
    if data.startswith(POSTGRES_SSL_REQUEST):
        data = data[len(POSTGRES_SSL_REQUEST):]
    return data.startswith(TLS_HANDSHAKE)


def hops_not_in_tls(wire, expected):
    """Prints the connections seen of each expected (client, server, port)
    hop; returns the expected hops never seen and, for every hop between the
    hosts, how many of its connections did not open with TLS. A connection
    whose opening the capture lacks is counted apart and printed; more than
    one in a hundred makes the capture itself fail."""
    seen = defaultdict(list)
    unopened = defaultdict(int)
    for (stream, client, server, port, sender), data in wire.items():
        if sender != client:
            continue
        if stream in wire.unopened:
            unopened[(client, server, port)] += 1
        else:
            seen[(client, server, port)].append(opens_tls(data))
    for hop in expected:
        print(f"{hop}: {len(seen[hop])} connection(s)")
    print(f"connections whose opening the capture lacks: {dict(unopened) or 'none'}")
    opened = sum(len(tls) for tls in seen.values())
    assert sum(unopened.values()) * 100 <= opened, f"the capture lacks too many openings: {dict(unopened)}"
    missing = [hop for hop in expected if not seen[hop]]
    plaintext = {hop: tls.count(False) for hop, tls in seen.items() if not all(tls)}
    return missing, plaintext


def payload_bytes(wire):
    """All the payload between the hosts, printed with its connection count."""
    total = sum(len(data) for data in wire.values())
    print(f"{len(wire.payload)} directions of {len({key[0] for key in wire.payload})} connections, {total} bytes")
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
