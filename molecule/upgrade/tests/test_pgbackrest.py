"""pgBackRest between upgrade1 (the database host) and backup1 (its
repository host): the converge's first full backup in an encrypted
repository, every change archived within archive_timeout, the backup and
check units, servers that let in only the other end, the passphrase in no
log, and units confined. Independent of the drill in test_upgrade.py: these
need only archiving and a stanza, which every step of the drill keeps."""

import json
import time

import pytest
import testinfra

from molecule_fixtures import secret_forms

testinfra_hosts = ["ansible://backup1"]

STANZA = "prefect"
# upgrade1's prefect_postgresql_archive_timeout.
ARCHIVE_TIMEOUT = 10
CA = "/etc/ssl/selfhosted-prefect/ca.pem"


@pytest.fixture(scope="module")
def db(inventory):
    return testinfra.get_host("ansible://upgrade1", ansible_inventory=inventory)


def pgbackrest(host, *args):
    return host.run("runuser -u postgres -- pgbackrest --stanza=%s " + " ".join(["%s"] * len(args)), STANZA, *args)


def info(host):
    result = pgbackrest(host, "--output=json", "info")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def psql(host, sql):
    return host.check_output("runuser -u postgres -- psql -XAtq -c %s", sql)


def test_the_converge_took_a_full_backup_into_an_encrypted_repository(host):
    stanza = info(host)
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert stanza["cipher"] == "aes-256-cbc"
    assert "full" in [backup["type"] for backup in stanza["backup"]], stanza["backup"]
    # The repository holds ciphertext: not even its index reads as text.
    index = host.file(f"/var/lib/pgbackrest/backup/{STANZA}/backup.info")
    assert index.user == "postgres" and index.mode == 0o640
    assert not index.content.startswith(b"[backrest]")
    passphrase = host.file("/etc/pgbackrest/conf.d/cipher.conf")
    assert (passphrase.user, passphrase.group, passphrase.mode) == ("root", "postgres", 0o640)


def test_a_change_is_archived_within_archive_timeout(host, db):
    """No segment switch asked for: a lone change on a quiet database reaches
    the repository once archive_timeout has passed."""
    psql(db, "create table if not exists archive_probe (at timestamptz); insert into archive_probe values (now())")
    segment = psql(db, "select pg_walfile_name(pg_current_wal_insert_lsn())")
    changed = time.monotonic()

    def archived():
        newest = (info(host).get("archive") or [{}])[-1].get("max") or ""
        return newest >= segment

    while not archived() and time.monotonic() - changed < ARCHIVE_TIMEOUT + 30:
        time.sleep(1)
    took = time.monotonic() - changed
    print(f"\nsegment {segment} in the repository {took:.1f} s after the change (archive_timeout {ARCHIVE_TIMEOUT} s)")
    assert archived(), f"{segment} not archived within {ARCHIVE_TIMEOUT + 30} s"
    # The database host's end sees the repository too.
    check = pgbackrest(db, "check")
    assert check.rc == 0, check.stdout + check.stderr


def test_the_timers_and_the_backup_and_check_units(host):
    for timer in ("prefect-pgbackrest-full.timer", "prefect-pgbackrest-diff.timer", "prefect-pgbackrest-check.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running, timer
    for unit in ("prefect-pgbackrest-backup@diff.service", "prefect-pgbackrest-check.service"):
        started = host.run("systemctl start %s", unit)
        assert started.rc == 0, host.run("journalctl -u %s -n 30 --no-pager", unit).stdout
    assert "diff" in [backup["type"] for backup in info(host)["backup"]]


@pytest.mark.parametrize("server, client", [("backup1", "upgrade1"), ("upgrade1", "backup1")])
def test_each_server_wants_the_client_certificate(host, db, server, client):
    """A TLS client without a certificate gets no session from either end's
    server; each end's own certificate does."""
    source = db if client == "upgrade1" else host
    bare = source.run(f"openssl s_client -connect {server}:8432 -CAfile {CA} -verify_return_error -brief </dev/null")
    signed = source.run(f"openssl s_client -connect {server}:8432 -CAfile {CA} -verify_return_error -brief "
                        f"-cert /etc/ssl/selfhosted-prefect/pgbackrest.pem -key /etc/ssl/selfhosted-prefect/pgbackrest.key "
                        "</dev/null")
    assert "CONNECTION ESTABLISHED" in signed.stderr, signed.stderr
    assert bare.rc != 0 or "alert" in bare.stderr.lower(), bare.stderr


def test_the_passphrase_is_in_no_log(host, db, inventory_vars):
    forms = secret_forms([inventory_vars["backup1"]["vault_prefect_backup_cipher_pass"]])
    for machine in (host, db):
        logs = machine.run("journalctl -o cat --no-pager; cat /var/log/pgbackrest/*.log").stdout
        assert logs and not [form for form in forms if form in logs]


@pytest.mark.parametrize("unit", ["prefect-pgbackrest-backup@full.service", "prefect-pgbackrest-check.service",
                                  "pgbackrest.service"])
def test_the_units_are_confined(host, db, exposure, unit):
    assert exposure(host, unit) <= 2.5
    if unit == "pgbackrest.service":
        assert exposure(db, unit) <= 2.5
