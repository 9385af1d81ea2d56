"""Fixtures of the default scenario (db1, server1, client1)."""

import json
import os
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


@pytest.fixture(scope="session")
def inventory(request):
    return request.config.getoption("ansible_inventory")


@pytest.fixture(scope="session")
def hostvar(inventory):
    """hostvar(host, name): a variable as the playbooks see it, templated."""
    def lookup(host, name):
        out = subprocess.run(
            ["ansible", host, "-i", inventory, "-o", "-m", "ansible.builtin.debug", "-a", f"var={name}"],
            check=True, capture_output=True, text=True,
        ).stdout
        return json.loads(out.split("=>", 1)[1])[name]
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
