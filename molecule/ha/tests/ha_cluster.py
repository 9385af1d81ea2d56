"""What test_cluster.py and test_load.py share: where the cluster answers and
how to read HAProxy's view of it."""

import csv
import io
import json
import ssl
import urllib.request

PUBLISHED_URL = "https://127.0.0.1:8443"
INSTANCE = "default"


CSRF_CLIENT = "molecule-ha-tests"


def https_json(ca_file, path, body=None):
    """GET (or POST a JSON body, with a CSRF token: the role turns the
    protection on) through lb1's published HTTPS port, verifying its
    certificate against the generated CA."""
    headers = {"Content-Type": "application/json"}
    if body is not None:
        token = https_json(ca_file, f"/api/csrf-token?client={CSRF_CLIENT}")["token"]
        headers.update({"Prefect-Csrf-Token": token, "Prefect-Csrf-Client": CSRF_CLIENT})
    request = urllib.request.Request(PUBLISHED_URL + path, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=30, context=ssl.create_default_context(cafile=ca_file)) as response:
        return json.loads(response.read())


def haproxy_servers(lb):
    """HAProxy's stats of the backend's servers, by server name."""
    text = lb.check_output("curl -fsS 'http://127.0.0.1:8404/stats;csv'").lstrip("# ")
    return {row["svname"]: row for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == f"prefect_{INSTANCE}" and row["svname"] not in ("FRONTEND", "BACKEND")}
