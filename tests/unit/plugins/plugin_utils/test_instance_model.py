# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The instance model of prefect_server (plugins/plugin_utils/instance_model.py)
and the filters that expose it: every URL form (special characters, IPv6
hosts, SQLite, a cluster), the settings and environment an instance gets,
and the load balancers' servers."""
from __future__ import annotations

import copy
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError
from sqlalchemy.dialects.postgresql.asyncpg import dialect
from sqlalchemy.engine.url import make_url
from ansible_collections.selfhosted.prefect.plugins.filter.loadbalancer_servers import FilterModule as LoadbalancerFilters
from ansible_collections.selfhosted.prefect.plugins.filter.server_instance import FilterModule as InstanceFilters
from ansible_collections.selfhosted.prefect.plugins.plugin_utils import instance_model as im

PASSWORD = "p@ss/w:rd?#%&= x"
REDIS_PASSWORD = "r3d!s/p@ss"

CONTEXT = {
    "version": "3.8.8",
    "home_root": "/var/lib/prefect",
    "env_dir": "/etc/prefect-server",
    "venvs_dir": "/opt/prefect-server",
    "external_host": "server1.example.internal",
    "auth_string": "",
    "database": {"host": "db1", "port": "5432", "name": "orion", "user": "prefect", "password": PASSWORD,
                 "tls": "True"},
    "tls_ca_file": "/etc/ssl/selfhosted-prefect/ca.pem",
    "api_tls": "True",
    "api_tls_cert": "/etc/ssl/selfhosted-prefect/api.pem",
    "api_tls_key": "/etc/ssl/selfhosted-prefect/api.key",
    "api_allowed_hosts": ["client1", "worker1"],
    "loadbalancer_hosts": ["lb1"],
    "redis": {"host": "db1", "port": "6379", "username": "prefect", "password": REDIS_PASSWORD,
              "messaging_db": "0", "docket_db": "1"},
    "api_workers": "1",
    "services_host": "api1",
    "settings": {},
    "production": {
        "events_retention_days": "3", "vacuum_types": ["events", "flow_runs"], "flow_run_retention_days": "90",
        "vacuum_loop_seconds": "3600", "vacuum_batch_size": "200", "pool_size": "10", "max_overflow": "10",
        "database_timeout": "30", "connection_timeout": "10", "analytics_enabled": "False",
        "csrf_protection": "True", "metrics_enabled": False,
    },
    "backup_host": "",
    "backup_before_migration": True,
    "inventory_hostname": "api1",
}


def model(entry=None, **context):
    ctx = copy.deepcopy(CONTEXT)
    for key, value in context.items():
        if isinstance(value, dict) and isinstance(ctx.get(key), dict):
            ctx[key].update(value)
        else:
            ctx[key] = value
    return im.server_instance(entry or {"name": "default", "port": 4200}, ctx)


def test_the_filters_expose_the_model():
    assert InstanceFilters().filters()["server_instance"] is im.server_instance
    assert LoadbalancerFilters().filters()["loadbalancer_servers"] is im.loadbalancer_servers


def test_a_default_instance():
    m = model()
    assert m["name"] == "default" and m["port"] == 4200
    assert m["unit"] == "prefect-server@default.service"
    assert m["migrate_unit"] == "prefect-server-migrate@default.service"
    assert m["units"] == ["prefect-server@default.service", "prefect-services@default.service"]
    assert m["home"] == "/var/lib/prefect/default" and m["ui_dir"] == "/var/lib/prefect/default/ui"
    assert m["env_file"] == "/etc/prefect-server/default.env"
    assert m["stamp_file"] == "/var/lib/prefect/default/.selfhosted-prefect-migrated"
    assert m["stamp"] == "prefect=3.8.8 database=postgresql://prefect@db1:5432/orion\n"
    assert m["venv"] == "/opt/prefect-server/3.8.8"
    assert m["local_api_url"] == "https://127.0.0.1:4200/api"
    assert m["external_api_url"] == "https://server1.example.internal:4200/api"
    assert m["database"] == {"type": "postgresql", "host": "db1", "hosts": ["db1"], "port": 5432, "name": "orion",
                             "user": "prefect", "path": "/var/lib/prefect/default/prefect.db", "tls": True}
    assert m["backup_host"] == "db1" and m["pre_migration_backup"] == "postgresql"
    assert not m["clustered"] and not m["services_here"] and m["cluster_environment"] == {}
    assert [d["dest"] for d in m["dropins"]] == [
        "/etc/systemd/system/prefect-server@default.service.d/instance.conf",
        "/etc/systemd/system/prefect-services@default.service.d/instance.conf"]
    # The clients and workers of a standalone instance reach it over
    # verified TLS; its services run in the API process, as with
    # `prefect server start`.
    assert m["tls"] == {"cert": "/etc/ssl/selfhosted-prefect/api.pem", "key": "/etc/ssl/selfhosted-prefect/api.key",
                        "ca_file": "/etc/ssl/selfhosted-prefect/ca.pem"}
    assert m["process_environment"] == {"PREFECT__SERVER_FINAL": "1"}
    assert m["command"] == [
        "/opt/prefect-server/3.8.8/bin/python", "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
        "--host", "0.0.0.0", "--port", "4200", "--workers", "1", "--log-level", "warning",
        "--ssl-certfile", "/etc/ssl/selfhosted-prefect/api.pem", "--ssl-keyfile", "/etc/ssl/selfhosted-prefect/api.key"]


def test_a_standalone_instance_without_tls_runs_prefects_own_command():
    m = model({"name": "default", "port": 4200, "tls": False})
    assert m["tls"] is None and m["process_environment"] == {}
    assert m["local_api_url"] == "http://127.0.0.1:4200/api"
    assert m["external_api_url"] == "http://server1.example.internal:4200/api"
    assert m["command"] == ["/opt/prefect-server/3.8.8/bin/prefect", "server", "start"]


def test_the_profile_holds_no_secret_and_the_production_settings():
    m = model()
    assert m["settings"] == {
        "PREFECT_SERVER_API_HOST": "0.0.0.0",
        "PREFECT_SERVER_API_PORT": "4200",
        "PREFECT_SERVER_UI_API_URL": "https://server1.example.internal:4200/api",
        "PREFECT_SERVER_UI_STATIC_DIRECTORY": "/var/lib/prefect/default/ui",
        "PREFECT_API_URL": "https://127.0.0.1:4200/api",
        "PREFECT_API_SSL_CERT_FILE": "/etc/ssl/selfhosted-prefect/ca.pem",
        "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED": "true",
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CA_FILE": "/etc/ssl/selfhosted-prefect/ca.pem",
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CHECK_HOSTNAME": "true",
        "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "P3D",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": "P90D",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS": "3600",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE": "200",
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "10",
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": "10",
        "PREFECT_SERVER_DATABASE_TIMEOUT": "30",
        "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": "10",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
        "PREFECT_SERVER_METRICS_ENABLED": "false",
    }
    assert not any(PASSWORD in str(value) for value in m["settings"].values())


TLS_SETTINGS = ("PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED",
                "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CA_FILE",
                "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CHECK_HOSTNAME")


@pytest.mark.parametrize("entry, context, verified", [
    (None, {}, True),
    (None, {"database": {"host": "2001:db8::5"}}, True),
    (None, {"database": {"host": "db1.example.internal", "tls": "False"}}, False),
    ({"name": "default", "port": 4200, "database": {"tls": False}}, {}, False),
    ({"name": "default", "port": 4200, "database": {"tls": True}}, {"database": {"tls": False}}, True),
    (None, {"database": {"host": "localhost"}}, False),
    (None, {"database": {"host": "127.0.0.1"}}, False),
    (None, {"database": {"host": "::1"}}, False),
    ({"name": "default", "port": 4200, "database": {"type": "sqlite"}}, {}, False),
])
def test_a_database_on_another_host_is_reached_over_verified_tls(entry, context, verified):
    m = model(entry, **context)
    assert m["database"]["tls"] is verified
    if verified:
        assert {name: m["settings"][name] for name in TLS_SETTINGS} == {
            TLS_SETTINGS[0]: "true", TLS_SETTINGS[1]: "/etc/ssl/selfhosted-prefect/ca.pem", TLS_SETTINGS[2]: "true"}
    else:
        assert not set(TLS_SETTINGS) & set(m["settings"])


def test_the_tls_settings_are_in_the_profile_not_the_secret_environment():
    m = model()
    assert not set(TLS_SETTINGS) & set(m["environment"])
    assert "sslmode" not in m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]


def test_settings_override_in_order_role_then_instance():
    m = model({"name": "a", "port": 4300, "settings": {"PREFECT_SERVER_DATABASE_TIMEOUT": "60"}},
              settings={"PREFECT_SERVER_DATABASE_TIMEOUT": "45", "PREFECT_LOGGING_LEVEL": "DEBUG"})
    assert m["settings"]["PREFECT_SERVER_DATABASE_TIMEOUT"] == "60"
    assert m["settings"]["PREFECT_LOGGING_LEVEL"] == "DEBUG"


def test_the_password_is_percent_encoded_once_in_full():
    url = model()["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert url == "postgresql+asyncpg://prefect:p%40ss%2Fw%3Ard%3F%23%25%26%3D%20x@db1:5432/orion"
    parts = urlsplit(url)
    assert unquote(parts.password) == PASSWORD and parts.hostname == "db1" and parts.port == 5432


@given(user=st.text(min_size=1, max_size=20), password=st.text(min_size=1, max_size=40))
def test_any_user_and_password_read_back_from_the_url(user, password):
    url = model({"name": "a", "port": 1, "database": {"user": user, "password": password}})[
        "environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    parts = urlsplit(url)
    assert unquote(parts.username) == user and unquote(parts.password) == password
    assert parts.hostname == "db1" and parts.path == "/orion"


@pytest.mark.parametrize("host, netloc_host", [
    ("db1", "db1"),
    ("192.0.2.10", "192.0.2.10"),
    ("2001:db8::10", "[2001:db8::10]"),
    ("::1", "[::1]"),
    ("[2001:db8::10]", "[2001:db8::10]"),
])
def test_database_hosts_in_the_url(host, netloc_host):
    m = model({"name": "a", "port": 1, "database": {"host": host, "port": 5433}})
    url = m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert url.endswith(f"@{netloc_host}:5433/orion")
    assert urlsplit(url).port == 5433


def test_a_cluster_url_names_every_host_and_asks_for_the_primary():
    m = model(database={"hosts": ["db1", "db2", "192.0.2.3"]})
    url = m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert url.startswith(f"postgresql+asyncpg://prefect:{im.url_part(PASSWORD)}@/orion?")
    assert parse_qs(urlsplit(url).query) == {
        "host": ["db1:5432", "db2:5432", "192.0.2.3:5432"], "target_session_attrs": ["read-write"]}
    assert m["database"]["host"] == "db1" and m["backup_host"] == "db1"
    assert m["stamp"] == "prefect=3.8.8 database=postgresql://prefect@db1,db2,192.0.2.3:5432/orion\n"
    assert m["database"]["tls"]


def test_sqlalchemy_reads_the_cluster_url_as_the_model_means_it():
    url = model(database={"hosts": ["db1", "db2", "db3"]})["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    kwargs = dialect().create_connect_args(make_url(url))[1]
    assert kwargs["host"] == ["db1", "db2", "db3"] and kwargs["port"] == [5432, 5432, 5432]
    assert kwargs["password"] == PASSWORD and kwargs["target_session_attrs"] == "read-write"


def test_an_instance_host_overrides_the_cluster_of_the_defaults():
    m = model({"name": "a", "port": 1, "database": {"host": "db9"}}, database={"hosts": ["db1", "db2"]})
    assert m["database"]["hosts"] == ["db9"]
    assert m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"].endswith("@db9:5432/orion")


@pytest.mark.parametrize("hosts, message", [
    ("db1,db2", "must be a list"),
    (["db1", ""], "must be a list"),
    (["db1", "2001:db8::5"], "IPv6"),
])
def test_cluster_hosts_sqlalchemy_cannot_read_fail_clearly(hosts, message):
    with pytest.raises(AnsibleFilterError, match=message) as failure:
        model(database={"hosts": hosts})
    assert PASSWORD not in str(failure.value)


def test_a_loopback_database_is_dumped_on_this_host_unless_a_backup_host_is_set():
    assert model({"name": "a", "port": 1, "database": {"host": "127.0.0.1"}})["backup_host"] == "api1"
    assert model({"name": "a", "port": 1, "database": {"host": "localhost"}})["backup_host"] == "api1"
    assert model({"name": "a", "port": 1, "database": {"host": "::1"}})["backup_host"] == "api1"
    assert model(backup_host="backup1")["backup_host"] == "backup1"
    assert model(backup_before_migration=False)["pre_migration_backup"] == "none"
    assert model(backup_before_migration="false")["pre_migration_backup"] == "none"


def test_an_sqlite_instance():
    m = model({"name": "lab", "port": 4201, "database": {"type": "sqlite"}})
    assert m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == (
        "sqlite+aiosqlite:////var/lib/prefect/lab/prefect.db")
    assert m["database_identity"] == "sqlite:///var/lib/prefect/lab/prefect.db"
    assert m["pre_migration_backup"] == "sqlite"
    m = model({"name": "lab", "port": 4201, "database": {"type": "sqlite", "path": "/srv/lab.db"}})
    assert m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == "sqlite+aiosqlite:////srv/lab.db"


def test_an_unknown_database_type_fails_without_the_password():
    with pytest.raises(AnsibleFilterError, match="database.type must be postgresql or sqlite") as caught:
        model({"name": "a", "port": 1, "database": {"type": "mysql", "password": PASSWORD}})
    assert PASSWORD not in str(caught.value)


def test_an_entry_without_name_or_port_fails():
    with pytest.raises(AnsibleFilterError, match="needs a name and a port"):
        im.server_instance({"port": 1}, CONTEXT)


def test_the_instance_password_wins_over_the_role_default_and_none_is_refused():
    url = model({"name": "a", "port": 1, "database": {"password": "own"}})["environment"][
        "PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert url.startswith("postgresql+asyncpg://prefect:own@")
    for missing in ("", None):
        with pytest.raises(AnsibleFilterError, match="instance a: PostgreSQL needs a password"):
            model({"name": "a", "port": 1}, database={"password": missing})
    sqlite = model({"name": "a", "port": 1, "database": {"type": "sqlite"}}, database={"password": None})
    assert sqlite["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith("sqlite+aiosqlite:///")


@pytest.mark.parametrize("bind, local", [
    ("0.0.0.0", "https://127.0.0.1:4200/api"),
    ("::", "https://127.0.0.1:4200/api"),
    ("10.0.0.5", "https://10.0.0.5:4200/api"),
    ("fd00::5", "https://[fd00::5]:4200/api"),
    ("127.0.0.1", "http://127.0.0.1:4200/api"),
    ("::1", "http://[::1]:4200/api"),
])
def test_the_local_api_url_follows_the_bind_address(bind, local):
    m = model({"name": "default", "port": 4200, "bind_address": bind})
    assert m["local_api_url"] == local and m["settings"]["PREFECT_API_URL"] == local
    assert m["settings"]["PREFECT_SERVER_API_HOST"] == bind


def test_the_external_url_given_or_built_from_the_host():
    assert model({"name": "a", "port": 1, "external_api_url": "https://prefect.example/api"})[
        "external_api_url"] == "https://prefect.example/api"
    assert model(external_host="2001:db8::1")["external_api_url"] == "https://[2001:db8::1]:4200/api"
    assert model(external_host="2001:db8::1", api_tls=False)["external_api_url"] == "http://[2001:db8::1]:4200/api"


@pytest.mark.parametrize("entry, context, anonymous", [
    ({}, {}, True),  # 0.0.0.0, no credentials: refused
    ({"bind_address": "10.0.0.5"}, {}, True),
    ({"bind_address": "prefect1.example.internal"}, {}, True),  # a name may resolve anywhere
    ({"bind_address": "::"}, {}, True),
    ({"bind_address": "127.0.0.1"}, {}, False),
    ({"bind_address": "127.0.1.1"}, {}, False),
    ({"bind_address": "::1"}, {}, False),
    ({"bind_address": "localhost"}, {}, False),
    ({}, {"auth_string": "ops:s3cret"}, False),
    ({"auth_string": "ops:s3cret"}, {}, False),
    ({"auth_string": ""}, {"auth_string": "ops:s3cret"}, True),  # the instance's own empty string wins
    ({}, {"allow_anonymous_api": True}, False),
    ({}, {"allow_anonymous_api": "True"}, False),  # as Jinja hands a bool over
    ({"allow_anonymous_api": True}, {}, False),
    ({"allow_anonymous_api": False}, {"allow_anonymous_api": True}, True),
])
def test_an_instance_the_network_reaches_without_credentials_is_marked(entry, context, anonymous):
    assert model(dict({"name": "a", "port": 1}, **entry), **context)["anonymous_on_network"] is anonymous


def test_the_auth_string_goes_into_the_environment_only():
    m = model({"name": "a", "port": 1, "auth_string": "admin:s3cret"})
    assert m["environment"]["PREFECT_SERVER_API_AUTH_STRING"] == "admin:s3cret"
    assert m["environment"]["PREFECT_API_AUTH_STRING"] == "admin:s3cret"
    assert "admin:s3cret" not in str(m["settings"])
    assert "PREFECT_SERVER_API_AUTH_STRING" not in model()["environment"]
    assert model(auth_string="role:default")["environment"]["PREFECT_API_AUTH_STRING"] == "role:default"
    assert "PREFECT_API_AUTH_STRING" not in model({"name": "a", "port": 1, "auth_string": ""},
                                                  auth_string="role:default")["environment"]


def test_a_cluster_member():
    m = model({"name": "default", "port": 4200,
               "cluster": {"api_workers": 2, "redis": {"host": "2001:db8::6", "tls": False}}})
    assert m["clustered"] and m["services_here"] and m["services_hosts"] == ["api1"] and m["api_workers"] == 2
    assert m["settings"]["PREFECT_SERVER_EVENTS_MESSAGING_BROKER"] == "prefect_redis.messaging"
    assert m["settings"]["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"
    assert m["cluster_environment"] == {
        "PREFECT_REDIS_MESSAGING_HOST": "2001:db8::6", "PREFECT_REDIS_MESSAGING_PORT": "6379",
        "PREFECT_REDIS_MESSAGING_DB": "0", "PREFECT_REDIS_MESSAGING_USERNAME": "prefect",
        "PREFECT_REDIS_MESSAGING_SOCKET_TIMEOUT": "10", "PREFECT_REDIS_MESSAGING_SOCKET_CONNECT_TIMEOUT": "5"}
    assert m["environment"]["PREFECT_REDIS_MESSAGING_PASSWORD"] == REDIS_PASSWORD
    docket = m["environment"]["PREFECT_SERVER_DOCKET_URL"]
    assert docket == "redis://prefect:r3d%21s%2Fp%40ss@[2001:db8::6]:6379/1"
    assert unquote(urlsplit(docket).password) == REDIS_PASSWORD
    assert "password" not in m["redis"]
    assert m["cluster_env_file"] == "/etc/prefect-server/default.cluster"


def test_a_cluster_member_serves_verified_tls_with_uvicorn_as_prefect_runs_it():
    m = model({"name": "default", "port": 4200, "bind_address": "10.0.0.11",
               "settings": {"PREFECT_SERVER_API_KEEPALIVE_TIMEOUT": 30}, "cluster": {"api_workers": 2}})
    assert m["tls"] == {"cert": "/etc/ssl/selfhosted-prefect/api.pem", "key": "/etc/ssl/selfhosted-prefect/api.key",
                        "ca_file": "/etc/ssl/selfhosted-prefect/ca.pem"}
    assert m["local_api_url"] == "https://10.0.0.11:4200/api" and m["local_host"] == "10.0.0.11"
    assert m["settings"]["PREFECT_API_URL"] == "https://10.0.0.11:4200/api"
    assert m["settings"]["PREFECT_API_SSL_CERT_FILE"] == "/etc/ssl/selfhosted-prefect/ca.pem"
    assert m["verifies_tls"]
    assert m["command"] == [
        "/opt/prefect-server/3.8.8/bin/python", "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
        "--host", "10.0.0.11", "--port", "4200", "--workers", "2", "--log-level", "warning",
        "--timeout-keep-alive", "30",
        "--ssl-certfile", "/etc/ssl/selfhosted-prefect/api.pem", "--ssl-keyfile", "/etc/ssl/selfhosted-prefect/api.key"]
    assert m["process_environment"] == {"PREFECT__SERVER_FINAL": "1", "PREFECT__SERVER_WEBSERVER_ONLY": "1"}


@pytest.mark.parametrize("entry, context, tls", [
    ({}, {}, True),
    ({"bind_address": "127.0.0.1"}, {}, False),
    ({"bind_address": "::1"}, {}, False),
    ({"tls": False}, {}, False),
    ({}, {"api_tls": "false"}, False),
    ({"tls": True}, {"api_tls": "false"}, True),
])
@pytest.mark.parametrize("cluster", [{"cluster": {}}, {}], ids=["clustered", "standalone"])
def test_api_tls_follows_the_setting_and_the_bind_address(entry, context, tls, cluster):
    m = model({"name": "default", "port": 4200, **cluster, **entry}, **context)
    assert (m["tls"] is not None) is tls
    assert m["local_api_url"].startswith("https://" if tls else "http://")
    assert (m["command"][1:3] == ["-m", "uvicorn"]) is tls
    assert ("PREFECT_API_SSL_CERT_FILE" in m["settings"]) is tls
    if not tls and cluster:
        assert m["command"] == ["/opt/prefect-server/3.8.8/bin/prefect", "server", "start", "--no-services",
                                "--workers", "1"]
    if not tls and not cluster:
        assert m["command"] == ["/opt/prefect-server/3.8.8/bin/prefect", "server", "start"]


@pytest.mark.parametrize("entry, rule", [
    ({}, {"port": 4200, "sources": ["client1", "worker1"], "comment": "Prefect API default from its clients"}),
    ({"allowed_hosts": ["10.0.9.0/24"]},
     {"port": 4200, "sources": ["10.0.9.0/24"], "comment": "Prefect API default from its clients"}),
    ({"allowed_hosts": []}, {"port": 4200, "sources": [], "comment": "Prefect API default from its clients"}),
    ({"cluster": {}}, {"port": 4200, "sources": ["lb1"], "comment": "Prefect API default from the load balancers"}),
    ({"bind_address": "127.0.0.1"}, None),
    ({"bind_address": "::1", "cluster": {}}, None),
])
def test_the_firewall_lets_in_the_load_balancers_or_the_clients(entry, rule):
    assert model({"name": "default", "port": 4200, **entry})["firewall_rule"] == rule


@pytest.mark.parametrize("entry, context, target", [
    ({"cluster": {}}, {}, {"port": 4200, "labels": {"prefect_instance": "default"}}),
    ({}, {}, {"port": 4200, "labels": {"prefect_instance": "default"}}),
    ({"settings": {"PREFECT_SERVER_METRICS_ENABLED": "false"}}, {}, None),
    ({}, {"api_tls": "false"}, None),
    ({"cluster": {}, "bind_address": "127.0.0.1"}, {}, None),
])
def test_the_metrics_are_a_target_when_enabled_and_served_over_tls_to_the_network(entry, context, target):
    context = {"production": {"metrics_enabled": True}, **context}
    assert model({"name": "default", "port": 4200, **entry}, **context)["metrics_target"] == target
    assert model({"name": "default", "port": 4200, **entry})["metrics_target"] is None


def test_a_cluster_member_reaches_redis_on_another_host_over_verified_tls():
    m = model({"name": "default", "port": 4200, "cluster": {"redis": {"host": "2001:db8::6"}}})
    assert m["redis"]["tls"] and m["verifies_tls"]
    # With a URL set, prefect-redis warns about every discrete setting given;
    # the timeouts are no such setting.
    assert m["cluster_environment"] == {
        "PREFECT_REDIS_MESSAGING_SOCKET_TIMEOUT": "10", "PREFECT_REDIS_MESSAGING_SOCKET_CONNECT_TIMEOUT": "5"}
    assert "PREFECT_REDIS_MESSAGING_PASSWORD" not in m["environment"]
    query = "?ssl_cert_reqs=required&ssl_ca_certs=%2Fetc%2Fssl%2Fselfhosted-prefect%2Fca.pem&ssl_check_hostname=true"
    for name, db in (("PREFECT_REDIS_MESSAGING_URL", 0), ("PREFECT_SERVER_DOCKET_URL", 1)):
        url = m["environment"][name]
        assert url == f"rediss://prefect:r3d%21s%2Fp%40ss@[2001:db8::6]:6379/{db}{query}", name
        assert unquote(urlsplit(url).password) == REDIS_PASSWORD
    assert m["redis_messaging"] == "rediss://prefect@[2001:db8::6]:6379/0"
    assert m["redis_docket"] == "rediss://prefect@[2001:db8::6]:6379/1"
    assert not any(REDIS_PASSWORD in value or "r3d%21s" in value for value in (m["redis_messaging"], m["redis_docket"]))


def test_a_cluster_member_finds_the_redis_primary_through_the_sentinels():
    """The Sentinels take the data nodes' user and password and TLS options;
    the host of a single Redis is then unused, and its being loopback does
    not turn TLS off: the Sentinels name primaries on other hosts."""
    m = model({"name": "default", "port": 4200, "cluster": {"redis": {
        "host": "", "sentinels": ["db1", "db2", "2001:db8::7"], "sentinel_port": 26379, "sentinel_service": "prefect",
        "socket_timeout": 7}}})
    assert m["redis"]["tls"]
    members = "db1:26379,db2:26379,[2001:db8::7]:26379/prefect"
    query = ("?sentinel_username=prefect&sentinel_password=r3d%21s%2Fp%40ss&ssl_cert_reqs=required"
             "&ssl_ca_certs=%2Fetc%2Fssl%2Fselfhosted-prefect%2Fca.pem&ssl_check_hostname=true")
    for name, db in (("PREFECT_REDIS_MESSAGING_URL", 0), ("PREFECT_SERVER_DOCKET_URL", 1)):
        assert m["environment"][name] == f"rediss+sentinel://prefect:r3d%21s%2Fp%40ss@{members}/{db}{query}", name
        assert parse_qs(urlsplit(m["environment"][name].replace(members, "placeholder")).query)[
            "sentinel_password"] == [REDIS_PASSWORD]
    assert m["cluster_environment"]["PREFECT_REDIS_MESSAGING_SOCKET_TIMEOUT"] == "7"
    assert m["redis_messaging"] == f"rediss+sentinel://prefect@{members}/0"
    assert "PREFECT_REDIS_MESSAGING_PASSWORD" not in m["environment"]


@given(st.text(min_size=1, max_size=30))
def test_any_redis_password_survives_the_sentinel_url(password):
    m = model({"name": "default", "port": 4200, "cluster": {"redis": {
        "sentinels": ["db1"], "sentinel_port": 26379, "sentinel_service": "prefect", "password": password}}})
    url = m["environment"]["PREFECT_SERVER_DOCKET_URL"]
    parts = urlsplit(url.replace("db1:26379", "placeholder"))
    assert unquote(parts.password) == password
    assert parse_qs(parts.query)["sentinel_password"] == [password]


@pytest.mark.parametrize("redis, tls", [({}, True), ({"tls": "False"}, False), ({"host": "127.0.0.1"}, False),
                                        ({"host": "localhost"}, False), ({"host": "::1"}, False)])
def test_redis_tls_follows_the_setting_and_the_host(redis, tls):
    m = model({"name": "default", "port": 4200, "cluster": {"redis": redis}})
    assert m["redis"]["tls"] is tls
    assert m["environment"]["PREFECT_SERVER_DOCKET_URL"].startswith("rediss://" if tls else "redis://")
    assert ("PREFECT_REDIS_MESSAGING_URL" in m["environment"]) is tls


def test_a_loopback_instance_on_a_local_database_verifies_nothing():
    assert not model({"name": "default", "port": 4200, "bind_address": "127.0.0.1"},
                     database={"host": "localhost"})["verifies_tls"]
    # Its own API's certificate, then.
    assert model(database={"host": "localhost"})["verifies_tls"]
    assert model()["verifies_tls"]


def test_services_run_on_the_named_hosts_only():
    entry = {"name": "default", "port": 4200, "cluster": {"services_hosts": ["api2"]}}
    assert not model(entry)["services_here"]
    assert model(entry, inventory_hostname="api2")["services_here"]
    assert model({"name": "default", "port": 4200, "cluster": {}}, inventory_hostname="api2")[
        "services_hosts"] == ["api1"]


def test_a_cluster_set_to_none_is_no_cluster():
    m = model({"name": "default", "port": 4200, "cluster": None})
    assert not m["clustered"] and "PREFECT_SERVER_DOCKET_URL" not in m["environment"]


def test_every_form_of_each_password_is_listed_for_masking():
    forms = model({"name": "default", "port": 4200, "cluster": {}})["secret_forms"]
    assert PASSWORD in forms and REDIS_PASSWORD in forms
    assert "p%40ss/w%3Ard%3F%23%25%26%3D%20x" in forms  # as Jinja's urlencode leaves it
    assert "p%40ss%2Fw%3Ard%3F%23%25%26%3D%20x" in forms  # as in the URL
    assert "r3d%21s%2Fp%40ss" in forms
    assert len(forms) == len(set(forms))
    # SQLite has no password: nothing to mask.
    assert model({"name": "a", "port": 1, "database": {"type": "sqlite"}}, database={"password": ""})[
        "secret_forms"] == []
    assert REDIS_PASSWORD not in model()["secret_forms"]


@given(password=st.text(min_size=1, max_size=30))
def test_every_password_form_in_the_environment_is_masked(password):
    m = model({"name": "a", "port": 1, "database": {"password": password}})
    url = m["environment"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert any(form in url for form in m["secret_forms"])


def test_the_load_balancers_servers_of_the_clustered_instances():
    hostvars = {
        "api1": {"prefect_server_instances": [
            {"name": "default", "port": 4200, "bind_address": "10.0.0.11", "cluster": {}},
            {"name": "lab", "port": 4300}],
            "ansible_facts": {"default_ipv4": {"address": "10.0.0.99"}}},
        "api2": {"prefect_server_instances": [
            {"name": "default", "port": 4200, "cluster": {"api_workers": 2}}],
            "ansible_facts": {"default_ipv4": {"address": "10.0.0.12"}}},
        "api3": {"prefect_server_instances": [{"name": "default", "port": 4400, "bind_address": "::", "cluster": {}}]},
        "client1": {},
    }
    assert im.loadbalancer_servers(["api1", "api2", "api3", "client1"], hostvars) == {"default": [
        {"name": "api1", "address": "10.0.0.11", "port": 4200, "tls": True},
        {"name": "api2", "address": "10.0.0.12", "port": 4200, "tls": True},
        {"name": "api3", "address": "api3", "port": 4400, "tls": True},
    ]}
    assert im.loadbalancer_servers([], hostvars) == {}


@pytest.mark.parametrize("entry, host_vars, tls", [
    ({"bind_address": "10.0.0.11"}, {}, True),
    ({"bind_address": "127.0.0.1"}, {}, False),
    ({"bind_address": "10.0.0.11", "tls": "false"}, {}, False),
    ({"bind_address": "10.0.0.11"}, {"prefect_server_api_tls": False}, False),
    ({"bind_address": "10.0.0.11", "tls": True}, {"prefect_server_api_tls": False}, True),
])
def test_the_load_balancers_verify_the_servers_that_serve_tls(entry, host_vars, tls):
    """The load balancers' view agrees with the instance model's."""
    entry = {"name": "default", "port": 4200, "cluster": {}, **entry}
    servers = im.loadbalancer_servers(["api1"], {"api1": {"prefect_server_instances": [entry], **host_vars}})
    assert servers["default"][0]["tls"] is tls
    context = {"api_tls": host_vars["prefect_server_api_tls"]} if host_vars else {}
    assert (model(entry, **context)["tls"] is not None) is tls
