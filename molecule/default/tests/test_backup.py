"""db1's prefect-db-backup.timer and service (prefect_postgresql): dumps
of both databases that pg_restore can read, retention by count and age of
each label, and a failed dump that shows in `systemctl --failed`; and the
dump prefect_server took before each instance's first migration (as listed
before any test ran: see converged_dumps in conftest.py). Each test removes
what it added that another could trip on, so they run in any order."""

import re

BACKUP_DIR = "/var/backups/prefect-db"
SERVICE = "prefect-db-backup.service"


def dumps(db, name):
    return sorted(db.check_output(f"ls -1 {BACKUP_DIR}/{name}.*.pgc 2>/dev/null || true").split())


def test_timer_enabled_and_scheduled(db):
    timer = db.service("prefect-db-backup.timer")
    assert timer.is_enabled and timer.is_running
    assert db.check_output("systemctl show -p TimersCalendar --value prefect-db-backup.timer").startswith(
        "{ OnCalendar=*-*-* 02:30:00")


def test_server_dumped_each_database_before_its_migration(db, converged_dumps):
    for name in ("orion", "orion_personal"):
        [pre_migration] = [dump for dump in converged_dumps[name] if dump.endswith(".pre-migration.pgc")]
        assert db.file(pre_migration).mode == 0o600
        assert "TABLE public flow_run " not in db.check_output(
            f"runuser -u postgres -- pg_restore --list {pre_migration}"), "dumped before the first migration"


def test_backup_dumps_every_database_readably(db):
    result = db.run(f"systemctl start {SERVICE}")
    assert result.rc == 0, result.stderr
    directory = db.file(BACKUP_DIR)
    assert (directory.user, directory.mode) == ("postgres", 0o700)
    for name in ("orion", "orion_personal"):
        [*_older, newest] = dumps(db, name)
        assert re.search(rf"/{name}\.\d{{8}}T\d{{6}}Z\.scheduled\.pgc$", newest)
        dump = db.file(newest)
        assert (dump.user, dump.mode) == ("postgres", 0o600)
        listing = db.check_output(f"runuser -u postgres -- pg_restore --list {newest}")
        assert "TABLE public flow_run " in listing
    journal = db.check_output(f"journalctl --no-pager -o cat -u {SERVICE} -n 20")
    print("\n" + "\n".join(line for line in journal.splitlines() if line.startswith("dumped")))
    assert re.search(r"dumped orion to \S+: \d+ bytes in [\d.]+ s", journal)
    # The unit ran as postgres and stopped: PostgreSQL's shared memory is
    # still there (RemoveIPC would have removed it), new sessions start.
    assert db.check_output("runuser -u postgres -- psql -d orion -tAc 'select 1'") == "1"


def fake_dump(db, name, stamp, days_ago, label="old"):
    path = f"{BACKUP_DIR}/{name}.{stamp}.{label}.pgc"
    db.check_output(f"runuser -u postgres -- touch -d '-{days_ago} days' {path}")
    return path


def test_retention_by_age_and_count_of_each_label(db):
    """keep_days 14, keep_count 7, counted per label. orion: eight dumps
    younger than 14 days stay beyond the count, three older ones go.
    orion_personal: ten old nightly dumps besides the real ones, and the
    newest 7 nightly dumps stay however old; the pre-migration dump, aged to
    30 days, stays as the newest of its label."""
    recent = [fake_dump(db, "orion", f"2099010{day}T000000Z", day) for day in range(1, 9)]
    try:
        old = [fake_dump(db, "orion", f"2026010{day}T000000Z", 20 + day) for day in range(1, 4)]
        [pre_migration] = [dump for dump in dumps(db, "orion_personal") if dump.endswith(".pre-migration.pgc")]
        db.check_output(f"touch -d '-30 days' {pre_migration}")
        real_nightly = [dump for dump in dumps(db, "orion_personal") if dump.endswith(".scheduled.pgc")]
        very_old = [fake_dump(db, "orion_personal", f"20250{day:02d}01T000000Z", 20 + day, "scheduled")
                    for day in range(1, 11)]
        assert db.run(f"systemctl start {SERVICE}").rc == 0

        kept = dumps(db, "orion")
        assert set(recent) <= set(kept)
        assert not set(old) & set(kept)
        kept_personal = dumps(db, "orion_personal")
        kept_nightly = [dump for dump in kept_personal if dump.endswith(".scheduled.pgc")]
        assert len(kept_nightly) == 7
        # The real nightly dumps (those of the other tests, if they ran first, and this run's) and the youngest old ones.
        assert set(real_nightly) < set(kept_nightly)
        assert set(kept_nightly) & set(very_old) == set(very_old[:7 - len(real_nightly) - 1])
        assert pre_migration in kept_personal
        assert "pruned" in db.check_output(f"journalctl --no-pager -o cat -u {SERVICE} -n 40")
    finally:
        # Dumps dated 2099 would be the newest dumps of orion for the other tests.
        for dump in recent:
            db.check_output(f"rm -f {dump}")


def test_a_failed_dump_fails_the_unit(db):
    db.check_output(f"chmod 0500 {BACKUP_DIR}")
    try:
        assert db.run(f"systemctl start {SERVICE}").rc != 0
        assert SERVICE in db.check_output("systemctl --failed --no-legend --plain")
        assert "pg_dump of orion failed" in db.check_output(f"journalctl --no-pager -o cat -u {SERVICE} -n 30")
    finally:
        db.check_output(f"chmod 0700 {BACKUP_DIR}")
        db.run(f"systemctl reset-failed {SERVICE}")
    assert db.run(f"systemctl start {SERVICE}").rc == 0


def test_the_unit_is_sandboxed(db, exposure):
    assert exposure(db, SERVICE) <= 2.5


def test_a_failed_shipment_fails_the_unit_and_keeps_the_command_out_of_the_journal(db):
    conf = "/etc/selfhosted-prefect/prefect-db-backup.conf"
    original = db.check_output(f"cat {conf}")
    db.check_output(f"cp -p {conf} {conf}.test")
    try:
        db.check_output(f"""sed -i "s/^SHIP_COMMAND=.*/SHIP_COMMAND='TOKEN=Zq7ShipToken; exit 3'/" {conf}""")
        assert db.run(f"systemctl start {SERVICE}").rc != 0
        journal = db.check_output(f"journalctl --no-pager -o cat -u {SERVICE} -n 30")
        assert "failed (exit 3); SHIP_COMMAND is in " + conf in journal
        assert "Zq7ShipToken" not in db.check_output(f"journalctl --no-pager -o cat -u {SERVICE}")
    finally:
        db.check_output(f"mv {conf}.test {conf}")
        db.run(f"systemctl reset-failed {SERVICE}")
    assert db.check_output(f"cat {conf}") == original
