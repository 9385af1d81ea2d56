"""Fixtures of the default scenario (db1, server1, client1, worker1)."""

import pytest
import testinfra

from molecule_fixtures import hostvar, inventory, inventory_vars, run_playbook

# Fixtures are found by name in a conftest: re-exported, not unused.
__all__ = ["db", "server", "client", "worker", "hostvar", "inventory", "inventory_vars", "run_playbook"]


def _get(inventory, name):
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)


@pytest.fixture(scope="session")
def db(inventory):
    return _get(inventory, "db1")


@pytest.fixture(scope="session")
def server(inventory):
    return _get(inventory, "server1")


@pytest.fixture(scope="session")
def client(inventory):
    return _get(inventory, "client1")


@pytest.fixture(scope="session")
def worker(inventory):
    return _get(inventory, "worker1")
