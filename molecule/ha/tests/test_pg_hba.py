"""prefect_postgresql refuses a pg_hba.conf that PostgreSQL cannot read, and
says which line, instead of a reload that PostgreSQL silently ignores."""

import os
import subprocess


def converge(request, *args):
    return subprocess.run(
        ["ansible-playbook", "-i", request.config.getoption("ansible_inventory"), *args,
         "selfhosted.prefect.site"],
        capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_FORCE_COLOR="false"))


def test_a_bad_site_entry_fails_with_its_line_and_a_good_one_converges_again(request):
    bad = converge(request, "-e", '{"prefect_postgresql_hba_entries": ["host all all 192.0.2.1/32 trusty"]}')
    output = bad.stdout + bad.stderr  # a failed result may go to stderr (display_failed_stderr)
    assert bad.returncode != 0
    assert "Check pg_hba.conf as PostgreSQL reads it" in output
    assert 'invalid authentication method "trusty"' in output
    assert "line_number" in output

    good = converge(request)
    assert good.returncode == 0, good.stdout[-3000:]
