"""wire_capture.Capture (molecule/shared/pytest_plugin/wire_capture.py), the
reader of the scenarios' network captures: what it keeps of each direction
and its search for secrets, whatever the segmentation and however often it
searches what it holds."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest
from hypothesis import given, strategies as st

PATH = pathlib.Path(__file__).resolve().parents[3] / "molecule" / "shared" / "pytest_plugin" / "wire_capture.py"
SPEC = importlib.util.spec_from_file_location("wire_capture", PATH)
wire_capture = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(wire_capture)

SECRET = "s3cr%2Fet-Value"


def feed(capture, payload, cuts, sender="client"):
    """payload from `sender` in segments cut at the given offsets, after the SYN."""
    capture.add("7", "client", "server", 5432, True, 0, b"")
    seq, bounds = 1, sorted({0, len(payload), *(cut % (len(payload) + 1) for cut in cuts)})
    for start, end in zip(bounds, bounds[1:]):
        src, dst = (sender, "server") if sender == "client" else (sender, "client")
        capture.add("7", src, dst, 5432, False, seq, payload[start:end])
        seq += end - start


@given(before=st.binary(max_size=300), after=st.binary(max_size=300),
       cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=12),
       budget=st.integers(min_value=1, max_value=64))
def test_a_secret_is_found_however_the_segments_and_searches_cut_it(before, after, cuts, budget):
    capture = wire_capture.Capture([SECRET], scan_budget=budget)
    payload = before + SECRET.encode() + after
    feed(capture, payload, cuts)
    capture.scan()
    key = ("7", "client", "server", 5432, "client")
    assert capture.leaked == {key}
    assert capture.length[key] == len(payload)
    assert capture.head[key] == payload[:wire_capture.HEAD]
    assert wire_capture.leaks(capture) == [("client", "server", 5432)]


@given(payload=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=12),
       budget=st.integers(min_value=1, max_value=64))
def test_bytes_without_the_secret_are_no_leak(payload, cuts, budget):
    capture = wire_capture.Capture([SECRET], scan_budget=budget)
    feed(capture, payload.replace(SECRET.encode(), b""), cuts)
    capture.scan()
    assert capture.leaked == set() and wire_capture.leaks(capture) == []


def test_only_the_head_of_a_long_direction_is_kept_and_its_opening_judged():
    capture = wire_capture.Capture([SECRET])
    handshake = b"\x16\x03\x01" + bytes(10_000)
    feed(capture, handshake, [100, 5000])
    key = ("7", "client", "server", 5432, "client")
    assert capture.head[key] == handshake[:wire_capture.HEAD] and capture.length[key] == len(handshake)
    assert wire_capture.hops_not_in_tls(capture, [("client", "server", 5432)]) == ([], {})


def test_a_connection_seen_without_its_opening_is_unopened():
    capture = wire_capture.Capture()
    capture.add("9", "client", "server", 443, False, 5000, b"GET / HTTP/1.1\r\n")
    assert capture.unopened == {"9"}


def test_leaks_refuses_a_capture_read_without_secret_forms():
    with pytest.raises(AssertionError, match="no secret form"):
        wire_capture.leaks(wire_capture.Capture())
