"""prefect_postgresql refuses a pg_hba.conf that PostgreSQL cannot read, and
says which line, instead of a reload that PostgreSQL silently ignores.

The bad run stops in site.yml's PostgreSQL play, before any other host is
touched, so the good run converges that concern alone (--tags database: the
facts of every host, then the PostgreSQL play); the idempotence step already
converged the rest with nothing to change."""

import pytest


@pytest.mark.usefixtures("cluster_serving")
def test_a_bad_site_entry_fails_with_its_line_and_a_good_one_converges_again(run_playbook, hosts):
    bad = run_playbook("-e", '{"prefect_postgresql_hba_entries": ["host all all 192.0.2.1/32 trusty"]}',
                       "selfhosted.prefect.site")
    output = bad.stdout + bad.stderr  # a failed result may go to stderr (display_failed_stderr)
    assert bad.returncode != 0
    assert "Check pg_hba.conf as PostgreSQL reads it" in output
    assert 'invalid authentication method "trusty"' in output
    assert "line_number" in output

    good = run_playbook("--tags", "database", "selfhosted.prefect.site")
    assert good.returncode == 0, good.stdout[-3000:]
    assert "trusty" not in hosts["db1"].check_output("cat /etc/postgresql/*/main/pg_hba.conf")
