"""What crossed a scenario's network. A scenario that sets
MOLECULE_WIRE_CAPTURE (its molecule.yml) has dumpcap record every TCP packet
between its hosts from before its first container starts
(molecule/shared/create.yml); its test_wire.py stops the capture and reads
it here with tshark (Debian), then checks the hops it expects."""

import os
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import docker

CAPTURE = os.environ.get("MOLECULE_WIRE_CAPTURE", "")
TLS_HANDSHAKE = b"\x16\x03"  # the record a ClientHello opens with
POSTGRES_SSL_REQUEST = bytes.fromhex("0000000804d2162f")
HTTP_STARTS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"HTTP/1.")


def capture_messages():
    """What dumpcap printed (create.yml sends it beside the capture), and
    the room left where it writes."""
    log = Path(f"{CAPTURE}.log")
    printed = log.read_text(errors="replace") if log.exists() else f"(no {log})"
    free = shutil.disk_usage(Path(CAPTURE).parent).free
    return f"dumpcap printed:\n{printed}\n{free / 2**30:.1f} GiB free beside the capture"


def stop_capture():
    """Stops dumpcap and prints its counts, dropped packets among them."""
    pattern = f"dumpcap .* -w {CAPTURE}$"
    stopped = subprocess.run(["pkill", "-INT", "-f", pattern], check=False)
    assert stopped.returncode == 0, f"dumpcap no longer captured {CAPTURE}. {capture_messages()}"
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-f", pattern], check=False, capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "dumpcap did not stop"
        time.sleep(0.2)
    print(capture_messages())


def addresses(network, names):
    """The scenario hosts' addresses on its network, by inventory name (the
    containers' host name; ha's containers have names of their own)."""
    client = docker.from_env()
    containers = client.networks.get(network).attrs["Containers"]
    found = {client.containers.get(cid).attrs["Config"]["Hostname"]: container["IPv4Address"].split("/")[0]
             for cid, container in containers.items()}
    return {name: found[name] for name in names}


HEAD = 4096  # bytes kept of each direction: its opening and an HTTP first line
SCAN_BUDGET = 32 * 1024 * 1024  # bytes held before they are searched for secrets


class Capture:
    """The TCP payload between the scenario's hosts, per connection and
    direction, (stream, client, server, port, sender), read in order without
    retransmissions. The client is the side whose SYN opened the connection.
    Read once, as tshark prints it, and kept small (a long scenario's capture
    holds gigabytes): each direction's first HEAD bytes (`head`), its length,
    and whether any of the secret forms was in its bytes, segments joined
    (`leaked`). Connections whose SYN or first client segment the capture
    lacks (dumpcap dropped it, or tshark took a segment for a retransmission)
    are in `unopened`: their bytes still count for leaks, but they cannot say
    how they opened."""

    def __init__(self, forms=(), scan_budget=SCAN_BUDGET):
        self.forms = [form.encode() for form in forms]
        self.scan_budget = scan_budget
        self.overlap = max((len(form) for form in self.forms), default=1) - 1
        self.head = defaultdict(bytes)
        self.length = defaultdict(int)
        self.leaked = set()
        self.unopened = set()
        self.opener = {}
        self._pending = defaultdict(bytearray)
        self._pending_bytes = 0

    def add(self, stream, src, dst, dport, syn, seq, data):
        if syn:
            self.opener.setdefault(stream, (src, dst, dport))
            return
        if stream not in self.opener:
            self.unopened.add(stream)
        client, server, port = self.opener.setdefault(stream, (src, dst, dport))
        key = (stream, client, server, port, src)
        # Relative sequence number 1 is the first byte after the SYN.
        if src == client and not self.length[key] and seq != 1:
            self.unopened.add(stream)
        if len(self.head[key]) < HEAD:
            self.head[key] += data[:HEAD - len(self.head[key])]
        self.length[key] += len(data)
        if self.forms and key not in self.leaked:
            self._pending[key] += data
            self._pending_bytes += len(data)
            if self._pending_bytes > self.scan_budget:
                self.scan()

    def scan(self):
        """Search what is held for the secret forms; keep of each direction
        only the bytes a form could still continue from."""
        for key, data in self._pending.items():
            if key not in self.leaked and any(form in data for form in self.forms):
                self.leaked.add(key)
            del data[:max(0, len(data) - self.overlap)]
        self._pending_bytes = sum(len(data) for data in self._pending.values())


def streams(hosts, forms=()):
    """The Capture of the TCP payload between the given hosts ({name:
    address}), searched for the given secret forms."""
    names = {address: name for name, address in hosts.items()}
    capture = Capture(forms)
    # Only the layers the fields need: no TLS, HTTP or PostgreSQL dissection.
    with subprocess.Popen(
            ["tshark", "-r", CAPTURE, "-n", "--disable-protocol", "ALL", "--enable-protocol", "eth",
             "--enable-protocol", "ip", "--enable-protocol", "tcp", "-Y",
             "(tcp.len > 0 and not tcp.analysis.retransmission) or (tcp.flags.syn == 1 and tcp.flags.ack == 0)",
             "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "ip.dst", "-e", "tcp.dstport",
             "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.seq", "-e", "tcp.payload"],
            stdout=subprocess.PIPE, text=True) as tshark:
        for line in tshark.stdout:
            stream, src, dst, dport, syn, ack, seq, data = line.rstrip("\n").split("\t")
            if src not in names or dst not in names:
                continue
            opens = syn in ("1", "True") and ack in ("0", "False")
            capture.add(stream, names[src], names[dst], int(dport), opens, int(seq),
                        bytes.fromhex(data.replace(":", "")))
    assert tshark.returncode == 0, f"tshark failed ({tshark.returncode})"
    capture.scan()
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
    carried = defaultdict(int)
    for key, length in wire.length.items():
        carried[key[1:4]] += length
    for (stream, client, server, port, sender), data in wire.head.items():
        if sender != client:
            continue
        if stream in wire.unopened:
            unopened[(client, server, port)] += 1
        else:
            seen[(client, server, port)].append(opens_tls(data))
    for hop in expected:
        print(f"{hop}: {len(seen[hop])} connection(s)")
    print("the hops that carried the most bytes:",
          ", ".join(f"{hop} {size}" for hop, size in sorted(carried.items(), key=lambda item: -item[1])[:8]))
    print(f"connections whose opening the capture lacks: {dict(unopened) or 'none'}")
    opened = sum(len(tls) for tls in seen.values())
    assert sum(unopened.values()) * 100 <= opened, f"the capture lacks too many openings: {dict(unopened)}"
    missing = [hop for hop in expected if not seen[hop]]
    plaintext = {hop: tls.count(False) for hop, tls in seen.items() if not all(tls)}
    return missing, plaintext


def payload_bytes(wire):
    """All the payload between the hosts, printed with its connection count."""
    total = sum(wire.length.values())
    print(f"{len(wire.length)} directions of {len({key[0] for key in wire.length})} connections, {total} bytes")
    return total


def plaintext_http(wire, redirectors=()):
    """Every plaintext HTTP message between hosts, but the redirects to
    HTTPS of the given (host, port)s and the requests they answer."""
    found = []
    for (_stream, client, server, port, sender), data in wire.head.items():
        if not data.startswith(HTTP_STARTS):
            continue
        first_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        redirect = (server, port) in redirectors and (sender == client or first_line.split()[1] == "301")
        if not redirect:
            found.append((client, server, port, first_line))
    return found


def leaks(wire):
    """The hops whose bytes held any of the secret forms streams() was given."""
    assert wire.forms, "streams() was given no secret form to look for"
    return sorted({(client, server, port) for (_stream, client, server, port, _sender) in wire.leaked})
