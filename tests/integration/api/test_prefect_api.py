# -*- coding: utf-8 -*-
"""The REST client shared by the API modules, against a real server: every
failure a user can cause gives a message that says what to fix and carries
neither the credentials nor the submitted values."""
from __future__ import annotations

import email.utils
import http.server
import json
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

from ansible_collections.selfhosted.prefect.plugins.module_utils import prefect_api
from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    PrefectApi, PrefectApiError, retry_after_seconds, retry_wait, subset_differs, validation_errors,
)

from .conftest import AUTH_STRING, free_port


def client(api_url, auth_string=AUTH_STRING, max_retries=5, timeout=10, ca_path=None):
    return PrefectApi(dict(api_url=api_url, auth_string=auth_string, ca_path=ca_path,
                           validate_certs=True, timeout=timeout, max_retries=max_retries))


def test_get_reads_an_object(server):
    created = client(server).post("/variables/", {"name": "api_probe", "value": 1})
    assert client(server).get("/variables/name/api_probe")["id"] == created["id"]


def test_missing_object_is_none_when_allowed_else_a_404_error(server):
    assert client(server).get("/variables/name/nothing_here", missing_ok=True) is None
    with pytest.raises(PrefectApiError) as caught:
        client(server).get("/variables/name/nothing_here")
    assert caught.value.status == 404
    assert "(404)" in str(caught.value)


def test_wrong_credentials_say_which_setting_to_fix_without_echoing_them(server):
    with pytest.raises(PrefectApiError) as caught:
        client(server, auth_string="ops:wrong-pass").get("/variables/name/x", missing_ok=True)
    assert caught.value.status == 401
    assert "PREFECT_SERVER_API_AUTH_STRING" in str(caught.value)
    assert "wrong-pass" not in str(caught.value)


def test_unreachable_api_names_the_url():
    url = "http://127.0.0.1:%d/api" % free_port()
    with pytest.raises(PrefectApiError) as caught:
        client(url).get("/variables/name/x")
    assert str(caught.value).startswith("cannot reach the Prefect API at " + url)


def test_422_gives_the_servers_message_without_the_submitted_value(server):
    with pytest.raises(PrefectApiError) as caught:
        client(server).post("/variables/", {"name": "Not Valid!", "value": "hunter2-value"})
    message = str(caught.value)
    assert caught.value.status == 422
    assert message.startswith("the Prefect API refused POST /variables/ (422): name: ")
    assert "hunter2-value" not in message


def test_changes_pass_csrf_protection_with_a_token_of_their_own(csrf_server):
    api = client(csrf_server)
    created = api.post("/variables/", {"name": "behind_csrf", "value": 1})
    assert api.headers["Prefect-Csrf-Client"]
    api.patch("/variables/name/behind_csrf", {"value": 2})
    assert client(csrf_server).get("/variables/name/behind_csrf")["value"] == 2
    client(csrf_server).delete("/variables/name/behind_csrf")
    assert client(csrf_server).get("/variables/name/behind_csrf", missing_ok=True) is None
    assert created["name"] == "behind_csrf"


def test_a_server_without_csrf_protection_gets_no_token_request(server):
    api = client(server)
    api.post("/variables/", {"name": "no_csrf", "value": 1})
    assert "Prefect-Csrf-Token" not in api.headers


def test_validation_errors_drop_the_input_and_the_body_prefix():
    payload = {"exception_detail": [
        {"loc": ["body", "concurrency_limit"], "msg": "Input should be >= 0", "input": -5},
        {"loc": [], "msg": "whole body"},
    ]}
    assert validation_errors(payload) == "concurrency_limit: Input should be >= 0; whole body"


@pytest.mark.parametrize("wanted, current, differs", [
    ({"a": 1}, {"a": 1, "id": "x"}, False),           # server-filled keys are ignored
    ({"a": 1}, {"a": 2}, True),
    ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, False),
    ({"a": 1}, None, True),
    (["x", "y"], ["y", "x"], False),                   # scalar lists are sets
    (["x"], ["x", "y"], True),
    ([{"t": 1}], [{"t": 1, "n": None}], False),
    ([{"t": 1}], [{"t": 1}, {"t": 2}], True),          # an extra action is drift
    ([{"t": 1}, {"t": 2}], [{"t": 2}, {"t": 1}], True),  # actions keep their order
    (90, 90.0, False),
    (True, 1, True),                                   # JSON true is not 1
    ([1], [True], True),
])
def test_subset_differs(wanted, current, differs):
    assert subset_differs(wanted, current) is differs


OK = {"id": "0680f0d6-0000-7000-8000-000000000000", "name": "ok"}  # an object, as Prefect answers


class BusyServer(http.server.ThreadingHTTPServer):
    """Answers each request with the next of `answers`, then 200 with the
    JSON body OK; records what it received. An answer is a (status, headers)
    pair, (status, headers, "cut") for half a body, (status, headers, bytes)
    for that body, or one
    of the ways a connection fails: "drop" (closed without an answer),
    "truncate" (half a 200's body, then closed), "stall" (no answer until
    the test ends).
    It stands in for what a real Prefect server sends only now and then (a
    503 on a busy SQLite file or during a PostgreSQL failover), for a
    proxy's 429 and 502, and for a server restarting or a load balancer
    dropping connections."""

    def __init__(self, answers, port=0, tls=None):
        self.answers = list(answers)
        self.received = []
        self.released = threading.Event()  # ends a stall
        super().__init__(("127.0.0.1", port), BusyHandler)
        self.scheme = "https" if tls else "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls["cert"], tls["key"])
            self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def api_url(self):
        return "%s://127.0.0.1:%d/api" % (self.scheme, self.server_address[1])


class BusyHandler(http.server.BaseHTTPRequestHandler):
    def handle_one_request_of_any_method(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.received.append((self.command, self.path, self.rfile.read(length)))
        answer = self.server.answers.pop(0) if self.server.answers else (200, {})
        if answer == "drop":
            self.close_connection = True
            return
        if answer == "stall":
            self.server.released.wait()
            return
        status, headers, *extra = (200, {}, "cut") if answer == "truncate" else answer
        cut = extra == ["cut"]
        body = json.dumps(OK if status == 200 else {"detail": "Service Unavailable"}).encode()
        if extra and isinstance(extra[0], bytes):
            body = extra[0]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if cut else body)

    do_GET = do_POST = do_PATCH = do_DELETE = handle_one_request_of_any_method

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: {"cert": path, "key": path}."""
    directory = tmp_path_factory.mktemp("tls")
    files = {"cert": str(directory / "cert.pem"), "key": str(directory / "key.pem")}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", files["key"], "-out", files["cert"]], check=True, capture_output=True)
    return files


@pytest.fixture
def busy_server():
    """busy_server(answers, port=0, tls=None) -> a running BusyServer."""
    servers = []

    def start(answers, port=0, tls=None):
        server = BusyServer(answers, port, tls)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.released.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def waits(monkeypatch):
    """The seconds the client waited between tries, without waiting."""
    recorded = []
    monkeypatch.setattr(prefect_api.time, "sleep", recorded.append)
    return recorded


def test_a_busy_server_is_asked_again_after_growing_waits(busy_server, waits):
    server = busy_server([(503, {}), (502, {}), (429, {}), (408, {})])
    assert client(server.api_url).patch("/variables/name/v", {"value": 1}) == OK
    assert len(server.received) == 5
    assert set(server.received) == {("PATCH", "/api/variables/name/v", b'{"value": 1}')}
    assert len(waits) == 4
    for retry, wait in enumerate(waits, start=1):
        assert 0.8 * 2 ** retry <= wait <= 1.2 * 2 ** retry


@pytest.mark.parametrize("method", ["post", "delete"])
def test_creates_and_deletes_are_sent_again_only_when_they_were_not_done(busy_server, waits, method):
    """A proxy's 502 or 408 may follow a change the server made: sent again,
    a create would make a second automation, a delete would fail on a 404."""
    server = busy_server([(503, {}), (429, {}), (502, {})])
    send = getattr(client(server.api_url), method)
    with pytest.raises(PrefectApiError) as caught:
        send("/automations/", {"name": "a"}) if method == "post" else send("/automations/1")
    assert caught.value.status == 502
    assert str(caught.value).endswith("(after 2 retries)")
    assert len(server.received) == 3
    assert len(waits) == 2


def test_retry_after_is_honoured_in_seconds_or_as_a_date_and_capped(busy_server, waits):
    soon = email.utils.formatdate(time.time() + 20, usegmt=True)
    server = busy_server([(503, {"Retry-After": "7"}), (429, {"Retry-After": soon}),
                          (503, {"Retry-After": "3600"})])
    assert client(server.api_url).get("/health") == OK
    assert waits[0] == 7
    assert 17 <= waits[1] <= 20
    assert waits[2] == prefect_api.LONGEST_WAIT == 60


def test_the_error_after_the_last_retry_says_how_many_were_made(busy_server, waits):
    server = busy_server([(503, {})] * 4)
    with pytest.raises(PrefectApiError) as caught:
        client(server.api_url, max_retries=2).patch("/work_pools/x", {"description": "d"})
    assert caught.value.status == 503
    assert str(caught.value) == ("PATCH %s/work_pools/x failed with HTTP 503: Service Unavailable "
                                 "(after 2 retries)" % server.api_url)
    assert len(server.received) == 3
    assert len(waits) == 2


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500])
def test_answers_that_will_not_change_are_not_retried(busy_server, waits, status):
    server = busy_server([(status, {})])
    with pytest.raises(PrefectApiError) as caught:
        client(server.api_url).get("/variables/name/x")
    assert caught.value.status == status
    assert "retries" not in str(caught.value)
    assert len(server.received) == 1
    assert waits == []


def test_max_retries_zero_sends_each_request_once(busy_server, waits):
    server = busy_server([(503, {})])
    with pytest.raises(PrefectApiError):
        client(server.api_url, max_retries=0).get("/health")
    assert len(server.received) == 1
    assert waits == []


def test_a_refused_connection_fails_at_once(waits):
    url = "http://127.0.0.1:%d/api" % free_port()
    with pytest.raises(PrefectApiError):
        client(url).get("/health")
    assert waits == []


@pytest.mark.parametrize("header, seconds", [
    (None, None), ("", None), ("12", 12.0), (" 3 ", 3.0), ("1.5", 1.5), ("-5", 0.0), ("soon", None),
    ("nan", None), ("inf", None), ("\u00b2", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 -0000", 0.0), ("Mon, 01 Jan 9999999999999999999999 00:00:00 GMT", None),
])
def test_retry_after_seconds(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_retry_wait_grows_spreads_and_stops_at_the_cap():
    for retry in range(1, 6):
        assert 0.8 * 2 ** retry <= retry_wait(retry) <= 1.2 * 2 ** retry
    assert retry_wait(9) == prefect_api.LONGEST_WAIT
    assert retry_wait(1, retry_after=0.0) == 0.0


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("failure", ["drop", "truncate", "stall"])
@pytest.mark.parametrize("method", ["get", "patch"])
def test_reads_and_updates_are_sent_again_after_a_dropped_connection(
        busy_server, waits, tls, method, failure, scheme):
    """Over TLS too: a peer that closes without TLS's close_notify (a killed
    server, a proxy cutting a connection) reads as a closed connection."""
    server = busy_server([failure, failure], tls=tls if scheme == "https" else None)
    api = client(server.api_url, timeout=1 if failure == "stall" else 10, ca_path=tls["cert"])
    answer = api.get("/health") if method == "get" else api.patch("/variables/name/v", {"value": 1})
    assert answer == OK
    assert len(server.received) == 3
    assert len(waits) == 2


@pytest.mark.parametrize("method", ["post", "delete"])
def test_an_unanswered_create_or_delete_is_not_sent_again(busy_server, waits, method):
    """The server may have made the automation before the connection broke;
    the next run reads what is there and finds it."""
    server = busy_server(["drop"])
    send = getattr(client(server.api_url), method)
    with pytest.raises(PrefectApiError) as caught:
        send("/automations/", {"name": "a"}) if method == "post" else send("/automations/1")
    message = str(caught.value)
    assert "%s %s/automations/" % (method.upper(), server.api_url) in message
    assert "sent, but no whole answer came" in message
    assert message.endswith("(the server may have done it; the next run reads what is there)")
    assert len(server.received) == 1
    assert waits == []


def test_a_server_restarting_is_waited_for_once_it_has_answered(busy_server, monkeypatch):
    """Refused after an answer: the server is restarting (an upgrade, a
    failover), and nothing was sent, so even a create is sent again."""
    first = busy_server([])
    api = client(first.api_url)
    assert api.get("/health") == OK
    port = first.server_address[1]
    first.shutdown()
    first.server_close()
    restarted = []
    waits = []

    def wait_and_restart(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            restarted.append(busy_server([], port))
    monkeypatch.setattr(prefect_api.time, "sleep", wait_and_restart)
    assert api.post("/automations/", {"name": "a"}) == OK
    assert len(waits) == 2
    assert restarted[0].received == [("POST", "/api/automations/", b'{"name": "a"}')]


def test_a_ca_file_that_cannot_be_read_fails_at_once(busy_server, waits, tmp_path):
    server = busy_server([])
    with pytest.raises(PrefectApiError) as caught:
        client(server.api_url.replace("http:", "https:"), ca_path=str(tmp_path / "missing.pem")).get("/health")
    assert str(caught.value).startswith("cannot reach the Prefect API at https://127.0.0.1:")
    assert server.received == []
    assert waits == []


@pytest.mark.parametrize("reason, transport", [
    (ConnectionRefusedError(111, "Connection refused"), "unsent"),
    (socket.timeout("timed out"), "unsent"),
    (ConnectionResetError(104, "Connection reset by peer"), "unsent"),
    (BrokenPipeError(32, "Broken pipe"), "unsent"),
    (socket.gaierror(-2, "Name or service not known"), None),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), None),
])
def test_connection_failures_before_the_request_went_out(reason, transport):
    assert client("http://prefect1:4200/api")._unsent_error(reason).transport == transport


@pytest.mark.parametrize("method, transport, has_connected, retried", [
    ("GET", "unsent", False, False),         # a wrong api_url fails at once
    ("GET", "unsent", True, True),           # a server restarting
    ("POST", "unsent", True, True),
    ("DELETE", "unsent", True, True),
    ("GET", "unanswered", True, True),
    ("PUT", "unanswered", True, True),
    ("PATCH", "unanswered", True, True),
    ("POST", "unanswered", True, False),
    ("DELETE", "unanswered", True, False),
    ("GET", None, True, False),              # a name that does not resolve, a TLS error
])
def test_which_connection_failures_are_retried(method, transport, has_connected, retried):
    api = client("http://prefect1:4200/api")
    api.has_connected = has_connected
    assert api._retryable(method, PrefectApiError("failed", transport=transport)) is retried


@pytest.mark.parametrize("failure, cause", [
    ("drop", "Remote end closed connection without response"),
    ("truncate", "IncompleteRead"),
    ("stall", "timed out"),
])
def test_an_answer_that_never_came_whole_is_named(busy_server, waits, failure, cause):
    server = busy_server([failure])
    with pytest.raises(PrefectApiError) as caught:
        client(server.api_url, max_retries=0, timeout=1 if failure == "stall" else 10).get("/work_pools/x")
    assert str(caught.value).startswith(
        "GET %s/work_pools/x sent, but no whole answer came: " % server.api_url)
    assert cause in str(caught.value)
    assert waits == []


def test_an_error_page_cut_short_is_still_an_answer_to_retry(busy_server, waits):
    server = busy_server([(503, {}, "cut")])
    assert client(server.api_url).get("/health") == OK
    assert len(waits) == 1


@pytest.fixture
def banner_port():
    """A port where a server that does not speak HTTP (an SSH daemon, say)
    reads the request, answers with its banner and closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        connection, _address = listener.accept()
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(4096)
            connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_port_that_does_not_speak_http_fails_at_once(banner_port, waits):
    url = "http://127.0.0.1:%d/api" % banner_port
    with pytest.raises(PrefectApiError) as caught:
        client(url).get("/health")
    assert str(caught.value).startswith("GET %s/health did not get an HTTP answer: " % url)
    assert str(caught.value).endswith("(is api_url the Prefect API?)")
    assert waits == []


def test_a_port_that_is_no_number_fails_at_once(waits):
    with pytest.raises(PrefectApiError) as caught:
        client("http://127.0.0.1:42x/api").get("/health")
    assert str(caught.value) == "api_url http://127.0.0.1:42x/api is no URL: nonnumeric port: '42x'"
    assert waits == []


def test_a_password_in_api_url_is_left_out_of_messages(waits):
    port = free_port()
    with pytest.raises(PrefectApiError) as caught:
        client("http://ops:s3cret@127.0.0.1:%d/api" % port).get("/health")
    assert "s3cret" not in str(caught.value)
    assert "http://********@127.0.0.1:%d/api" % port in str(caught.value)


# ---------------------------------------------------------------- hostile answers and arguments

@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_redirect_is_not_followed_so_the_credentials_stay_with_api_url(busy_server, waits, status, method):
    elsewhere = busy_server([])
    server = busy_server([(status, {"Location": elsewhere.api_url.replace("://", "://someone:pw@") + "/x"})])
    api = client(server.api_url)
    with pytest.raises(PrefectApiError) as caught:
        api.get("/x") if method == "get" else api.post("/x", {})
    assert "answered HTTP %d, a redirect to http://********@127.0.0.1:%d/api/x" % (
        status, elsewhere.server_address[1]) in str(caught.value)
    assert "set api_url" in str(caught.value) and "pw" not in str(caught.value)
    assert elsewhere.received == [] and len(server.received) == 1 and waits == []


def test_a_downgrade_from_https_to_http_is_not_followed(busy_server, waits, tls):
    plain = busy_server([])
    server = busy_server([(302, {"Location": plain.api_url + "/x"})], tls=tls)
    with pytest.raises(PrefectApiError, match="a redirect to http://127.0.0.1"):
        client(server.api_url, ca_path=tls["cert"]).get("/x")
    assert plain.received == []


@pytest.mark.parametrize("body, words", [
    (b"null", "answered nothing (null), not a Prefect object"),
    (b"{}", "answered an empty object, not a Prefect object"),
    (b'{"name": "a"}', "answered an object without id, not a Prefect object"),
    (b'{"id": "a"}', "answered an object without name, not a Prefect object"),
    (b"[1, 2]", "answered a list, not a Prefect object"),
    (b'"text"', "answered a str, not a Prefect object"),
])
def test_an_answer_that_is_json_but_no_prefect_object_is_named(busy_server, waits, body, words):
    server = busy_server([(200, {}, body), (200, {}, body)])
    for call in (lambda api: api.get("/work_pools/a"), lambda api: api.post("/variables/", {})):
        with pytest.raises(PrefectApiError, match=re.escape(words + ": is api_url the Prefect API?")):
            call(client(server.api_url))


@pytest.mark.parametrize("body", [b"{}", b"[1]", b'[{"name": "a"}]', b"null"])
def test_a_filter_must_answer_a_list_of_objects(busy_server, waits, body):
    server = busy_server([(200, {}, body)])
    with pytest.raises(PrefectApiError, match="did not answer a list of objects"):
        client(server.api_url).post("/automations/filter", {}, answer=list)


@pytest.mark.parametrize("payload, shown", [
    ({"detail": [{"loc": 3, "msg": "bad"}]}, "3: bad"),
    ({"detail": [{"loc": ["body", "name"]}]}, "name: invalid"),
    ({"detail": {"loc": ["body", "x"], "msg": "m"}}, "x: m"),
    ({"detail": 7}, "7"),
    ({"detail": []}, "no details"),
    ({}, "no details"),
])
def test_odd_validation_answers_still_give_a_message(payload, shown):
    assert validation_errors(payload) == shown


def test_a_body_past_the_bound_is_not_sent(busy_server, waits):
    server = busy_server([])
    with pytest.raises(PrefectApiError, match=r"would send 10485\d\d bytes; the modules send at most 1048576"):
        client(server.api_url).post("/variables/", {"value": "x" * prefect_api.LARGEST_BODY})
    assert server.received == []


# ---------------------------------------------------------------- the property, against a misbehaving server

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st  # noqa: E402

from ansible_collections.selfhosted.prefect.plugins.modules import (  # noqa: E402
    prefect_automation, prefect_concurrency_limit, prefect_deployment_prune, prefect_variable, prefect_work_pool,
    prefect_work_queue,
)

BODIES = st.one_of(
    st.sampled_from([b"", b"null", b"{}", b"[]", b"[{}]", b'"x"', b"7", b"{", b"\xff\xfe",
                     json.dumps(OK).encode(), b'{"detail": [{"loc": 3, "msg": "bad"}]}',
                     b'{"detail": "CSRF token invalid"}', b'{"detail": {"x": 1}}',
                     json.dumps({"id": "v1", "name": "v", "value": 1, "tags": []}).encode(),
                     json.dumps({"id": "p1", "name": "p", "type": "process"}).encode(),
                     json.dumps({"prefect": {"process": {"type": "process", "default_base_job_configuration": {}}},
                                 "x": [], "y": {"z": 1}}).encode()]),
    st.binary(max_size=40))
ANSWERS = st.lists(st.tuples(st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 500, 503]),
                             st.just({}), BODIES), max_size=4)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
NAMES = st.one_of(st.sampled_from(["v", "p", "a"]), st.text(max_size=12))
MODULE_ARGS = st.one_of(
    st.builds(lambda name, value: (prefect_variable, dict(name=name, value=value)), NAMES, JSON),
    st.builds(lambda name, limit: (prefect_work_pool, dict(name=name, base_job_template={}, concurrency_limit=limit)),
              NAMES, st.one_of(st.none(), st.integers())),
    # A new pool without a template asks the server for its type's default.
    st.builds(lambda name: (prefect_work_pool, dict(name=name)), NAMES),
    st.builds(lambda name, state: (prefect_automation, dict(name=name, trigger={}, actions=[], state=state)),
              NAMES, st.sampled_from(["present", "absent"])),
    st.builds(lambda name, pool, state: (prefect_work_queue, dict(name=name, work_pool=pool, priority=1, state=state)),
              NAMES, NAMES, st.sampled_from(["present", "absent"])),
    st.builds(lambda key, name, state: (prefect_concurrency_limit, {key: name or "c", "limit": 2, "state": state}),
              st.sampled_from(["name", "tag"]), NAMES, st.sampled_from(["present", "absent"])),
    st.builds(lambda pool: (prefect_deployment_prune, dict(work_pools=[pool or "p"], keep=[])), NAMES))


@hsettings(max_examples=150, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(answers=ANSWERS, module_args=MODULE_ARGS, check=st.booleans())
def test_any_answer_of_a_misbehaving_server_ends_in_a_result_or_a_message(
        busy_server, waits, run, answers, module_args, check):
    module, args = module_args
    server = busy_server(answers)
    result = run(module, dict(args, api_url=server.api_url, auth_string=AUTH_STRING, max_retries=1, timeout=5),
                 check=check)
    if result.get("failed"):
        assert isinstance(result["msg"], str) and result["msg"] and "Traceback" not in result["msg"], result
        assert AUTH_STRING not in json.dumps(result)
        return
    key = {prefect_variable: "variable", prefect_work_pool: "work_pool", prefect_automation: "automation",
           prefect_work_queue: "work_queue", prefect_concurrency_limit: "concurrency_limit",
           prefect_deployment_prune: "removed"}[module]
    assert result[key] is None or isinstance(result[key], list if module is prefect_deployment_prune else dict), result
