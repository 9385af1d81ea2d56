"""The fixtures every scenario shares (molecule/shared/tests/molecule_fixtures.py),
and the hosts of this one."""

import pathlib
import sys

import pytest
import testinfra

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "tests"))

from molecule_fixtures import hostvar, inventory, inventory_vars, run_playbook  # noqa: E402

# Fixtures are found by name in a conftest: re-exported, not unused.
__all__ = ["ca_file", "hosts", "hostvar", "inventory", "inventory_vars", "run_playbook"]


@pytest.fixture(scope="session")
def hosts(inventory):
    """testinfra hosts by inventory name."""
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)
            for name in ("db1", "api1", "api2", "lb1", "client1")}


@pytest.fixture(scope="session")
def ca_file(hostvar):
    """The CA lb1 generated, as fetched to the controller for the clients."""
    return hostvar("lb1", "prefect_ha_ca_file")
