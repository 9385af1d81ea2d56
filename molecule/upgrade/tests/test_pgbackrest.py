"""pgBackRest between upgrade1 (the database host) and backup1 (its
repository host): the converge's first full backup in an encrypted
repository, every change archived within archive_timeout, the backup,
check and verify units (a file missing from the repository fails verify), servers that let in only the other end, the passphrase in no
log, and units confined. Independent of the drill in test_upgrade.py: these
need only archiving and a stanza, which every step of the drill keeps."""

import re
import time

import pytest
import testinfra

from molecule_fixtures import pgbackrest, secret_forms
from molecule_fixtures import pgbackrest_info as info

testinfra_hosts = ["ansible://backup1"]

STANZA = "prefect"
# upgrade1's prefect_postgresql_archive_timeout.
ARCHIVE_TIMEOUT = 10
PKI = "/etc/ssl/selfhosted-prefect"
CA = f"{PKI}/ca.pem"


@pytest.fixture(scope="module")
def db(inventory):
    return testinfra.get_host("ansible://upgrade1", ansible_inventory=inventory)


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


def test_the_timers_and_the_backup_check_and_verify_units(host):
    for timer in ("prefect-pgbackrest-full.timer", "prefect-pgbackrest-diff.timer", "prefect-pgbackrest-check.timer",
                  "prefect-pgbackrest-verify.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running, timer
    for unit in ("prefect-pgbackrest-backup@diff.service", "prefect-pgbackrest-check.service",
                 "prefect-pgbackrest-verify.service"):
        started = host.run("systemctl start %s", unit)
        assert started.rc == 0, host.run("journalctl -u %s -n 30 --no-pager", unit).stdout
    assert "diff" in [backup["type"] for backup in info(host)["backup"]]


def test_a_file_missing_from_the_repository_fails_the_verify_unit(host):
    """pgbackrest verify exits 0 whatever it finds; the unit reads its
    summary. One file of the newest backup moved away fails it, with the
    summary in the journal; moved back, the unit passes again."""
    label = info(host)["backup"][-1]["label"]
    victim = host.check_output(
        f"find /var/lib/pgbackrest/backup/{STANZA}/{label}/pg_data/base -type f -size +1k -print -quit")
    assert victim, label
    try:
        host.check_output("mv %s /var/tmp/verify-victim", victim)
        broken = host.run("systemctl start prefect-pgbackrest-verify.service")
        journal = host.check_output("journalctl -u prefect-pgbackrest-verify.service -n 20 --no-pager -o cat")
        assert broken.rc != 0, journal
        assert "status: error" in journal and "missing: 1" in journal, journal
    finally:
        host.check_output("mv /var/tmp/verify-victim %s", victim)
    assert host.run("systemctl start prefect-pgbackrest-verify.service").rc == 0


def test_each_server_lets_in_only_the_other_end(host, db):
    """tls-server-auth: a certificate of the same CA with another name is
    refused. Each host's own certificate goes to its own server, which lets
    in only the other host's name; the other host is let in."""
    def tls_client(side):
        return [f"--{side}-host-type=tls", f"--{side}-host-ca-file={CA}", f"--{side}-host-cert-file={PKI}/pgbackrest.pem",
                f"--{side}-host-key-file={PKI}/pgbackrest.key"]

    refused_by_repository = pgbackrest(host, "--repo1-host=backup1", *tls_client("repo1"), "repo-ls")
    # pgBackRest skips a database host it cannot use, and says why.
    refused_by_database = pgbackrest(db, "--reset-repo1-host", "--repo1-path=/tmp/refused-probe", "--pg1-host=upgrade1",
                                     *tls_client("pg1"), "--log-level-console=warn", "stanza-create")
    let_in = pgbackrest(db, "repo-ls")
    assert refused_by_repository.rc != 0 and "access denied" in refused_by_repository.stdout + refused_by_repository.stderr
    assert refused_by_database.rc != 0 and "access denied" in refused_by_database.stdout + refused_by_database.stderr
    assert let_in.rc == 0 and "archive" in let_in.stdout.split(), let_in.stdout + let_in.stderr


def test_the_passphrase_is_in_no_log(host, db, inventory_vars):
    forms = secret_forms([inventory_vars["backup1"]["vault_prefect_backup_cipher_pass"]])
    for machine in (host, db):
        logs = machine.run("journalctl -o cat --no-pager; cat /var/log/pgbackrest/*.log").stdout
        assert logs and not [form for form in forms if form in logs]


def test_a_converge_at_vvv_prints_no_form_of_the_passphrase(host, run_playbook, inventory_vars):
    """The repository host's converge at -vvv, its passphrase file written
    anew (the module's arguments and result are what -vvv would show)."""
    pg_path = host.check_output("sed -n 's/^pg1-path=//p' /etc/pgbackrest/pgbackrest.conf")
    host.check_output("sed -i '$ a # drift' /etc/pgbackrest/conf.d/cipher.conf")
    run = run_playbook("-vvv", "--limit", "backup1", "-e", f"prefect_backup_repository_pg_path={pg_path}",
                       "selfhosted.prefect.site")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    written = re.search(r"Write the repository's passphrase\].*?\n(changed|ok): \[backup1\]", output, re.S)
    assert written and written.group(1) == "changed", output[-4000:]
    forms = secret_forms([inventory_vars["backup1"]["vault_prefect_backup_cipher_pass"]])
    assert not [form for form in forms if form in output]


@pytest.mark.parametrize("unit", ["prefect-pgbackrest-backup@full.service", "prefect-pgbackrest-check.service",
                                  "prefect-pgbackrest-verify.service", "pgbackrest.service"])
def test_the_units_are_confined(host, db, exposure, unit):
    assert exposure(host, unit) <= 2.5
    if unit == "pgbackrest.service":
        assert exposure(db, unit) <= 2.5
