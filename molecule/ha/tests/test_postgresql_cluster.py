"""PostgreSQL on db1, db2, db3 under Patroni, with an etcd member on each
(prefect_postgresql with prefect_postgresql_hosts of three): one leader, a
synchronous standby, replicas streaming over verified TLS, and etcd and
Patroni's REST API closed to anyone without the collection's client
certificate or the REST password; a restore that looks for its dump on the
primary. A host that lost its data rejoins with one converge: test_load's
loss of the primary's host."""

import json

import pytest

from ha_cluster import DB_CA_FILE, DB_HOSTS, PATRONI_PORT, address, patroni, patroni_members, pg_primary, psql


def test_one_leader_and_a_synchronous_standby_all_streaming(hosts):
    members = {m["name"]: m for m in patroni_members(hosts)}
    assert sorted(members) == list(DB_HOSTS)
    roles = sorted(m["role"] for m in members.values())
    assert roles.count("leader") == 1 and "sync_standby" in roles, members
    for member in members.values():
        assert member["state"] in ("running", "streaming"), member
        assert member.get("lag", 0) in (0, "0", None) or int(member["lag"]) < 16 * 1024 * 1024, member
    config = patroni(hosts["db1"], "/config")
    assert config["synchronous_mode"] is True
    assert (config["ttl"], config["loop_wait"], config["retry_timeout"]) == (20, 5, 5)


def test_the_replicas_stream_over_tls_as_the_replication_role(hosts):
    primary = hosts[pg_primary(hosts)]
    rows = psql(primary, "select r.usename, r.state, s.ssl from pg_stat_replication r "
                         "join pg_stat_ssl s using (pid)", "postgres").splitlines()
    assert len(rows) == 2, rows
    assert all(row == "replicator|streaming|t" for row in rows), rows
    sync = psql(primary, "select count(*) from pg_stat_replication where sync_state = 'sync'", "postgres")
    assert sync.strip() == "1"


def test_each_host_is_patronis_alone(hosts, inventory_vars):
    """Debian's unit of the cluster stays off; Patroni's runs at boot. The
    passwords are in the root-only env.conf, not in Patroni's YAML file."""
    passwords = [inventory_vars["db1"][name] for name in (
        "vault_prefect_patroni_password", "vault_prefect_pg_replication_password", "vault_prefect_pg_rewind_password")]
    for name in DB_HOSTS:
        host = hosts[name]
        assert host.service("patroni@17-main").is_enabled and host.service("patroni@17-main").is_running
        assert not host.service("postgresql@17-main").is_enabled
        assert host.file("/etc/postgresql/17/main/start.conf").content_string.strip() == "manual"
        env = host.file("/etc/patroni/env.conf")
        assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
        settings = host.file("/etc/patroni/17-main.yml").content_string
        assert not [password for password in passwords if password in settings], f"a password in {name}'s settings"


def test_patroni_answers_get_to_anyone_and_changes_only_to_a_member_with_the_password(hosts):
    """A change needs a client certificate of the collection's CA (403
    without) and the REST password (401 without or with a wrong one)."""
    db1 = hosts["db1"]
    url = f"https://{address(db1)}:{PATRONI_PORT}"
    plain = db1.run(f"curl -sS --max-time 5 http://{address(db1)}:{PATRONI_PORT}/cluster")
    assert plain.rc != 0 or "members" not in plain.stdout, "Patroni answered plain HTTP"
    curl = f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {DB_CA_FILE}"
    member = "--cert /etc/ssl/selfhosted-prefect/patroni.pem --key /etc/ssl/selfhosted-prefect/patroni.key"
    no_cert = db1.run(f"{curl} -u patroni:wrong-password -X PATCH -d '{{\"ttl\": 99}}' {url}/config")
    assert no_cert.stdout == "403", no_cert.stdout
    refused = db1.run(f"{curl} {member} -X POST -d '{{\"leader\": \"nobody\"}}' {url}/switchover")
    assert refused.stdout == "401", refused.stdout
    wrong = db1.run(f"{curl} {member} -u patroni:wrong-password -X PATCH -d '{{\"ttl\": 99}}' {url}/config")
    assert wrong.stdout == "401", wrong.stdout
    assert patroni(db1, "/config")["ttl"] == 20


def test_etcd_takes_only_clients_with_the_collections_client_certificate(hosts):
    db1 = hosts["db1"]
    url = f"https://{address(db1)}:2379/version"
    without = db1.run(f"curl -sS --max-time 5 --cacert {DB_CA_FILE} {url}")
    assert without.rc != 0, without.stdout
    # api1's certificate comes from the same CA, for serving only.
    api_cert = hosts["api1"].file("/etc/ssl/selfhosted-prefect/api.pem")
    assert api_cert.exists
    with_member = db1.run(f"curl -sS --max-time 5 --cacert {DB_CA_FILE} --cert /etc/ssl/selfhosted-prefect/etcd.pem "
                          f"--key /etc/ssl/selfhosted-prefect/etcd.key {url}")
    assert with_member.rc == 0 and "etcdserver" in with_member.stdout, with_member.stderr
    health = db1.check_output(
        f"etcdctl --endpoints={','.join(f'https://{address(hosts[n])}:2379' for n in DB_HOSTS)} "
        f"--cacert={DB_CA_FILE} --cert=/etc/ssl/selfhosted-prefect/etcd.pem "
        f"--key=/etc/ssl/selfhosted-prefect/etcd.key endpoint health -w json")
    assert [e["health"] for e in json.loads(health)] == [True, True, True]


@pytest.mark.parametrize("name", ["api1", "api2"])
def test_the_servers_name_every_database_host_and_ask_for_the_primary(hosts, name):
    """Checked without printing the URL: it holds the password."""
    env = "/etc/prefect-server/default.env"
    count = hosts[name].check_output(
        f"grep -c '^PREFECT_SERVER_DATABASE_CONNECTION_URL=.*host=db1:5432&host=db2:5432&host=db3:5432"
        f"&target_session_attrs=read-write' {env}")
    assert count == "1"


def test_restore_looks_for_the_dump_on_the_primary_and_stops_nothing(hosts, run_playbook):
    """restore.yml asks Patroni where the primary is (the fault tests of
    test_load have moved it from db1, the first database host) and checks
    the dump there; a dump that is not there stops nothing."""
    primary = pg_primary(hosts)
    missing = "/var/backups/prefect-db/orion.missing.pgc"
    result = run_playbook("-e", "restore_instance=default", "-e", f"restore_dump={missing}",
                          "selfhosted.prefect.restore")
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())  # a failed result may go to stderr
    assert f"No dump {missing} on {primary}." in output, output[-3000:]
    for name in ("api1", "api2"):
        assert hosts[name].service("prefect-server@default.service").is_running, name
