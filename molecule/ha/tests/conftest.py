"""The hosts of the ha scenario. The fixtures every scenario shares
(inventory, inventory_vars, hostvar, run_playbook) come from the plugin
molecule/shared/pytest_plugin/molecule_fixtures.py."""

import pytest
import testinfra

from ha_cluster import wait_serving


@pytest.fixture(scope="session")
def hosts(inventory):
    """testinfra hosts by inventory name."""
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory)
            for name in ("db1", "db2", "db3", "api1", "api2", "lb1", "lb2", "client1", "backup1")}


@pytest.fixture(scope="session")
def ca_file(hostvar):
    """The scenario's CA, as fetched to the controller for the clients."""
    return hostvar("lb1", "prefect_ha_ca_file")


@pytest.fixture(scope="session")
def auth_string(inventory_vars):
    """The cluster's basic auth, as the inventory gives it."""
    return inventory_vars["api1"]["vault_prefect_auth_string"]


@pytest.fixture
def cluster_serving(hosts):
    """For a test that restarts, kills or disables part of the cluster: once
    it ends, passed or failed, wait until HAProxy serves from both API hosts
    again, so the next test, whichever it is, finds the cluster as the
    converge left it."""
    yield
    wait_serving(hosts)


@pytest.fixture(scope="session")
def redis_password(inventory_vars):
    """The Prefect user's Redis password as the inventory holds it."""
    return inventory_vars["db1"]["vault_prefect_redis_password"]


@pytest.fixture(scope="session")
def replication_password(inventory_vars):
    """The password of the replicas' and the Sentinels' users."""
    return inventory_vars["db1"]["vault_prefect_redis_replication_password"]
