"""No secret in the output of a converge at -vvv, with a database migration
and with a failing validation (issue 7). Each test leaves server1 converged
and serving (the failed migration's test converges again), so the tests of
every module run in any order.

The secrets come from the inventory as written (vault_prefect_db_password,
prefect_personal_auth_string, vault_prefect_auth_string, and the Secret
block's vault_prefect_warehouse_password); each is looked for in every form
secret_forms (the shared plugin) lists.
"""

import pytest
from molecule_fixtures import secret_forms

STAMP = "/var/lib/prefect/default/.selfhosted-prefect-migrated"


@pytest.fixture(scope="module")
def secrets(inventory_vars):
    password = inventory_vars["server1"]["vault_prefect_db_password"]
    values = [password, inventory_vars["server1"]["vault_prefect_warehouse_password"]]
    for auth_string in (inventory_vars["server1"]["prefect_personal_auth_string"],
                        inventory_vars["server1"]["vault_prefect_auth_string"]):
        values += [auth_string, auth_string.split(":", 1)[1]]
    return secret_forms(values)


def task_output(output, task_name):
    """What a task printed, on every host that ran it (the server play runs
    one host after the other, multi1 too): from each of its headers to the
    next task's."""
    parts = output.split(f"{task_name}]")
    assert len(parts) > 1, f"no task {task_name!r} ran"
    return "".join(part.split("TASK [", 1)[0] for part in parts[1:])


def assert_no_secret(output, secrets):
    leaked = sorted(form for form in secrets if form in output)
    assert not leaked, f"{len(leaked)} secret form(s) in the output"


def test_converge_with_migration_at_vvv(server, run_playbook, secrets):
    server.run(f"rm -f {STAMP}")  # the next converge migrates this instance's database
    result = run_playbook("-vvv", "selfhosted.prefect.site")
    assert result.returncode == 0, result.stdout[-3000:]
    # Stop the old server, migrate, start (it must not serve during the migration).
    stop = "Stop the API and the services for the migration of default"
    migrate = "Run prefect-server-migrate@default.service"
    assert "changed: [server1] => (item=prefect-server@default.service)" in task_output(result.stdout, stop)
    assert "changed: [server1]" in task_output(result.stdout, migrate)
    assert result.stdout.index(stop) < result.stdout.index(migrate)
    assert server.service("prefect-server@default.service").is_running
    assert server.file(STAMP).exists
    assert_no_secret(result.stdout + result.stderr, secrets)


def test_failed_migration_at_vvv(server, run_playbook, secrets, tmp_path):
    """A migration that cannot log in: the role fails with the unit's output,
    and neither the wrong password nor the right one is printed."""
    server.run(f"rm -f {STAMP}")
    wrong = tmp_path / "wrong-password.yml"
    wrong.write_text("prefect_server_database_password: '{{ vault_prefect_db_password }}-wrong'\n")
    result = run_playbook("-vvv", "--limit", "server1", "-e", f"@{wrong}", "selfhosted.prefect.site")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "The database migration of instance default" in output
    assert "journalctl -u prefect-server-migrate@default.service" in output
    assert "password authentication failed" in output, output[-3000:]
    assert_no_secret(output, secrets)
    assert not server.file(STAMP).exists

    again = run_playbook("--limit", "server1", "selfhosted.prefect.site")
    assert again.returncode == 0, again.stdout[-3000:]
    assert server.service("prefect-server@default.service").is_running


BAD_ENTRIES = {
    "server1": (
        "prefect_server_instances:\n"
        "  - name: default\n"
        "    port: 99999\n"
        "    auth_string: '{{ prefect_personal_auth_string }}'\n"
        "    database:\n"
        "      password: '{{ vault_prefect_db_password }}'\n",
        "ports must be between 1 and 65535 (bad: 99999)",
    ),
    "client1": (
        "prefect_client_profiles:\n"
        "  - name: hosted\n"
        "    api_url: ftp://server1/api\n"
        "    auth_string: '{{ prefect_personal_auth_string }}'\n",
        "api_url must start with http:// or https:// (profiles hosted",
    ),
    "worker1": (
        "prefect_worker_api_url: ftp://server1/api\n"
        "prefect_worker_auth_string: '{{ prefect_personal_auth_string }}'\n",
        "prefect_worker_api_url must be the API URL",
    ),
}


# One run per host: a play whose every host failed ends the playbook.
@pytest.mark.parametrize("host", sorted(BAD_ENTRIES))
def test_failing_validation_at_vvv(run_playbook, secrets, tmp_path, host):
    entries, message = BAD_ENTRIES[host]
    bad = tmp_path / "bad.yml"
    bad.write_text(entries)
    result = run_playbook("-vvv", "--limit", host, "-e", f"@{bad}", "selfhosted.prefect.site")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output, output[-3000:]
    assert_no_secret(output, secrets)


def test_an_instance_the_network_reaches_without_credentials_is_refused(server, run_playbook, secrets, tmp_path):
    """The role's secure default: without prefect_server_auth_string, the
    default instance (bound to 0.0.0.0) is refused before anything changes;
    the lab opt-out lets it through (checked in check mode only)."""
    bad = tmp_path / "anonymous.yml"
    bad.write_text("prefect_server_auth_string: ''\n")
    before = server.file("/etc/prefect-server/default.env").md5sum
    result = run_playbook("--limit", "server1", "-e", f"@{bad}", "selfhosted.prefect.site")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert ("prefect_server_instances: default would serve the API beyond loopback without credentials"
            in " ".join(output.split())), output[-3000:]
    assert "prefect_server_allow_anonymous_api: true" in output
    assert server.file("/etc/prefect-server/default.env").md5sum == before
    assert_no_secret(output, secrets)
    allowed = run_playbook("--check", "--limit", "server1", "-e", f"@{bad}",
                           "-e", "prefect_server_allow_anonymous_api=true", "selfhosted.prefect.site")
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert server.file("/etc/prefect-server/default.env").md5sum == before
