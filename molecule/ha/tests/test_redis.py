"""Redis of the clustered servers (prefect_redis), checked from outside."""

import subprocess

import pytest
import testinfra

from ha_cluster import wait_writes

CONF = "/etc/redis/redis.conf"
ACL_FILE = "/etc/redis/users.acl"


@pytest.fixture(scope="module")
def db(inventory):
    return testinfra.get_host("ansible://db1", ansible_inventory=inventory)


@pytest.fixture(scope="module")
def password(inventory_vars):
    """The password as the inventory holds it (raw, untemplated)."""
    return inventory_vars["db1"]["vault_prefect_redis_password"]


def auth(password):
    """redis-cli's AUTH line: the password in double quotes, as it may hold spaces."""
    return 'AUTH prefect "%s"' % password.replace("\\", "\\\\").replace('"', '\\"')


def redis(host, commands):
    """Send commands to redis-cli in the container on its stdin, from here: the
    password is on no command line, not even the test's own."""
    name = host.backend.get_hostname()
    return subprocess.run(["docker", "exec", "-i", name, "redis-cli", "--no-raw"], input=commands + "\n",
                          capture_output=True, text=True, check=True).stdout


def test_active_enabled_and_bound_to_the_listed_addresses_only(db):
    service = db.service("redis-server")
    assert service.is_running and service.is_enabled
    address = db.ansible("setup", "gather_subset=network")["ansible_facts"]["ansible_default_ipv4"]["address"]
    assert db.socket("tcp://127.0.0.1:6379").is_listening
    assert db.socket(f"tcp://{address}:6379").is_listening
    assert not db.socket("tcp://0.0.0.0:6379").is_listening


def test_default_user_is_off(db):
    assert "NOAUTH" in redis(db, "PING")
    assert "WRONGPASS" in redis(db, "AUTH default anything")


def test_prefect_user_logs_in_and_writes(db, password):
    out = redis(db, auth(password) + "\n" + "SET molecule:key value\nGET molecule:key")
    assert out.split() == ["OK", "OK", '"value"']


def test_configuration_files(db, password):
    for path in (CONF, ACL_FILE):
        f = db.file(path)
        assert f.mode == 0o640 and f.user == "root" and f.group == "redis", path
        assert password not in f.content_string, path
    conf = db.file(CONF).content_string
    assert "protected-mode yes" in conf
    assert "appendonly yes" in conf and "maxmemory-policy noeviction" in conf
    assert "user default off" in db.file(ACL_FILE).content_string


def test_prefect_user_cannot_administer_redis(db, password):
    out = redis(db, auth(password) + "\nACL SETUSER default on nopass\nCONFIG SET protected-mode no")
    assert out.count("NOPERM") == 2, out


@pytest.mark.usefixtures("cluster_serving")
def test_data_survives_a_restart(db, password, ca_file, auth_string):
    redis(db, auth(password) + "\n" + "SET molecule:durable kept")
    db.run("systemctl restart redis-server")
    assert redis(db, auth(password) + "\n" + "GET molecule:durable").split() == ["OK", '"kept"']
    # The API hosts use Redis: the next test, whichever it is, finds them writing again.
    wait_writes(ca_file, auth_string)


def test_password_not_on_any_command_line(db, password):
    assert password not in db.check_output("ps -eo args")
