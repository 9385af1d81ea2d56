# -*- coding: utf-8 -*-
"""The REST client shared by the API modules, against a real server: every
failure a user can cause gives a message that says what to fix and carries
neither the credentials nor the submitted values."""
from __future__ import annotations

import email.utils
import http.server
import json
import threading
import time

import pytest

from ansible_collections.selfhosted.prefect.plugins.module_utils import prefect_api
from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    PrefectApi, PrefectApiError, retry_after_seconds, retry_wait, subset_differs, validation_errors,
)

from .conftest import AUTH_STRING, free_port


def client(api_url, auth_string=AUTH_STRING, max_retries=5):
    return PrefectApi(dict(api_url=api_url, auth_string=auth_string, ca_path=None,
                           validate_certs=True, timeout=10, max_retries=max_retries))


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


class BusyServer(http.server.ThreadingHTTPServer):
    """Answers each request with the next of `answers` ((status, headers)),
    then 200 with the JSON body {"ok": true}; records what it received.
    It stands in for what a real Prefect server sends only now and then (a
    503 on a busy SQLite file or during a PostgreSQL failover) and for a
    proxy's 429 and 502."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.received = []
        super().__init__(("127.0.0.1", 0), BusyHandler)

    @property
    def api_url(self):
        return "http://127.0.0.1:%d/api" % self.server_address[1]


class BusyHandler(http.server.BaseHTTPRequestHandler):
    def handle_one_request_of_any_method(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.received.append((self.command, self.path, self.rfile.read(length)))
        status, headers = self.server.answers.pop(0) if self.server.answers else (200, {})
        body = json.dumps({"ok": True} if status == 200 else {"detail": "Service Unavailable"}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = handle_one_request_of_any_method

    def log_message(self, *args):
        pass


@pytest.fixture
def busy_server():
    """busy_server(answers) -> a running BusyServer."""
    servers = []

    def start(answers):
        server = BusyServer(answers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
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
    assert client(server.api_url).patch("/variables/name/v", {"value": 1}) == {"ok": True}
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
    assert client(server.api_url).get("/health") == {"ok": True}
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
