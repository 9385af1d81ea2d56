# -*- coding: utf-8 -*-
"""A real Prefect server (SQLite, basic auth) for the modules that talk to
the REST API: started once per session from $PREFECT_BIN's venv, on a free
loopback port, in a throwaway PREFECT_HOME."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

PREFECT_BIN = os.environ.get("PREFECT_BIN")
AUTH_STRING = "ops:s3cret pass"
# The server answers 503 when its SQLite file is busy (its own services write
# to it too); Prefect's clients try again, and so does this harness.
BUSY_ATTEMPTS = 6

pytestmark = pytest.mark.skipif(
    not PREFECT_BIN, reason="PREFECT_BIN is not set (source scripts/lib/host.sh and run ensure_prefect_venv)")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url, proc, log_path, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    with open(log_path) as log:
        pytest.fail("the Prefect server did not become healthy:\n" + log.read()[-3000:])


@pytest.fixture(scope="session")
def prefect_python():
    return os.path.join(os.path.dirname(PREFECT_BIN), "python")


def start_server(tmp_path_factory, **settings):
    """Yield the API root URL of a server with basic auth AUTH_STRING and
    the given PREFECT_* settings; stop it afterwards."""
    if not PREFECT_BIN:
        pytest.skip("PREFECT_BIN is not set")
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_API_AUTH_STRING=AUTH_STRING,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false", **settings)
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([PREFECT_BIN, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(home))
    url = "http://127.0.0.1:%d/api" % port
    try:
        wait_healthy(url, proc, log_path)  # /health needs no auth
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The API root URL of a running server; basic auth is AUTH_STRING."""
    yield from start_server(tmp_path_factory)


@pytest.fixture(scope="session")
def csrf_server(tmp_path_factory):
    """The same with CSRF protection on."""
    yield from start_server(tmp_path_factory, PREFECT_SERVER_CSRF_PROTECTION_ENABLED="true")


@pytest.fixture
def api(server):
    """The connection options of a module, with the right credentials."""
    return dict(api_url=server, auth_string=AUTH_STRING)


@pytest.fixture
def rest(server):
    """rest(method, path, body=None) -> parsed JSON or None: plain urllib
    with the right credentials, to set up and inspect the server without the
    client under test."""
    import base64
    import json

    token = base64.b64encode(AUTH_STRING.encode()).decode()

    def call(method, path, body=None):
        request = urllib.request.Request(
            server + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": "Basic " + token, "Content-Type": "application/json"})
        for attempt in range(BUSY_ATTEMPTS):
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    raw = response.read()
                return json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                if exc.code != 503 or attempt == BUSY_ATTEMPTS - 1:
                    raise
                time.sleep(1)
    return call


@pytest.fixture
def run(run_module):
    """run(module, args, check=False, diff=False) -> the module's result."""
    def call(module, args, **kwargs):
        return run_module(module, args, **kwargs)[0]
    return call
