"""Redis of the clustered servers (prefect_redis on db1, db2, db3): one
primary, two replicas, three Sentinels, checked from outside."""

import subprocess

import pytest

from ha_cluster import (REDIS_CA_FILE, REDIS_HOSTS, address, redis_auth, redis_cli, redis_primary, replication,
                        sentinel_cli, wait_for, wait_writes)
from molecule_fixtures import container

CONF = "/etc/redis/redis.conf"
ROOT_FILES = ("/etc/redis/redis.conf", "/etc/redis/users.acl", "/etc/redis/credentials.conf",
              "/etc/redis/replication.conf", "/etc/redis/sentinel-users.acl")
SENTINEL_CONF = "/etc/redis/sentinel.conf"
SERVER_PYTHON = "/opt/prefect-server/3.8.8/bin/python"


@pytest.fixture
def primary(hosts, replication_password):
    """The Redis primary's inventory name, once every Sentinel names it."""
    found = []
    assert wait_for(lambda: found.append(redis_primary(hosts, replication_password)) or found[-1], 60, 0.5), \
        "the Sentinels do not agree on a primary"
    return found[-1]


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
    return subprocess.run(["docker", "exec", "-i", container(host), SERVER_PYTHON, "-c", script], input=password,
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", REDIS_HOSTS)
def test_redis_and_sentinel_active_enabled_and_bound_to_the_listed_addresses_only(hosts, name):
    host = hosts[name]
    for unit in ("redis-server", "redis-sentinel"):
        service = host.service(unit)
        assert service.is_running and service.is_enabled, unit
    for port in (6379, 26379):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert host.socket(f"tcp://{address(host)}:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_one_primary_two_replicas_and_three_sentinels_agree(hosts, primary, redis_password, replication_password):
    states = {name: replication(hosts[name], redis_password) for name in REDIS_HOSTS}
    assert states[primary]["role"] == "master" and states[primary]["connected_slaves"] == "2", states[primary]
    for name in REDIS_HOSTS:
        if name != primary:
            assert states[name]["role"] == "slave" and states[name]["master_link_status"] == "up", (name, states[name])
            assert states[name]["master_host"] == address(hosts[primary]), name
    for name in REDIS_HOSTS:
        out = sentinel_cli(hosts[name], replication_password, "SENTINEL CKQUORUM prefect")
        assert "OK 3 usable Sentinels" in out, (name, out)


def test_only_verified_tls_gets_in(hosts, redis_password):
    """From api1, as the servers connect: without TLS Redis answers nothing
    (no plaintext port); with TLS, its certificate verifies against the
    collection's CA for the name db1, and not against the system's CAs."""
    api1 = hosts["api1"]
    plain = redis_py(api1, redis_password, "ssl=False")
    assert plain.returncode != 0 and "ConnectionError" in plain.stderr, plain.stderr[-1000:]
    verified = redis_py(api1, redis_password, f"ssl=True, ssl_ca_certs={REDIS_CA_FILE!r}, ssl_check_hostname=True")
    assert verified.returncode == 0 and verified.stdout.strip() == "True", verified.stderr[-1000:]
    unknown_ca = redis_py(api1, redis_password, "ssl=True, ssl_check_hostname=True")
    assert unknown_ca.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in unknown_ca.stderr, unknown_ca.stderr[-1000:]
    for name in REDIS_HOSTS:
        conf = hosts[name].file(CONF).content_string
        assert "port 0\n" in conf and "tls-port 6379\n" in conf and 'tls-protocols "TLSv1.2 TLSv1.3"' in conf
        assert "tls-replication yes" in conf
        sentinel = hosts[name].file(SENTINEL_CONF).content_string
        assert "tls-port 26379" in sentinel and "tls-replication yes" in sentinel, name


def test_default_user_is_off_in_redis_and_sentinel(hosts):
    db1 = hosts["db1"]
    assert "NOAUTH" in redis_cli(db1, "PING")
    assert "WRONGPASS" in redis_cli(db1, "AUTH default anything")
    assert "NOAUTH" in redis_cli(db1, "SENTINEL MASTERS", port=26379)


def test_prefect_user_writes_to_the_primary_only(hosts, primary, redis_password):
    out = redis_cli(hosts[primary], redis_auth("prefect", redis_password) + "\nSET molecule:key value\nGET molecule:key")
    assert out.split() == ["OK", "OK", "value"], out
    replica = next(name for name in REDIS_HOSTS if name != primary)
    out = redis_cli(hosts[replica], redis_auth("prefect", redis_password) + "\nSET molecule:key other")
    assert "READONLY" in out, out


@pytest.mark.parametrize("name", REDIS_HOSTS)
def test_configuration_files(hosts, name, redis_password, replication_password):
    host = hosts[name]
    for path in ROOT_FILES:
        f = host.file(path)
        assert f.mode == 0o640 and f.user == "root" and f.group == "redis", path
        assert redis_password not in f.content_string, path
        if path != "/etc/redis/credentials.conf":
            assert replication_password not in f.content_string, path
    assert replication_password in host.file("/etc/redis/credentials.conf").content_string
    # Sentinel's own file, which it rewrites: its user's alone.
    sentinel = host.file(SENTINEL_CONF)
    assert sentinel.mode == 0o640 and sentinel.user == "redis" and sentinel.group == "redis"
    assert redis_password not in sentinel.content_string
    conf = host.file(CONF).content_string
    assert "protected-mode yes" in conf
    assert "appendonly yes" in conf and "maxmemory-policy noeviction" in conf
    assert "user default off" in host.file("/etc/redis/users.acl").content_string
    # The Sentinels' CONFIG REWRITE cannot replace the role's files.
    assert "ReadOnlyPaths=/etc/redis" in host.check_output("systemctl cat redis-server")


def test_prefect_user_cannot_administer_redis_or_the_sentinels(hosts, redis_password):
    db1 = hosts["db1"]
    out = redis_cli(db1, redis_auth("prefect", redis_password) + "\nACL SETUSER default on nopass\nCONFIG SET protected-mode no")
    assert out.count("NOPERM") == 2, out
    out = redis_cli(db1, redis_auth("prefect", redis_password)
                    + "\nSENTINEL GET-MASTER-ADDR-BY-NAME prefect\nSENTINEL SET prefect quorum 1"
                    + "\nSENTINEL FAILOVER prefect\nSENTINEL REMOVE prefect", port=26379)
    lines = out.splitlines()
    assert lines[0] == "OK" and lines[1].count(".") == 3, out
    assert out.count("NOPERM") == 3, out


def test_the_exporters_user_reads_info_and_nothing_else(hosts, inventory_vars):
    """The Redis exporter's ACL user: INFO and the slow log, but no key, no
    CONFIG (which would show the replication password), nothing written."""
    password = inventory_vars["db1"]["vault_prefect_redis_metrics_password"]
    out = redis_cli(hosts["db1"], redis_auth("monitoring", password)
                    + "\nINFO replication\nSLOWLOG LEN\nGET molecule:durable\nCONFIG GET masterauth\nSET x y\nKEYS *")
    assert out.startswith("OK\n# Replication") and "role:" in out, out
    assert out.count("NOPERM") == 4, out
    assert password not in " ".join(hosts[name].check_output("ps -eo args") for name in REDIS_HOSTS)


@pytest.mark.usefixtures("cluster_serving")
def test_data_survives_a_restart_of_the_primary(hosts, primary, redis_password, replication_password, ca_file,
                                                auth_string):
    """Plain writes and transactions (prefect-redis publishes in MULTI/EXEC)
    are replayed from the append-only file, none refused; whichever Redis is
    the primary afterwards (a slow restart may hand it over) has them."""
    host = hosts[primary]
    redis_cli(host, redis_auth("prefect", redis_password)
              + "\nSET molecule:durable kept\nMULTI\nSET molecule:in-transaction kept\nEXEC\nWAIT 2 5000")
    invocation = host.check_output("systemctl show -p InvocationID --value redis-server")
    host.run("systemctl restart redis-server")
    assert invocation not in host.check_output("systemctl show -p InvocationID --value redis-server")
    log = host.check_output("journalctl --no-pager -o cat -u redis-server --since -5min")
    assert "NOPERM" not in log and "DB loaded from append only file" in log, log[-2000:]
    now = []
    assert wait_for(lambda: now.append(redis_primary(hosts, replication_password)) or now[-1], 60, 0.5)
    out = redis_cli(hosts[now[-1]], redis_auth("prefect", redis_password)
                    + "\nGET molecule:durable\nGET molecule:in-transaction")
    assert out.split() == ["OK", "kept", "kept"], out
    # The API hosts use Redis: the next test, whichever it is, finds them writing again.
    wait_writes(ca_file, auth_string)


def test_passwords_not_on_any_command_line(hosts, redis_password, replication_password):
    for name in REDIS_HOSTS:
        processes = hosts[name].check_output("ps -eo args")
        assert redis_password not in processes and replication_password not in processes, name
