"""The hosts of the default scenario (db1, server1, client1, worker1). The
fixtures every scenario shares (inventory, inventory_vars, hostvar,
run_playbook) come from the plugin molecule/shared/pytest_plugin/molecule_fixtures.py."""


import pytest
import testinfra


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


BACKUP_DIR = "/var/backups/prefect-db"


@pytest.fixture(scope="session", autouse=True)
def converged_dumps(db):
    """db1's dumps of each database as the converge left them, listed before
    the first test runs, whichever it is: test_secrets_in_output.py migrates
    orion again (a pre-migration dump more), and test_backup.py checks the
    dumps the converge took."""
    return {name: sorted(db.check_output(f"ls -1 {BACKUP_DIR}/{name}.*.pgc 2>/dev/null || true").split())
            for name in ("orion", "orion_personal")}
