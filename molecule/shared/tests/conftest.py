"""Fixtures shared by every molecule scenario (db1, server1, client1)."""

import json
import subprocess

import pytest
import testinfra


def _get(request, name):
    inventory = request.config.getoption("ansible_inventory")
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)


@pytest.fixture(scope="session")
def db(request):
    return _get(request, "db1")


@pytest.fixture(scope="session")
def server(request):
    return _get(request, "server1")


@pytest.fixture(scope="session")
def client(request):
    return _get(request, "client1")


@pytest.fixture(scope="session")
def inventory_vars(request):
    """Raw (untemplated) inventory variables of every host, by host name."""
    inventory = request.config.getoption("ansible_inventory")
    out = subprocess.run(
        ["ansible-inventory", "-i", inventory, "--list"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["_meta"]["hostvars"]
