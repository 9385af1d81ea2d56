"""The clustered instance from outside: api1 and api2 behind lb1 over HTTPS,
its background services on api1 only, PostgreSQL under Patroni and Redis under
Sentinels on db1 to db3.

test_load.py then puts it under load; this module runs before it (file order).
"""

import json
import re
import urllib.parse

from ha_cluster import (FLOATING_NAME, INSTANCE, floating_address_holders, haproxy_servers, https_json, interval_deployment, pg_primary,
                        run_flow_on_client, scheduled_starts, wait_for)


def test_api_on_both_hosts_services_on_api1_only(hosts):
    for name in ("api1", "api2"):
        api = hosts[name]
        unit = api.service(f"prefect-server@{INSTANCE}.service")
        assert unit.is_running and unit.is_enabled, name
        exec_start = api.check_output(f"systemctl show -p ExecStart --value prefect-server@{INSTANCE}.service")
        # The API only (the services run apart), serving TLS: uvicorn on Prefect's app.
        assert "-m uvicorn --factory prefect.server.api.server:create_app" in exec_start, (name, exec_start)
        assert "--workers 2" in exec_start and "--ssl-certfile /etc/ssl/selfhosted-prefect/api.pem" in exec_start
        environment = api.check_output(f"systemctl show -p Environment --value prefect-server@{INSTANCE}.service")
        assert "PREFECT__SERVER_WEBSERVER_ONLY=1" in environment, (name, environment)
    services = hosts["api1"].service(f"prefect-services@{INSTANCE}.service")
    assert services.is_running and services.is_enabled
    idle = hosts["api2"].service(f"prefect-services@{INSTANCE}.service")
    assert not idle.is_running and not idle.is_enabled
    assert "services start" in hosts["api1"].check_output("ps -eo args")
    assert "services start" not in hosts["api2"].check_output("ps -eo args")


def test_every_unit_of_a_cluster_member_is_sandboxed(hosts, exposure):
    for unit in (f"prefect-server@{INSTANCE}.service", f"prefect-services@{INSTANCE}.service",
                 f"prefect-server-migrate@{INSTANCE}.service"):
        assert exposure(hosts["api1"], unit) <= 2.5, unit


def test_api_binds_the_address_haproxy_uses_only(hosts):
    for name in ("api1", "api2"):
        api = hosts[name]
        address = api.ansible("setup", "gather_subset=network")["ansible_facts"]["ansible_default_ipv4"]["address"]
        assert api.socket(f"tcp://{address}:4200").is_listening, name
        assert not api.socket("tcp://0.0.0.0:4200").is_listening, name


def test_the_api_hosts_serve_only_verified_tls(hosts):
    """lb1 reaches each API host over TLS with a certificate from the
    collection's CA for the host's name; plain HTTP and a client trusting
    only the system's CAs get nothing; HAProxy verifies each server."""
    lb = hosts["lb1"]
    for name in ("api1", "api2"):
        url = f"https://{name}:4200/api/health"
        assert lb.check_output(f"curl -sS --cacert /etc/ssl/selfhosted-prefect/ca.pem {url}") == "true", name
        untrusted = lb.run(f"curl -sS --cacert /etc/ssl/certs/ca-certificates.crt {url}")
        assert untrusted.rc == 60, (name, untrusted.stderr)  # the peer's certificate cannot be verified
        plain = lb.run(f"curl -sS -o /dev/null -w '%{{http_code}}' http://{name}:4200/api/health")
        assert plain.rc != 0 or plain.stdout != "200", (name, plain.stdout)
        key = hosts[name].file("/etc/ssl/selfhosted-prefect/api.key")
        assert key.mode == 0o600 and key.user == "prefect", name
    config = lb.file("/etc/haproxy/haproxy.cfg").content_string
    servers = re.findall(r"^\s+server (api\d) (\S+) (.*)$", config, re.M)
    assert [server[0] for server in servers] == ["api1", "api2"], config
    for name, _address, options in servers:
        assert f"ssl verify required ca-file /etc/ssl/selfhosted-prefect/ca.pem verifyhost {name}" in options, options


def test_every_postgresql_session_of_the_api_hosts_is_verified_tls(hosts, ca_file, auth_string):
    """The primary's sessions from api1 and api2 (client_addr set) are all TLS, and
    both hosts verify the certificate against the collection's CA."""
    https_json(ca_file, "/api/ready")  # a session from at least one host
    addresses = {name: hosts[name].ansible("setup", "gather_subset=network")["ansible_facts"]["ansible_default_ipv4"]
                 ["address"] for name in ("api1", "api2")}
    sessions = hosts[pg_primary(hosts)].check_output(
        "runuser -u postgres -- psql -tA -F ' ' -c \"select host(a.client_addr), s.ssl, s.version "
        "from pg_stat_ssl s join pg_stat_activity a using (pid) "
        "where a.usename = 'prefect' and a.client_addr is not null\"")
    rows = [line.split() for line in sessions.splitlines() if line.strip()]
    assert rows and {row[0] for row in rows} <= set(addresses.values()), rows
    assert all(row[1] == "t" and row[2] in ("TLSv1.2", "TLSv1.3") for row in rows), rows
    for name in ("api1", "api2"):
        profile = hosts[name].file(f"/var/lib/prefect/{INSTANCE}/profiles.toml").content_string
        assert 'PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED = "true"' in profile, name
        assert 'PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CHECK_HOSTNAME = "true"' in profile, name
        assert hosts[name].file("/etc/ssl/selfhosted-prefect/ca.pem").exists, name
    hba = hosts["db1"].check_output("cat /etc/postgresql/*/main/pg_hba.conf")
    for address in addresses.values():
        assert re.search(rf"^hostssl \S+ prefect {re.escape(address)}/32 scram-sha-256$", hba, re.M), address


def test_redis_settings_visible_password_in_env_file_only(hosts, inventory_vars):
    api = hosts["api1"]
    password = inventory_vars["api1"]["vault_prefect_redis_password"]
    profile = api.file(f"/var/lib/prefect/{INSTANCE}/profiles.toml").content_string
    for line in ('PREFECT_SERVER_EVENTS_MESSAGING_BROKER = "prefect_redis.messaging"',
                 'PREFECT_SERVER_EVENTS_CAUSAL_ORDERING = "prefect_redis.ordering"',
                 'PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE = "prefect_redis.lease_storage"'):
        assert line in profile
    cluster = api.file(f"/etc/prefect-server/{INSTANCE}.cluster").content_string
    members = "db1:26379,db2:26379,db3:26379/prefect"
    assert f"# Messaging: rediss+sentinel://prefect@{members}/0" in cluster
    assert f"# Docket:    rediss+sentinel://prefect@{members}/1" in cluster
    assert "PREFECT_REDIS_MESSAGING_SOCKET_TIMEOUT=10" in cluster
    encoded = urllib.parse.quote(password, safe="")
    for text in (profile, cluster):
        assert password not in text and encoded not in text and "PASSWORD" not in text
    env = api.file(f"/etc/prefect-server/{INSTANCE}.env")
    assert env.mode == 0o640 and env.user == "root" and env.group == "prefect"
    # The Sentinels with the same user and password; TLS verified against
    # the collection's CA, host name included.
    query = (f"?sentinel_username=prefect&sentinel_password={encoded}&ssl_cert_reqs=required"
             "&ssl_ca_certs=%2Fetc%2Fssl%2Fselfhosted-prefect%2Fca.pem&ssl_check_hostname=true")
    for name, db in (("PREFECT_REDIS_MESSAGING_URL", 0), ("PREFECT_SERVER_DOCKET_URL", 1)):
        assert f'{name}="rediss+sentinel://prefect:{encoded}@{members}/{db}{query}"' in env.content_string, name


def test_no_setting_warnings_or_scheduler_errors_since_start(hosts):
    """Every setting is where Prefect expects it, and the services' loops run
    clean (the scheduler failed every loop with SQLAlchemy 2.1)."""
    for name, unit in (("api1", f"prefect-services@{INSTANCE}.service"), ("api1", f"prefect-server@{INSTANCE}.service"),
                       ("api2", f"prefect-server@{INSTANCE}.service")):
        api = hosts[name]
        invocation = api.check_output(f"systemctl show -p InvocationID --value {unit}")
        log = api.check_output(f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation}")
        assert "is not recognized" not in log, (name, unit)
        assert "Can't evaluate bulk DML" not in log, (name, unit)


def test_http_redirects_to_https(hosts):
    headers = hosts["lb1"].check_output("curl -sS -o /dev/null -D - http://127.0.0.1/api/health")
    assert headers.split()[1] == "301"
    assert re.search(r"(?im)^location: https://127\.0\.0\.1/api/health", headers)


def test_https_answers_tell_browsers_to_keep_to_https(hosts):
    headers = hosts["lb1"].check_output("curl -sS --cacert /etc/ssl/selfhosted-prefect/ca.pem -o /dev/null -D - https://127.0.0.1/api/health")
    assert re.search(r"(?im)^strict-transport-security: max-age=31536000\s*$", headers), headers
    # Only the site itself: the UI's analytics host is refused (test_browser.py).
    policy = re.search(r"(?im)^content-security-policy: (.*?)\s*$", headers).group(1)
    assert "default-src 'self';" in policy and "connect-src 'self';" in policy, policy
    assert "amplitude" not in policy


def test_the_load_balancer_publishes_the_cas_revocation_list(hosts, ca_file):
    """Every certificate the collection's CA issued names the list; lb1
    serves it on its HTTP port (DER, signed by the CA), the one answer
    there that is not a redirect."""
    client, lb = hosts["client1"], hosts["lb1"]
    url = "http://lb1/selfhosted-prefect/ca.crl"
    for host, cert in ((lb, "/etc/haproxy/selfhosted-prefect/frontend.pem"),
                       (hosts["api1"], "/etc/ssl/selfhosted-prefect/api.pem"),
                       (hosts["db1"], "/etc/ssl/selfhosted-prefect/postgresql.pem")):
        text = host.check_output(f"openssl x509 -in {cert} -noout -ext crlDistributionPoints")
        assert f"URI:{url}" in text, (cert, text)
    client.check_output(f"curl -fsS -o /tmp/ca.crl {url}")
    verified = client.run("openssl crl -inform DER -in /tmp/ca.crl -CAfile /etc/selfhosted-prefect/ca/hosted.pem "
                          "-noout -nextupdate")
    assert verified.rc == 0 and "verify OK" in verified.stderr + verified.stdout, verified.stderr
    assert client.check_output("curl -sS -o /dev/null -w '%{http_code}' http://lb1/api/health") == "301"


def test_a_revoked_serial_is_listed_once_a_converge_ran(hosts, run_playbook):
    """prefect_pki_revoked reaches the list lb1 serves with a converge of
    the TLS concern; the next converge without it lists nothing again.
    (The API hosts in the limit: lb1's backends come from their facts.)"""
    client = hosts["client1"]
    serial = int(hosts["api2"].check_output("openssl x509 -in /etc/ssl/selfhosted-prefect/api.pem -noout -serial")
                 .split("=", 1)[1], 16)

    def listed():
        client.check_output("curl -fsS -o /tmp/ca.crl http://lb1/selfhosted-prefect/ca.crl")
        text = client.check_output("openssl crl -inform DER -in /tmp/ca.crl -noout -text")
        return re.findall(r"Serial Number: ([0-9A-F]+)", text)

    assert listed() == []
    try:
        revoked = run_playbook("--limit", "lb1,api1,api2", "--tags", "tls", "-e",
                               json.dumps({"prefect_pki_revoked": [{"serial_number": serial}]}),
                               "selfhosted.prefect.site")
        assert revoked.returncode == 0, revoked.stdout[-3000:] + revoked.stderr[-2000:]
        assert [int(number, 16) for number in listed()] == [serial]
    finally:
        restored = run_playbook("--limit", "lb1,api1,api2", "--tags", "tls", "selfhosted.prefect.site")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    assert listed() == []


def test_ui_settings_report_the_https_url(ca_file):
    assert https_json(ca_file, "/ui-settings")["api_url"] == f"https://{FLOATING_NAME}/api"


def test_flow_run_from_client_through_https_lands_in_postgresql(hosts):
    client, db = hosts["client1"], hosts[pg_primary(hosts)]
    flow_name, flow_run_id, printed = run_flow_on_client(client)
    assert f"API https://{FLOATING_NAME}/api /etc/selfhosted-prefect/ca/hosted.pem" in printed
    query = ("select f.name || ' ' || fr.state_type::text from flow_run fr join flow f on f.id = fr.flow_id "
             f"where fr.id = '{flow_run_id}'")
    stored = db.check_output(f'runuser -u postgres -- psql -d orion -tA -c "{query}"')
    assert stored.split() == [flow_name, "COMPLETED"]


def test_both_api_hosts_served_requests(hosts, ca_file, auth_string):
    for _request in range(20):
        https_json(ca_file, "/api/flows/filter", {"limit": 1}, auth_string)
    # The load balancer that holds the floating address served them.
    holders = floating_address_holders(hosts)
    assert len(holders) == 1, holders
    servers = haproxy_servers(hosts[holders[0]])
    assert set(servers) == {"api1", "api2"}
    for name, row in servers.items():
        assert row["status"] == "UP", (name, row["status"])
        assert int(row["stot"]) > 0, (name, row["stot"])
    print("\nrequests served (HAProxy stot): " + ", ".join(f"{n} {r['stot']}" for n, r in sorted(servers.items())))


def test_interval_schedule_creates_each_run_once(ca_file, auth_string):
    """The scheduler (in prefect-services@ on api1) fills the schedule; with
    one services process, or several sharing Docket, each slot appears once."""
    deployment = interval_deployment(ca_file, auth_string)
    starts = []

    def filled():
        starts[:] = scheduled_starts(ca_file, auth_string, deployment["id"])
        return len(starts) >= 3

    wait_for(filled, 120, 3)
    print(f"\nscheduled runs of the deployment: {len(starts)}, distinct start times: {len(set(starts))}")
    assert len(starts) >= 3
    assert len(starts) == len(set(starts))
