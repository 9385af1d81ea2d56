#!/usr/bin/env python
"""Load a Prefect API the way busy clients do, and measure what it delivers.

Each of --clients threads loops: create a flow run, set it RUNNING, set it
COMPLETED (three requests on one keep-alive HTTPS connection). A run counts
toward goodput only when all three succeed; any failed request (an exception
or a status other than 2xx, or a state change the server did not accept) is
an error, recorded with the wall-clock time it was sent and when it failed,
so a caller can place each error against what it did to the servers.

Runs until --duration seconds have passed or --stop-file exists, then prints
one JSON document: runs, goodput, request latency p50/p95, errors, and the
first errors in detail. With --progress-file it also keeps the counts so far
(runs, requests, errors, when the last error failed) in that file, rewritten
every half second, so a caller can wait for the load to have done something
instead of sleeping. Standard library only: it runs from any Python.

    python3 benchmarks/prefect_load.py --api-url https://127.0.0.1:8443/api \
        --ca-file ca.pem --clients 32 --duration 20
"""

import argparse
import base64
import http.client
import json
import os
import ssl
import statistics
import threading
import time
import urllib.parse
import uuid


class Api:
    """One client's persistent connection to the API."""

    def __init__(self, api_url, ssl_context, auth_string, timeout):
        url = urllib.parse.urlsplit(api_url)
        self.https = url.scheme == "https"
        self.host = url.hostname
        self.port = url.port or (443 if self.https else 80)
        self.base = url.path.rstrip("/")
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json"}
        if auth_string:
            self.headers["Authorization"] = "Basic " + base64.b64encode(auth_string.encode()).decode()
        self.conn = None

    def _connect(self):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _request(self, method, path, body=None):
        """Send one request and return its status and body; raise on a
        connection failure (the connection is dropped then, and the next
        request opens a new one)."""
        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.request(method, self.base + path, body=None if body is None else json.dumps(body),
                              headers=self.headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise

    def use_csrf_token(self):
        """Take a CSRF token, as Prefect's own client does, when the server
        protects its API (it answers 422 when it does not)."""
        client = f"selfhosted-prefect-load-{uuid.uuid4().hex[:12]}"
        status, data = self._request("GET", f"/csrf-token?client={client}")
        if status == 200:
            self.headers.update({"Prefect-Csrf-Token": json.loads(data)["token"], "Prefect-Csrf-Client": client})
        elif status != 422:
            raise RuntimeError(f"GET /csrf-token: HTTP {status}: {data[:200]!r}")
        return self

    def post(self, path, body):
        """POST and return the decoded JSON; raise on any failure. A token
        past its hour is renewed once, as Prefect's client does."""
        status, data = self._request("POST", path, body)
        if status == 403 and b"CSRF" in data and "Prefect-Csrf-Token" in self.headers:
            status, data = self.use_csrf_token()._request("POST", path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"HTTP {status}: {data[:200]!r}")
        return json.loads(data)


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.runs = 0
        self.latencies = []
        self.errors = []
        self.last_error_failed = None
        # Each run's last state the API acknowledged: "created", then
        # "RUNNING", then "COMPLETED".
        self.acknowledged = {}
        # When each request that succeeded got its answer.
        self.success_times = []

    def acknowledge(self, run_id, state):
        with self.lock:
            self.acknowledged[run_id] = state

    def request(self, latency):
        with self.lock:
            self.latencies.append(latency)
            self.success_times.append(time.time())

    def run_done(self):
        with self.lock:
            self.runs += 1

    def error(self, step, sent, exc):
        with self.lock:
            self.last_error_failed = time.time()
            self.errors.append({"step": step, "sent": sent, "failed": self.last_error_failed, "error": str(exc)[:200]})

    def progress(self):
        """The counts so far."""
        with self.lock:
            return {"time": time.time(), "runs": self.runs, "requests": len(self.latencies) + len(self.errors),
                    "errors": len(self.errors), "last_error_failed": self.last_error_failed}


def write_progress(path, results):
    """Replace path with the counts so far, atomically: a reader never sees
    half a document."""
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        json.dump(results.progress(), handle)
    os.replace(partial, path)


def client_loop(api, flow_id, results, stopped):
    while not stopped():
        run_id = None
        for step in ("create", "RUNNING", "COMPLETED"):
            sent = time.time()
            start = time.perf_counter()
            try:
                if step == "create":
                    run_id = api.post("/flow_runs/", {"flow_id": flow_id, "name": f"load-{uuid.uuid4().hex[:12]}"})["id"]
                    results.acknowledge(run_id, "created")
                else:
                    result = api.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": step}})
                    if result.get("status") != "ACCEPT":
                        raise RuntimeError(f"{step} not accepted: {result.get('status')}")
                    results.acknowledge(run_id, step)
            except Exception as exc:  # every failure is a result, not a crash
                results.error(step, sent, exc)
                break
            results.request(time.perf_counter() - start)
        else:
            results.run_done()


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_load(api_url, clients=32, duration=20.0, ca_file=None, auth_string="", stop_file=None,
             flow_name="selfhosted-prefect-load", timeout=30.0, progress_file=None, record_file=None):
    """Run the load and return the summary (a dict); keep the counts so far
    in progress_file if given. record_file, if given, gets at the end (JSON)
    each run's last acknowledged state ("acknowledged") and when each
    successful request was answered ("successes"), for fault tests that
    count lost runs and time the recovery."""
    ssl_context = ssl.create_default_context(cafile=ca_file) if api_url.startswith("https") else None
    flow_id = Api(api_url, ssl_context, auth_string, timeout).use_csrf_token().post("/flows/", {"name": flow_name})["id"]
    results = Results()
    started = time.time()

    def stopped():
        return time.time() - started >= duration or (stop_file is not None and os.path.exists(stop_file))

    threads = [threading.Thread(target=client_loop, daemon=True,
                                args=(Api(api_url, ssl_context, auth_string, timeout).use_csrf_token(),
                                      flow_id, results, stopped))
               for _client in range(clients)]
    done = threading.Event()

    def report_progress():
        while not done.wait(0.5):
            write_progress(progress_file, results)

    if progress_file:
        threads.append(threading.Thread(target=report_progress, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads[:clients]:
        thread.join()
    done.set()
    if progress_file:
        threads[-1].join()
        write_progress(progress_file, results)
    elapsed = time.time() - started
    if record_file:
        with open(record_file, "w") as handle:
            json.dump({"acknowledged": results.acknowledged, "successes": results.success_times}, handle)
    return {
        "api_url": api_url,
        "clients": clients,
        "started": started,
        "seconds": round(elapsed, 2),
        "runs": results.runs,
        "goodput_runs_per_s": round(results.runs / elapsed, 2),
        "requests": len(results.latencies) + len(results.errors),
        "latency_p50_ms": round(1000 * percentile(results.latencies, 0.50), 1) if results.latencies else None,
        "latency_p95_ms": round(1000 * percentile(results.latencies, 0.95), 1) if results.latencies else None,
        "latency_mean_ms": round(1000 * statistics.fmean(results.latencies), 1) if results.latencies else None,
        "error_count": len(results.errors),
        "errors": sorted(results.errors, key=lambda e: e["sent"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", required=True, help="e.g. https://127.0.0.1:8443/api")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (an upper bound with --stop-file)")
    parser.add_argument("--ca-file", help="CA bundle of an HTTPS API")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    parser.add_argument("--progress-file", help="keep the counts so far (JSON) in this file")
    parser.add_argument("--auth-string-env", help="name of an environment variable holding user:password")
    parser.add_argument("--record-file", help="write each run's last acknowledged state and the time of each "
                                              "successful request here (JSON) at the end")
    args = parser.parse_args()
    auth = os.environ.get(args.auth_string_env, "") if args.auth_string_env else ""
    summary = run_load(args.api_url, args.clients, args.duration, args.ca_file, auth, args.stop_file,
                       progress_file=args.progress_file, record_file=args.record_file)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
