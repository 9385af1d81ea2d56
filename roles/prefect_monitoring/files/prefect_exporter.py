# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Prefect server's own /api/metrics lacks, read from its REST API on
each scrape and served in Prometheus' text format: per work pool its
status, online workers, late, due, running and stale running runs, and the
age of the newest event. Standard library only: systemd runs it with Debian's python3.

Settings come from the environment (a systemd EnvironmentFile), never from
the command line:
  PREFECT_API_URL            the API root, e.g. https://prefect.example.com/api
  PREFECT_API_AUTH_STRING    "user:password" for the API's basic auth
  PREFECT_API_SSL_CERT_FILE  CA bundle that verifies the API's certificate
  PREFECT_EXPORTER_LISTEN    host:port to serve /metrics on (127.0.0.1:9812)
  PREFECT_EXPORTER_STALE_RUN_SECONDS
                             a RUNNING run whose newest heartbeat (or start)
                             is older is stale (default 300)
"""

import base64
import json
import os
import ssl
import sys
import threading
import time
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The API's default page size: larger answers are cut there.
PAGE = 200
TIMEOUT = 10

METRICS = {
    "prefect_api_ready": ("gauge", "1 when GET /api/ready answers 200 (the API reaches its database)."),
    "prefect_exporter_scrape_success": ("gauge", "1 when every API query of this scrape succeeded."),
    "prefect_exporter_scrape_duration_seconds": ("gauge", "Seconds this scrape's API queries took."),
    "prefect_work_pool_ready": ("gauge", "1 when the pool's status is READY (a worker polled it lately)."),
    "prefect_work_pool_paused": ("gauge", "1 when the pool is paused."),
    "prefect_work_pool_online_workers": ("gauge", "Workers of the pool whose heartbeat is recent (ONLINE)."),
    "prefect_work_pool_late_runs": ("gauge", "Flow runs of the pool in the Late state."),
    "prefect_work_pool_due_runs": ("gauge", "Flow runs of the pool scheduled or pending whose start time passed."),
    "prefect_work_pool_running_runs": ("gauge", "Flow runs of the pool in a RUNNING state."),
    "prefect_work_pool_stale_running_runs": (
        "gauge", "RUNNING flow runs of the pool without a heartbeat (or a start) within the stale window."),
    "prefect_newest_event_age_seconds": ("gauge", "Seconds since the newest event the server stored occurred."),
}


def escape(value):
    """A label value as the text format writes it."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(samples):
    """The exposition text of (name, labels, value) samples, grouped by
    metric with its HELP and TYPE, in METRICS' order."""
    lines = []
    for name, (kind, text) in METRICS.items():
        mine = [(labels, value) for metric, labels, value in samples if metric == name]
        if not mine:
            continue
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for labels, value in mine:
            label_text = ",".join(f'{key}="{escape(val)}"' for key, val in sorted(labels.items()))
            lines.append(f"{name}{{{label_text}}} {float(value)!r}" if labels else f"{name} {float(value)!r}")
    return "\n".join(lines) + "\n"


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat()


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Api:
    """POST/GET JSON against the API root with basic auth."""

    def __init__(self, url, auth_string="", ca_file=""):
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth_string:
            self.headers["Authorization"] = "Basic " + base64.b64encode(auth_string.encode()).decode()
        self.context = ssl.create_default_context(cafile=ca_file or None)

    def send(self, path, body=None):
        request = urllib.request.Request(self.url + path, headers=self.headers, method="GET" if body is None else "POST",
                                         data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=self.context) as response:
            return json.loads(response.read() or b"null")

    def call(self, path, body=None):
        """A server with CSRF protection refuses a POST without a token of
        the client's own (403): the first such answer, or one to a token
        that expired, fetches one and sends the request again."""
        try:
            return self.send(path, body)
        except urllib.error.HTTPError as error:
            if body is None or error.code != 403 or b"CSRF" not in error.read():
                raise
        client = str(uuid.uuid4())
        token = self.send("/csrf-token?client=" + client)
        self.headers.update({"Prefect-Csrf-Token": token["token"], "Prefect-Csrf-Client": client})
        return self.send(path, body)

    def ready(self):
        try:
            self.call("/ready")
            return True
        except (OSError, ValueError):  # HTTP errors are OSErrors
            return False


def pool_filter(pool):
    return {"work_pools": {"name": {"any_": [pool]}}}


def newest_heartbeat(api, run_id, since):
    found = api.call("/events/filter", {"filter": {
        "event": {"name": ["prefect.flow-run.heartbeat"]},
        "resource": {"id": [f"prefect.flow-run.{run_id}"]},
        "occurred": {"since": iso(since)}, "order": "DESC"}, "limit": 1})
    events = found.get("events") or []
    return parse_time(events[0]["occurred"]) if events else None


def running_and_stale(api, pool, now, stale_seconds):
    """How many runs of the pool are RUNNING, and how many of them (of the
    first PAGE: one query each) have a newest heartbeat, or a start when
    they sent none, older than stale_seconds."""
    running = dict(pool_filter(pool), flow_runs={"state": {"type": {"any_": ["RUNNING"]}}})
    count = api.call("/flow_runs/count", running)
    window = timedelta(seconds=stale_seconds)
    stale = 0
    for run in api.call("/flow_runs/filter", dict(running, limit=PAGE)):
        last = newest_heartbeat(api, run["id"], now - window)
        if last is None:
            started = run.get("start_time") or run.get("expected_start_time")
            last = parse_time(started) if started else now
        stale += now - last > window
    return count, stale


def all_pools(api):
    """Every work pool, a page at a time."""
    pools = []
    while True:
        page = api.call("/work_pools/filter", {"limit": PAGE, "offset": len(pools)})
        pools += page
        if len(page) < PAGE:
            return pools


def pool_samples(api, pool, now, stale_seconds):
    name = pool["name"]
    labels = {"pool": name}
    workers = api.call(f"/work_pools/{urllib.parse.quote(name, safe='')}/workers/filter", {"limit": PAGE})
    late = api.call("/flow_runs/count", dict(pool_filter(name), flow_runs={"state": {"name": {"any_": ["Late"]}}}))
    due = api.call("/flow_runs/count", dict(pool_filter(name), flow_runs={
        "state": {"type": {"any_": ["SCHEDULED", "PENDING"]}}, "expected_start_time": {"before_": iso(now)}}))
    running, stale = running_and_stale(api, name, now, stale_seconds)
    return [
        ("prefect_work_pool_ready", labels, pool.get("status") == "READY"),
        ("prefect_work_pool_paused", labels, bool(pool.get("is_paused"))),
        ("prefect_work_pool_online_workers", labels, sum(w.get("status") == "ONLINE" for w in workers)),
        ("prefect_work_pool_late_runs", labels, late),
        ("prefect_work_pool_due_runs", labels, due),
        ("prefect_work_pool_running_runs", labels, running),
        ("prefect_work_pool_stale_running_runs", labels, stale),
    ]


def collect(api, stale_seconds, now=None):
    """Every sample of one scrape. A failed query leaves its samples out and
    sets prefect_exporter_scrape_success to 0; the error goes to stderr
    (never the auth string: only the exception's text)."""
    started = time.monotonic()
    now = now or datetime.now(timezone.utc)
    samples = [("prefect_api_ready", {}, api.ready())]
    success = True
    try:
        for pool in all_pools(api):
            samples += pool_samples(api, pool, now, stale_seconds)
        found = api.call("/events/filter", {"filter": {"order": "DESC"}, "limit": 1})
        events = found.get("events") or []
        if events:
            samples.append(("prefect_newest_event_age_seconds", {},
                            max(0.0, (now - parse_time(events[0]["occurred"])).total_seconds())))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"prefect-exporter: a query failed: {exc!r}"[:500], file=sys.stderr, flush=True)
        success = False
    samples += [("prefect_exporter_scrape_success", {}, success),
                ("prefect_exporter_scrape_duration_seconds", {}, time.monotonic() - started)]
    return samples


def handler(api, stale_seconds):
    lock = threading.Lock()  # one scrape at a time: each costs the API several queries

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            with lock:
                body = render(collect(api, stale_seconds)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # each scrape would fill the journal
            pass

    return Handler


def listen_address(text):
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ValueError(f"PREFECT_EXPORTER_LISTEN must be host:port, got {text!r}")
    return host.strip("[]"), int(port)


def main(environ=None):
    environ = os.environ if environ is None else environ
    url = environ.get("PREFECT_API_URL", "")
    if not url:
        print("prefect-exporter: PREFECT_API_URL is not set", file=sys.stderr)
        return 2
    try:
        address = listen_address(environ.get("PREFECT_EXPORTER_LISTEN", "127.0.0.1:9812"))
        stale_seconds = int(environ.get("PREFECT_EXPORTER_STALE_RUN_SECONDS", "300"))
    except ValueError as exc:
        print(f"prefect-exporter: {exc}", file=sys.stderr)
        return 2
    api = Api(url, environ.get("PREFECT_API_AUTH_STRING", ""), environ.get("PREFECT_API_SSL_CERT_FILE", ""))
    server_class = type("Server", (ThreadingHTTPServer,),
                        {"address_family": socket.AF_INET6 if ":" in address[0] else socket.AF_INET})
    server = server_class(address, handler(api, stale_seconds))
    print(f"prefect-exporter: serving /metrics on {address[0]}:{address[1]} for {url}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
