"""Redis of the clustered servers (prefect_redis), checked from outside."""

import json
import subprocess

import pytest
import testinfra

CONF = "/etc/redis/redis.conf"


@pytest.fixture(scope="module")
def db(request):
    return testinfra.get_host("ansible://db1", ansible_inventory=request.config.getoption("ansible_inventory"))


@pytest.fixture(scope="module")
def password(request):
    """The password as the inventory holds it (raw, untemplated)."""
    out = subprocess.run(["ansible-inventory", "-i", request.config.getoption("ansible_inventory"), "--list"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["_meta"]["hostvars"]["db1"]["vault_prefect_redis_password"]


def auth(password):
    """redis-cli's AUTH line: the password in double quotes, as it may hold spaces."""
    return 'AUTH prefect "%s"' % password.replace("\\", "\\\\").replace('"', '\\"')


def redis(host, commands):
    """Send commands to redis-cli on stdin (never the password on a command line)."""
    return host.run("redis-cli --no-raw <<'EOF'\n" + commands + "\nEOF").stdout


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


def test_configuration_file(db, password):
    conf = db.file(CONF)
    assert conf.mode == 0o640 and conf.user == "redis" and conf.group == "redis"
    text = conf.content_string
    assert password not in text
    assert "protected-mode yes" in text
    assert "user default off" in text
    assert "appendonly yes" in text and "maxmemory-policy noeviction" in text


def test_data_survives_a_restart(db, password):
    redis(db, auth(password) + "\n" + "SET molecule:durable kept")
    db.run("systemctl restart redis-server")
    assert redis(db, auth(password) + "\n" + "GET molecule:durable").split() == ["OK", '"kept"']


def test_password_not_on_any_command_line(db, password):
    assert password not in db.check_output("ps -eo args")
