# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The instance model: one entry of prefect_server_instances plus the role's
defaults give every name, path, URL, setting and environment variable of a
Prefect server instance, and the load balancers' view of the instances.
Building them here, once, keeps the roles free of string assembly and lets
each URL form be tested on its own (tests/unit/plugins/plugin_utils). The
filters server_instance and loadbalancer_servers expose it.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import quote, urlencode

from ansible.errors import AnsibleFilterError

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("0.0.0.0", "::")

# The role's production defaults under the names Prefect reads. Durations in
# ISO 8601, which every Prefect 3 release parses.
PRODUCTION_SETTINGS = (
    ("PREFECT_SERVER_EVENTS_RETENTION_PERIOD", "events_retention_days", "P{}D"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "vacuum_types", "list"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "flow_run_retention_days", "P{}D"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS", "vacuum_loop_seconds", "int"),
    ("PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE", "vacuum_batch_size", "int"),
    ("PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE", "pool_size", "int"),
    ("PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW", "max_overflow", "int"),
    ("PREFECT_SERVER_DATABASE_TIMEOUT", "database_timeout", "int"),
    ("PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT", "connection_timeout", "int"),
    ("PREFECT_SERVER_ANALYTICS_ENABLED", "analytics_enabled", "bool"),
    ("PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED", "csrf_protection", "bool"),
    ("PREFECT_SERVER_METRICS_ENABLED", "metrics_enabled", "bool"),
)

# Prefect's own settings of a cluster member (the profile); prefect-redis's
# go into <env_dir>/<name>.cluster, since Prefect warns at every start about
# an integration's settings in a profile.
# What `prefect server start` passes uvicorn from Prefect's settings.
UVICORN_FLAGS = (
    ("PREFECT_SERVER_API_KEEPALIVE_TIMEOUT", "--timeout-keep-alive"),
    ("PREFECT_SERVER_API_WEBSOCKET_PING_INTERVAL", "--ws-ping-interval"),
    ("PREFECT_SERVER_API_WEBSOCKET_PING_TIMEOUT", "--ws-ping-timeout"),
)

CLUSTER_SETTINGS = {
    "PREFECT_SERVER_EVENTS_MESSAGING_BROKER": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_MESSAGING_CACHE": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
}


def url_part(value):
    """value percent-encoded for the user or password part of a URL: every
    reserved character, '/' included."""
    return quote(str(value), safe="")


def url_host(host):
    """host as it stands in a URL: an IPv6 address in brackets."""
    host = str(host)
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(address):
    """True for an address only this host reaches (127.0.0.0/8, ::1, localhost)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name: it resolves to whatever the network says
        return False


def secret_forms(secrets):
    """The forms in which the secrets can appear in output: as given,
    percent-encoded as Jinja's urlencode leaves it ('/' kept) and fully."""
    forms = []
    for secret in secrets:
        if not secret:
            continue
        for form in (str(secret), quote(str(secret), safe="/"), url_part(secret)):
            if form not in forms:
                forms.append(form)
    return forms


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y", "t")
    return bool(value)


def production_settings(production):
    """The role's production variables as Prefect settings (strings)."""
    settings = {}
    for name, key, form in PRODUCTION_SETTINGS:
        value = production[key]
        if form == "list":
            settings[name] = ",".join(str(item) for item in value)
        elif form == "bool":
            settings[name] = "true" if _bool(value) else "false"
        elif form == "int":
            settings[name] = str(int(value))
        else:
            settings[name] = form.format(int(value))
    return settings


def database(entry, context, home):
    """The instance's database without its password, and the password
    (None for SQLite). "hosts" lists the PostgreSQL hosts: one, or a
    cluster's (the servers then connect to whichever is the primary); "host"
    is the first."""
    defaults = context["database"]
    given = dict(entry.get("database") or {})
    # The inventory's (a vault variable): the role has no default password.
    password = given.pop("password", None) or defaults.get("password")
    given_hosts = given.pop("hosts", None)
    db = {
        "type": "postgresql",
        "host": defaults["host"],
        "port": int(defaults["port"]),
        "name": defaults["name"],
        "user": defaults["user"],
        "path": f"{home}/prefect.db",
    }
    db.update(given)
    db["port"] = int(db["port"])
    if db["type"] not in ("postgresql", "sqlite"):
        raise AnsibleFilterError(
            f"instance {entry['name']}: database.type must be postgresql or sqlite, not {db['type']!r}")
    if given_hosts:
        hosts = given_hosts
    elif "host" in given:
        hosts = [given["host"]]
    else:
        hosts = defaults.get("hosts") or [db["host"]]
    if isinstance(hosts, (str, bytes)) or not all(isinstance(host, str) and host for host in hosts):
        raise AnsibleFilterError(
            f"instance {entry['name']}: database hosts must be a list of host names or addresses, not {hosts!r}")
    # SQLAlchemy's asyncpg dialect splits "host:port" at the first colon.
    if len(hosts) > 1 and any(":" in host for host in hosts):
        raise AnsibleFilterError(
            f"instance {entry['name']}: several database hosts must be names or IPv4 addresses (SQLAlchemy "
            f"cannot read an IPv6 address among them): {', '.join(hosts)}")
    if db["type"] == "postgresql" and not password:
        raise AnsibleFilterError(
            f"instance {entry['name']}: PostgreSQL needs a password (prefect_server_database_password, or the "
            "instance's database.password, from a vault variable); there is no default")
    db["hosts"] = list(hosts)
    db["host"] = db["hosts"][0]
    # Verified TLS on every hop between hosts; a database on this host is no hop.
    tls = given.get("tls")
    if tls is None:
        tls = defaults.get("tls", True)
    db["tls"] = (_bool(tls) and db["type"] == "postgresql"
                 and not all(is_loopback(host) for host in db["hosts"]))
    return db, password


def database_tls_settings(db, ca_file):
    """The server's settings that make it verify PostgreSQL's certificate
    (against ca_file, host name included), or none."""
    if not db["tls"]:
        return {}
    return {
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED": "true",
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CA_FILE": ca_file,
        "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CHECK_HOSTNAME": "true",
    }


def database_url(db, password):
    """PREFECT_SERVER_DATABASE_CONNECTION_URL. Several hosts: asyncpg tries
    each in turn and keeps the one that takes writes, the primary."""
    if db["type"] == "sqlite":
        return f"sqlite+aiosqlite:///{db['path']}"
    credentials = f"postgresql+asyncpg://{url_part(db['user'])}:{url_part(password)}"
    if len(db["hosts"]) > 1:
        hosts = "&".join(f"host={quote(host, safe='')}:{db['port']}" for host in db["hosts"])
        return f"{credentials}@/{db['name']}?{hosts}&target_session_attrs=read-write"
    return f"{credentials}@{url_host(db['host'])}:{db['port']}/{db['name']}"


def database_identity(db):
    """What the migration stamp records of the database: no password."""
    if db["type"] == "sqlite":
        return f"sqlite://{db['path']}"
    return f"postgresql://{db['user']}@{','.join(db['hosts'])}:{db['port']}/{db['name']}"


def redis_location(redis):
    """Where a Redis URL points: the Sentinels and the name they monitor the
    primary under ("s1:26379,s2:26379/prefect"), or the one host ("db1:6379")."""
    if redis.get("sentinels"):
        members = ",".join(f"{url_host(host)}:{redis['sentinel_port']}" for host in redis["sentinels"])
        return f"{members}/{redis['sentinel_service']}"
    return f"{url_host(redis['host'])}:{redis['port']}"


def redis_scheme(redis):
    return ("rediss" if redis.get("tls") else "redis") + ("+sentinel" if redis.get("sentinels") else "")


def redis_url(redis, db, ca_file=""):
    """A Redis URL with its credentials (the form prefect-redis and Docket
    read): rediss:// verifying the certificate and host name against ca_file
    when redis["tls"]; through the Sentinels when it names them, which take
    the same user and password (sentinel_username/_password) and the same
    TLS options."""
    url = (f"{redis_scheme(redis)}://{url_part(redis['username'])}:{url_part(redis['password'])}"
           f"@{redis_location(redis)}/{db}")
    query = {}
    if redis.get("sentinels"):
        query.update({"sentinel_username": redis["username"], "sentinel_password": redis["password"]})
    if redis.get("tls"):
        query.update({"ssl_cert_reqs": "required", "ssl_ca_certs": ca_file, "ssl_check_hostname": "true"})
    if query:
        url += "?" + urlencode(query, quote_via=quote)
    return url


def redis_identity(redis, db):
    """What the cluster file shows of a Redis URL: no password, no query."""
    return f"{redis_scheme(redis)}://{redis['username']}@{redis_location(redis)}/{db}"


def serves_tls(entry, default, bind_address):
    """Whether an instance's API serves TLS: the entry's "tls", else the
    role's default, and never when it listens on loopback only (no other
    host reaches it). The instance model and the load balancers' view agree
    through this one rule."""
    api_tls = entry.get("tls")
    if api_tls is None:
        api_tls = default
    return _bool(api_tls) and not is_loopback(str(bind_address))


def process_environment(tls, clustered):
    """The variables `prefect server start` sets for the uvicorn it runs."""
    if tls is None:
        return {}
    return {"PREFECT__SERVER_FINAL": "1", **({"PREFECT__SERVER_WEBSERVER_ONLY": "1"} if clustered else {})}


def api_command(venv, host, port, workers, settings, tls):
    """The command of the API process. `prefect server start` cannot serve
    TLS, so an instance that does runs uvicorn on Prefect's app factory the
    way `prefect server start --background` does, with the same flags."""
    if tls is None:
        command = [f"{venv}/bin/prefect", "server", "start"]
        return command + (["--no-services", "--workers", str(workers)] if workers else [])
    command = [f"{venv}/bin/python", "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
               "--host", host, "--port", str(port), "--workers", str(workers or 1),
               "--log-level", str(settings.get("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")).lower()]
    for setting, flag in UVICORN_FLAGS:
        if setting in settings:
            command += [flag, str(settings[setting])]
    return command + ["--ssl-certfile", tls["cert"], "--ssl-keyfile", tls["key"]]


def server_instance(entry, context):
    """entry (one item of prefect_server_instances) and context (the role's
    defaults, see vars/main.yml) -> the instance model."""
    if not isinstance(entry, dict) or "name" not in entry or "port" not in entry:
        raise AnsibleFilterError("a prefect_server_instances entry needs a name and a port")
    name = str(entry["name"])
    port = int(entry["port"])
    home = f"{context['home_root']}/{name}"
    env_dir = context["env_dir"]
    venv = f"{context['venvs_dir']}/{context['version']}"

    cluster = entry.get("cluster")
    clustered = cluster is not None
    cluster = cluster or {}
    bind_address = entry.get("bind_address") or "0.0.0.0"
    local_host = "127.0.0.1" if bind_address in WILDCARD_ADDRESSES else bind_address
    # Another host reaches the API over verified TLS: the load balancers of a
    # cluster, the clients and workers of a standalone instance (docs/tls.md).
    ca_file = context.get("tls_ca_file") or ""
    tls = None
    if serves_tls(entry, context.get("api_tls", True), bind_address):
        tls = {"cert": context["api_tls_cert"], "key": context["api_tls_key"], "ca_file": ca_file}
    local_api_url = f"{'https' if tls else 'http'}://{url_host(local_host)}:{port}/api"
    external_api_url = entry.get("external_api_url") or (
        f"{'https' if tls else 'http'}://{url_host(context['external_host'])}:{port}/api")
    auth_string = entry.get("auth_string")
    if auth_string is None:
        auth_string = context.get("auth_string") or ""
    allow_anonymous = entry.get("allow_anonymous_api")
    if allow_anonymous is None:
        allow_anonymous = context.get("allow_anonymous_api", False)

    db, db_password = database(entry, context, home)
    identity = database_identity(db)
    backup_host = context.get("backup_host") or (
        context["inventory_hostname"] if db["host"] in LOOPBACK_HOSTS else db["host"])

    redis = dict(context["redis"])
    redis.update(cluster.get("redis") or {})
    # Verified TLS on every hop between hosts; a Redis on this host is no hop.
    redis["sentinels"] = list(redis.get("sentinels") or [])
    redis["tls"] = _bool(redis.get("tls", True)) and (
        bool(redis["sentinels"]) or not is_loopback(str(redis["host"])))
    services_hosts = list(cluster.get("services_hosts") or [context["services_host"]])

    settings = {
        "PREFECT_SERVER_API_HOST": bind_address,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_UI_API_URL": external_api_url,
        "PREFECT_SERVER_UI_STATIC_DIRECTORY": f"{home}/ui",
        "PREFECT_API_URL": local_api_url,
        "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
    }
    if clustered:
        settings.update(CLUSTER_SETTINGS)
    if tls:
        settings["PREFECT_API_SSL_CERT_FILE"] = ca_file
    settings.update(database_tls_settings(db, ca_file))
    settings.update(production_settings(context["production"]))
    settings.update(context.get("settings") or {})
    settings.update(entry.get("settings") or {})

    # The secret environment file: read by the units only, never passed to a
    # task's environment (which -vvv and ps would show).
    environment = {
        "PREFECT_HOME": home,
        "PREFECT_PROFILE": name,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url(db, db_password),
    }
    if auth_string:
        environment["PREFECT_SERVER_API_AUTH_STRING"] = auth_string
        environment["PREFECT_API_AUTH_STRING"] = auth_string
    cluster_environment = {}
    if clustered:
        environment["PREFECT_SERVER_DOCKET_URL"] = redis_url(redis, redis["docket_db"], ca_file)
        cluster_environment = {
            "PREFECT_REDIS_MESSAGING_SOCKET_TIMEOUT": str(redis.get("socket_timeout", 10)),
            "PREFECT_REDIS_MESSAGING_SOCKET_CONNECT_TIMEOUT": str(redis.get("socket_connect_timeout", 5)),
        }
        if redis["tls"] or redis.get("sentinels"):
            # Only a URL carries the CA or the Sentinels to prefect-redis;
            # with it set, the discrete settings must stay unset (each would
            # warn at start).
            environment["PREFECT_REDIS_MESSAGING_URL"] = redis_url(redis, redis["messaging_db"], ca_file)
        else:
            environment["PREFECT_REDIS_MESSAGING_PASSWORD"] = redis["password"]
            cluster_environment.update({
                "PREFECT_REDIS_MESSAGING_HOST": str(redis["host"]),
                "PREFECT_REDIS_MESSAGING_PORT": str(redis["port"]),
                "PREFECT_REDIS_MESSAGING_DB": str(redis["messaging_db"]),
                "PREFECT_REDIS_MESSAGING_USERNAME": str(redis["username"]),
            })

    api_workers = int(context["api_workers"] if cluster.get("api_workers") is None else cluster["api_workers"])
    # Who may reach the API on another host's behalf: the load balancers of
    # a cluster, the clients and workers of a standalone instance.
    firewall_rule = None
    if not is_loopback(bind_address):
        if clustered:
            sources, whom = context.get("loadbalancer_hosts") or [], "the load balancers"
        else:
            sources = entry.get("allowed_hosts")
            sources = context.get("api_allowed_hosts") or [] if sources is None else sources
            whom = "its clients"
        firewall_rule = {"port": port, "sources": list(sources), "comment": f"Prefect API {name} from {whom}"}

    # What the monitoring hosts scrape: /api/metrics over verified TLS, on an
    # address they reach.
    metrics_target = None
    if _bool(settings.get("PREFECT_SERVER_METRICS_ENABLED", False)) and tls and not is_loopback(bind_address):
        metrics_target = {"port": port, "labels": {"prefect_instance": name}}

    unit = f"prefect-server@{name}.service"
    services_unit = f"prefect-services@{name}.service"
    return {
        "name": name,
        "port": port,
        "bind_address": bind_address,
        "local_host": local_host,
        "local_api_url": local_api_url,
        # What the host firewall lets in for the API (None: loopback only).
        "firewall_rule": firewall_rule,
        "metrics_target": metrics_target,
        # The API serves TLS: {cert, key, ca_file} (the CA the host's own
        # checks verify it with), or None.
        "tls": tls,
        "command": api_command(venv, bind_address, port, api_workers if clustered else 0, settings, tls),
        # Prefect's own switches for a process its CLI does not start: a
        # standalone instance runs its services in the API process, as
        # `prefect server start` does; a cluster member runs the API only.
        "process_environment": process_environment(tls, clustered),
        "external_api_url": external_api_url,
        "auth_string": auth_string,
        # Whoever reaches the port would control every deployment, and so
        # run code on every worker: the role refuses this unless allowed.
        "anonymous_on_network": not auth_string and not is_loopback(bind_address) and not _bool(allow_anonymous),
        "unit": unit,
        "migrate_unit": f"prefect-server-migrate@{name}.service",
        "services_unit": services_unit,
        # What stops for a migration or a restore.
        "units": [unit, services_unit],
        "home": home,
        "ui_dir": f"{home}/ui",
        "env_file": f"{env_dir}/{name}.env",
        "cluster_env_file": f"{env_dir}/{name}.cluster",
        "stamp_file": f"{home}/.selfhosted-prefect-migrated",
        "stamp": f"prefect={context['version']} database={identity}\n",
        "venv": venv,
        "dropins": [
            {"src": "instance.conf.j2", "dest": f"/etc/systemd/system/{unit}.d/instance.conf"},
            {"src": "services-instance.conf.j2", "dest": f"/etc/systemd/system/{services_unit}.d/instance.conf"},
        ],
        "database": db,
        "database_identity": identity,
        "backup_host": backup_host,
        # What is copied before a migration: the database's kind, or nothing.
        "pre_migration_backup": db["type"] if _bool(context.get("backup_before_migration", True)) else "none",
        "clustered": clustered,
        "services_hosts": services_hosts,
        "services_here": clustered and context["inventory_hostname"] in services_hosts,
        "api_workers": api_workers,
        "redis": {key: value for key, value in redis.items() if key != "password"},
        # The host then needs the CA: a peer's certificate is verified, or
        # the API's own by the host's checks.
        "verifies_tls": db["tls"] or (clustered and redis["tls"]) or tls is not None,
        # What the cluster file says of the Redis the instance uses (no secret).
        "redis_messaging": redis_identity(redis, redis["messaging_db"]) if clustered else "",
        "redis_docket": redis_identity(redis, redis["docket_db"]) if clustered else "",
        "settings": settings,
        "environment": environment,
        "cluster_environment": cluster_environment,
        "secret_forms": secret_forms([db_password] + ([redis["password"]] if clustered else [])),
    }


def loadbalancer_servers(server_hosts, hostvars):
    """instance name -> the API servers of that clustered instance, each
    {name, address, port, tls}: the address the instance binds to, or the
    host's default IPv4 address when it binds to every address (its
    inventory name without facts); tls as server_instance decides it, with
    prefect_server_api_tls from the host's variables (true unless set)."""
    servers = {}
    for host in server_hosts:
        host_vars = hostvars[host]
        for entry in host_vars.get("prefect_server_instances") or []:
            if entry.get("cluster") is None:
                continue
            bind_address = address = entry.get("bind_address") or "0.0.0.0"
            if address in WILDCARD_ADDRESSES:
                facts = host_vars.get("ansible_facts") or {}
                address = (facts.get("default_ipv4") or {}).get("address") or host
            servers.setdefault(str(entry["name"]), []).append(
                {"name": host, "address": str(address), "port": int(entry["port"]),
                 "tls": serves_tls(entry, host_vars.get("prefect_server_api_tls", True), bind_address)})
    return servers
