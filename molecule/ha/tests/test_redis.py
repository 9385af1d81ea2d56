"""Redis of the clustered servers (prefect_redis), checked from outside."""

import subprocess

import pytest
import testinfra

from ha_cluster import wait_writes

CONF = "/etc/redis/redis.conf"
ACL_FILE = "/etc/redis/users.acl"
CA_FILE = "/etc/ssl/selfhosted-prefect/ca.pem"
SERVER_PYTHON = "/opt/prefect-server/3.8.8/bin/python"


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
    """Send commands to redis-cli (over TLS, the only way in) in the container
    on its stdin, from here: the password is on no command line, not even the
    test's own."""
    name = host.backend.get_hostname()
    return subprocess.run(["docker", "exec", "-i", name, "redis-cli", "--tls", "--cacert", CA_FILE, "--no-raw"],
                          input=commands + "\n", capture_output=True, text=True, check=True).stdout


def redis_py(host, password, connection):
    """PING db1's Redis from `host` with redis-py (as prefect-redis does), with
    `connection` (Python source of redis.Redis's keyword arguments); the
    password on stdin. The command's result."""
    script = (
        "import ssl, sys, redis\n"
        f"client = redis.Redis(host='db1', port=6379, username='prefect', password=sys.stdin.read(),\n"
        f"                     socket_timeout=10, {connection})\n"
        "print(client.ping())\n"
    )
    name = host.backend.get_hostname()
    return subprocess.run(["docker", "exec", "-i", name, SERVER_PYTHON, "-c", script], input=password,
                          capture_output=True, text=True, check=False)


def test_active_enabled_and_bound_to_the_listed_addresses_only(db):
    service = db.service("redis-server")
    assert service.is_running and service.is_enabled
    address = db.ansible("setup", "gather_subset=network")["ansible_facts"]["ansible_default_ipv4"]["address"]
    assert db.socket("tcp://127.0.0.1:6379").is_listening
    assert db.socket(f"tcp://{address}:6379").is_listening
    assert not db.socket("tcp://0.0.0.0:6379").is_listening


def test_only_verified_tls_gets_in(inventory, password):
    """From api1, as the servers connect: without TLS Redis answers nothing
    (no plaintext port); with TLS, its certificate verifies against the
    collection's CA for the name db1, and not against the system's CAs."""
    api1 = testinfra.get_host("ansible://api1", ansible_inventory=inventory)
    plain = redis_py(api1, password, "ssl=False")
    assert plain.returncode != 0 and "ConnectionError" in plain.stderr, plain.stderr[-1000:]
    verified = redis_py(api1, password, f"ssl=True, ssl_ca_certs={CA_FILE!r}, ssl_check_hostname=True")
    assert verified.returncode == 0 and verified.stdout.strip() == "True", verified.stderr[-1000:]
    unknown_ca = redis_py(api1, password, "ssl=True, ssl_check_hostname=True")
    assert unknown_ca.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in unknown_ca.stderr, unknown_ca.stderr[-1000:]
    conf = testinfra.get_host("ansible://db1", ansible_inventory=inventory).file(CONF).content_string
    assert "port 0\n" in conf and "tls-port 6379\n" in conf and 'tls-protocols "TLSv1.2 TLSv1.3"' in conf


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
    """Plain writes and transactions (prefect-redis publishes in MULTI/EXEC)
    are replayed from the append-only file, none refused."""
    redis(db, auth(password) + "\n" + "SET molecule:durable kept\nMULTI\nSET molecule:in-transaction kept\nEXEC")
    invocation = db.check_output("systemctl show -p InvocationID --value redis-server")
    db.run("systemctl restart redis-server")
    out = redis(db, auth(password) + "\n" + "GET molecule:durable\nGET molecule:in-transaction")
    assert out.split() == ["OK", '"kept"', '"kept"'], out
    log = db.check_output("journalctl --no-pager -o cat -u redis-server --since -5min")
    assert "NOPERM" not in log and "DB loaded from append only file" in log, log[-2000:]
    assert invocation not in db.check_output("systemctl show -p InvocationID --value redis-server")
    # The API hosts use Redis: the next test, whichever it is, finds them writing again.
    wait_writes(ca_file, auth_string)


def test_password_not_on_any_command_line(db, password):
    assert password not in db.check_output("ps -eo args")
