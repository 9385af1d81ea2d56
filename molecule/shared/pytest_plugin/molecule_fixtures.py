"""The pytest plugin of every Molecule scenario's tests: the scenario's
inventory, its raw variables, templated variables, ansible-playbook
against its hosts, and the forms a secret takes on the wire or in output.

.config/molecule/config.yml loads it into every verifier run: it puts this
directory on PYTHONPATH and names the module in PYTEST_PLUGINS, so no
conftest imports it and no test patches sys.path. A scenario's own
tests/conftest.py holds only the fixtures of its hosts.
"""

import base64
import json
import os
import re
import subprocess
import time
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "machine_to_itself: a test that measures failovers, goodput or alert times; it waits "
        "until the scenarios run beside this one have ended (MOLECULE_VERIFY_AFTER), and runs after the others")


def pytest_collection_modifyitems(items):
    """A scenario's test_wire.py first: the capture of its network
    (wire_capture.py) ends before the tests that load the hosts or try
    plaintext connections on purpose. The tests marked machine_to_itself
    last, so the others run while the scenarios beside this one still do."""
    items.sort(key=lambda item: (item.path.name != "test_wire.py",
                                 item.get_closest_marker("machine_to_itself") is not None))


_waited_for_the_machine = []


def pytest_runtest_setup(item):
    """Before the first test marked machine_to_itself: with
    MOLECULE_VERIFY_AFTER (paths, space-separated; scripts/test sets it for
    the scenario whose measurements need the cores), wait until each path
    exists, that is until the scenarios run beside this one have ended."""
    if _waited_for_the_machine or item.get_closest_marker("machine_to_itself") is None:
        return
    _waited_for_the_machine.append(True)
    paths = os.environ.get("MOLECULE_VERIFY_AFTER", "").split()
    started = time.monotonic()
    while not all(os.path.exists(path) for path in paths):
        time.sleep(2)
    if paths:
        print(f"\nwaited {time.monotonic() - started:.0f} s for {' '.join(paths)} before {item.nodeid}", flush=True)


def container(host):
    """The Docker container of a testinfra host (ansible://NAME): the one
    its inventory's ansible_host names, else NAME. The backend's own
    get_hostname() is the inventory name, and ha's containers have names of
    their own (molecule/ha/inventory/host_vars)."""
    backend = host.backend
    return backend.ansible_runner.get_host(backend.host).backend.get_hostname()


def secret_forms(values):
    """Each secret as given, percent-encoded (as in a connection URL) and
    base64-encoded (as in a basic auth header)."""
    forms = set()
    for value in values:
        forms |= {value, urllib.parse.quote(value), urllib.parse.quote(value, safe=""),
                  urllib.parse.quote_plus(value), base64.b64encode(value.encode()).decode()}
    return forms


@pytest.fixture(scope="session")
def inventory(request):
    return request.config.getoption("ansible_inventory")


@pytest.fixture(scope="session")
def inventory_vars(inventory):
    """Raw (untemplated) inventory variables of every host, by host name."""
    out = subprocess.run(
        ["ansible-inventory", "-i", inventory, "--list"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["_meta"]["hostvars"]


@pytest.fixture(scope="session")
def hostvar(inventory):
    """hostvar(host, name): a variable as the playbooks see it, templated."""
    def lookup(host, name):
        result = subprocess.run(
            ["ansible", host, "-i", inventory, "-o", "-m", "ansible.builtin.debug", "-a", f"var={name}"],
            check=False, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return json.loads(result.stdout.split("=>", 1)[1])[name]
    return lookup


@pytest.fixture(scope="session")
def run_playbook(inventory):
    """run_playbook(*args, env=None): ansible-playbook against the scenario's
    hosts with Molecule's configuration; returns the CompletedProcess."""
    def run(*args, env=None):
        return subprocess.run(
            ["ansible-playbook", "-i", inventory, *args],
            capture_output=True, text=True, check=False,
            env=dict(os.environ, ANSIBLE_FORCE_COLOR="false", **(env or {})),
        )
    return run


def pgbackrest(host, *args):
    """pgbackrest as postgres on a testinfra host, for the stanza the
    scenarios' inventories name."""
    return host.run("runuser -u postgres -- pgbackrest --stanza=prefect " + " ".join(["%s"] * len(args)), *args)


def pgbackrest_info(host):
    """That stanza's `pgbackrest info`, from JSON."""
    result = pgbackrest(host, "--output=json", "info")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def connection_outcomes(hosts, probes, seconds=3):
    """Each TCP connection of `probes` ((source, target, port), source a
    name in `hosts`) tried at once: {probe: exit status}, 0 connected, 1
    refused (nothing listens), 124 no answer within `seconds` (dropped by a
    firewall). Every source at once, and each source's attempts at once, so
    the dropped ones wait out their timeout together."""
    by_source = defaultdict(list)
    for source, target, port in probes:
        by_source[source].append((target, int(port)))

    def attempt(source):
        script = " ".join(f"(timeout {seconds} bash -c 'exec 3<>/dev/tcp/{target}/{port}'; echo {target} {port} $?) &"
                          for target, port in by_source[source])
        answer = hosts[source].check_output(script + " wait")
        return {(source, target, int(port)): int(status) for target, port, status in
                (line.split() for line in answer.splitlines())}

    outcomes = {}
    with ThreadPoolExecutor(max_workers=len(by_source) or 1) as pool:
        for answers in pool.map(attempt, by_source):
            outcomes.update(answers)
    return outcomes


@pytest.fixture(scope="session")
def exposure():
    """exposure(host, unit): systemd-analyze security's overall score, printed."""
    def score(host, unit):
        out = host.check_output(f"systemd-analyze security --no-pager {unit}")
        value = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
        print(f"\nsystemd-analyze security {unit}: exposure {value}")
        return value
    return score
