# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/prefect_monitoring/files/prefect_exporter.py against a real server
(conftest.py): each figure moves when the server's state does, a wrong auth
string fails the scrape without showing it, and what it serves parses as
Prometheus' text format."""
from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from .conftest import AUTH_STRING


def figures(samples, pool=None):
    """{metric: value} of one pool's samples, or of the unlabelled ones."""
    return {name: value for name, labels, value in samples if labels.get("pool") == pool}


def wait_figure(prefect_exporter, api, pool, name, expected, stale_seconds=3600, timeout=30):
    """Scrape until the pool's figure is expected (the server's services and
    event persister work in the background); the last figures otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        found = figures(prefect_exporter.collect(api, stale_seconds), pool)
        if found.get(name) == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.fixture
def pool(rest):
    """A process pool with one deployment: (pool name, deployment id)."""
    name = f"monitored-{uuid.uuid4().hex[:6]}"
    rest("POST", "/work_pools/", {"name": name, "type": "process"})
    flow = rest("POST", "/flows/", {"name": f"exporter-{name}"})
    deployment = rest("POST", "/deployments/", {"name": "d", "flow_id": flow["id"], "work_pool_name": name})
    return name, deployment["id"]


@pytest.fixture
def api(prefect_exporter, server):
    return prefect_exporter.Api(server, AUTH_STRING)


def test_a_new_pool_has_no_worker_and_no_run(prefect_exporter, api, pool):
    name = pool[0]
    samples = prefect_exporter.collect(api, 3600)
    assert figures(samples)["prefect_api_ready"] is True
    assert figures(samples)["prefect_exporter_scrape_success"] is True
    assert figures(samples, name) == {
        "prefect_work_pool_ready": False, "prefect_work_pool_paused": False,
        "prefect_work_pool_online_workers": 0, "prefect_work_pool_late_runs": 0, "prefect_work_pool_due_runs": 0,
        "prefect_work_pool_running_runs": 0, "prefect_work_pool_stale_running_runs": 0}


def test_a_worker_heartbeat_makes_the_pool_ready(prefect_exporter, api, pool, rest):
    name = pool[0]
    rest("POST", f"/work_pools/{name}/workers/heartbeat", {"name": "w1", "heartbeat_interval_seconds": 30})
    found = wait_figure(prefect_exporter, api, name, "prefect_work_pool_ready", True)
    assert found["prefect_work_pool_ready"] is True
    assert found["prefect_work_pool_online_workers"] == 1
    rest("PATCH", f"/work_pools/{name}", {"is_paused": True})
    assert figures(prefect_exporter.collect(api, 3600), name)["prefect_work_pool_paused"] is True


def test_late_and_due_runs_are_counted_per_pool(prefect_exporter, api, pool, rest):
    name, deployment = pool
    past = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    rest("POST", f"/deployments/{deployment}/create_flow_run",
         {"state": {"type": "SCHEDULED", "name": "Late", "state_details": {"scheduled_time": past}}})
    rest("POST", f"/deployments/{deployment}/create_flow_run",
         {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": past}}})
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    rest("POST", f"/deployments/{deployment}/create_flow_run",
         {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": future}}})
    found = figures(prefect_exporter.collect(api, 3600), name)
    # The second run may have gone Late meanwhile (the server's late-runs service): both are due.
    assert found["prefect_work_pool_late_runs"] in (1, 2)
    assert found["prefect_work_pool_due_runs"] == 2
    assert found["prefect_work_pool_running_runs"] == 0


def test_a_running_run_without_heartbeat_is_stale_until_one_comes(prefect_exporter, api, pool, rest):
    name, deployment = pool
    run = rest("POST", f"/deployments/{deployment}/create_flow_run", {})
    rest("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "RUNNING"}, "force": True})
    found = figures(prefect_exporter.collect(api, 3600), name)
    assert (found["prefect_work_pool_running_runs"], found["prefect_work_pool_stale_running_runs"]) == (1, 0)
    time.sleep(3.5)
    found = figures(prefect_exporter.collect(api, 3), name)
    assert (found["prefect_work_pool_running_runs"], found["prefect_work_pool_stale_running_runs"]) == (1, 1)
    rest("POST", "/events", [{
        "id": str(uuid.uuid4()), "occurred": datetime.now(timezone.utc).isoformat(),
        "event": "prefect.flow-run.heartbeat", "resource": {"prefect.resource.id": f"prefect.flow-run.{run['id']}"}}])
    found = wait_figure(prefect_exporter, api, name, "prefect_work_pool_stale_running_runs", 0, stale_seconds=10)
    assert found["prefect_work_pool_stale_running_runs"] == 0


def test_the_newest_event_is_recent_after_a_state_change(prefect_exporter, api, pool, rest):
    deployment = pool[1]
    run = rest("POST", f"/deployments/{deployment}/create_flow_run", {})
    rest("POST", f"/flow_runs/{run['id']}/set_state", {"state": {"type": "CANCELLED"}, "force": True})
    deadline = time.monotonic() + 30
    while True:
        age = figures(prefect_exporter.collect(api, 3600)).get("prefect_newest_event_age_seconds")
        if age is not None and age < 60 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert age is not None and 0 <= age < 60


def test_a_wrong_auth_string_fails_the_scrape_without_showing_it(prefect_exporter, server, capsys):
    wrong = "ops:not-the-password"
    samples = prefect_exporter.collect(prefect_exporter.Api(server, wrong), 3600)
    assert figures(samples)["prefect_exporter_scrape_success"] is False
    assert figures(samples)["prefect_api_ready"] is True  # /api/ready takes no credentials
    assert not [name for name, labels, value in samples if labels]
    err = capsys.readouterr().err
    assert "401" in err
    assert "not-the-password" not in err and "bm90LXRoZS1wYXNzd29yZA" not in err


def test_it_serves_metrics_and_nothing_else(prefect_exporter, api, pool):
    handler = prefect_exporter.handler(api, 3600)
    httpd = prefect_exporter.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
            text = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "/", timeout=30)
        assert missing.value.code == 404
    finally:
        httpd.shutdown()
    assert "# TYPE prefect_work_pool_late_runs gauge" in text
    assert f'prefect_work_pool_late_runs{{pool="{pool[0]}"}} 0.0' in text
    assert "\nprefect_exporter_scrape_success 1.0\n" in text


@pytest.mark.skipif(not os.environ.get("PROMTOOL"), reason="PROMTOOL is not set (scripts/test unit sets it)")
def test_promtool_finds_nothing_to_lint_in_a_scrape(prefect_exporter, api, pool):
    text = prefect_exporter.render(prefect_exporter.collect(api, 3600))
    check = subprocess.run([os.environ["PROMTOOL"], "check", "metrics"], input=text, capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_main_refuses_missing_or_bad_settings(prefect_exporter, capsys):
    assert prefect_exporter.main({}) == 2
    assert prefect_exporter.main({"PREFECT_API_URL": "http://x/api", "PREFECT_EXPORTER_LISTEN": "9812"}) == 2
    assert "host:port" in capsys.readouterr().err


def test_every_pool_is_read_a_page_at_a_time(prefect_exporter, api, rest, monkeypatch):
    names = [f"paged-{uuid.uuid4().hex[:6]}" for number in range(3)]
    for name in names:
        rest("POST", "/work_pools/", {"name": name, "type": "process"})
    monkeypatch.setattr(prefect_exporter, "PAGE", 2)
    pools = {labels["pool"] for name, labels, value in prefect_exporter.collect(api, 3600) if labels}
    assert set(names) <= pools


def test_a_server_with_csrf_protection_is_read_with_a_token_of_its_own(prefect_exporter, csrf_server):
    """The first POST is refused for want of a CSRF token; the exporter
    fetches one for a client id of its own and the scrape succeeds."""
    api = prefect_exporter.Api(csrf_server, AUTH_STRING)
    samples = prefect_exporter.collect(api, 3600)
    assert figures(samples)["prefect_exporter_scrape_success"] is True
    assert api.headers["Prefect-Csrf-Client"] and api.headers["Prefect-Csrf-Token"]
