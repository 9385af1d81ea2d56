"""Where each Prefect process of client1 sends its flow runs (prefect_process_audit,
through the drift report), each answer checked by running a flow in that context.

The fixture `contexts` sets up four contexts on client1 and removes them after:
- audit-hosted.service: PREFECT_API_URL, the auth string and the CA in its EnvironmentFile=,
  a Prefect home of its own without a profile: hosted, from the file;
- audit-unset.service: the same file, but UnsetEnvironment=PREFECT_API_URL and the guard
  PREFECT_SERVER_EPHEMERAL_ENABLED=false: refused;
- a cron job of the user analyst whose command cds into a directory holding a prefect.toml
  that names the API: hosted, from the prefect.toml;
- the user analyst, whose active profile has no URL and allows an ephemeral server: ephemeral.
"""

import json
import os
import pathlib
import re
import tomllib

import pytest

testinfra_hosts = ["ansible://client1"]

EPHEMERAL_DIR = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
PYTHON = "/opt/prefect-client/bin/python"
PREFECT = "/opt/prefect-client/bin/prefect"
DEMO = "/srv/audit-demo"
FLOW = """from prefect import flow
from prefect.runtime import flow_run


@flow(name="audit-probe")
def audit_probe():
    return str(flow_run.id)


if __name__ == "__main__":
    print("FLOW_RUN", audit_probe())
"""
COUNT_RUNS = ("import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("
              "'select count(*) from flow_run where id = ?', (sys.argv[2],)).fetchone()[0])")
CRON_COMMAND = f"cd {DEMO} && {PYTHON} flow.py"
UNIT = """[Unit]
Description=prefect_process_audit test: {what}

[Service]
Type=oneshot
EnvironmentFile=/etc/audit-demo/api.env
Environment=PREFECT_HOME=/var/lib/audit-demo/home
{extra}
WorkingDirectory=/var/lib/audit-demo
ExecStart={python} {demo}/flow.py
"""
EXPECTED = {
    "audit-hosted.service": ("unit", "hosted", "https://server1:4200/api"),
    "audit-unset.service": ("unit", "refused", None),
    "/etc/cron.d/audit-demo:2": ("cron", "hosted", "https://server1:4200/api"),
    "analyst": ("user", "ephemeral", None),
}


def _put(host, path, text, mode="0644", owner="root:root"):
    user, group = owner.split(":")
    host.run_test("install -D -m %s -o %s -g %s /dev/null %s", mode, user, group, path)
    host.run_test("printf '%%s\\n' %s > %s", text, path)


@pytest.fixture(scope="module")
def contexts(host):
    hosted = tomllib.loads(host.file("/root/.prefect/profiles.toml").content_string)["profiles"]["hosted"]
    api = {key: hosted[key] for key in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_API_SSL_CERT_FILE")}
    host.run_test("useradd --create-home --shell /bin/bash analyst")
    _put(host, "/home/analyst/.prefect/profiles.toml",
         'active = "laptop"\n[profiles.laptop]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n'
         # The scenarios converge beside this test: Prefect's 20 s for the throwaway server to start is short.
         'PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS = "180"',
         mode="0600", owner="analyst:analyst")
    host.run_test("chown -R analyst:analyst /home/analyst/.prefect")
    _put(host, f"{DEMO}/flow.py", FLOW)
    toml = "[api]\n" + "\n".join('%s = "%s"' % (key.removeprefix("PREFECT_API_").lower(), value)
                                 for key, value in api.items())
    _put(host, f"{DEMO}/prefect.toml", toml, mode="0640", owner="root:analyst")
    _put(host, "/etc/cron.d/audit-demo", f"MAILTO=\"\"\n0 0 31 2 * analyst {CRON_COMMAND}")
    _put(host, "/etc/audit-demo/api.env", "\n".join('%s="%s"' % item for item in api.items()), mode="0600")
    host.run_test("install -d -m 0700 /var/lib/audit-demo /var/lib/audit-demo/home")
    _put(host, "/etc/systemd/system/audit-hosted.service",
         UNIT.format(what="hosted", extra="", python=PYTHON, demo=DEMO))
    _put(host, "/etc/systemd/system/audit-unset.service",
         UNIT.format(what="URL unset", python=PYTHON, demo=DEMO,
                     extra="UnsetEnvironment=PREFECT_API_URL\nEnvironment=PREFECT_SERVER_EPHEMERAL_ENABLED=false"))
    host.run_test("systemctl daemon-reload")
    yield api
    host.run("userdel --remove analyst")
    host.run(f"rm -rf {DEMO} /etc/cron.d/audit-demo /etc/audit-demo /var/lib/audit-demo "
             "/etc/systemd/system/audit-hosted.service /etc/systemd/system/audit-unset.service")
    host.run("systemctl daemon-reload")


@pytest.fixture(scope="module")
def report(contexts, run_playbook, tmp_path_factory):
    """The drift report's audit alone (--tags process_audit) on client1. The
    analyst's shell names no Prefect: the audit finds the host's own."""
    report_dir = tmp_path_factory.mktemp("audit-report")
    run = run_playbook("selfhosted.prefect.drift_report", "--check", "--diff", "--limit", "client1,localhost",
                       "--tags", "process_audit",
                       env={"ANSIBLE_CALLBACKS_ENABLED": "selfhosted.prefect.drift_report",
                            "SELFHOSTED_PREFECT_DRIFT_REPORT_DIR": str(report_dir)})
    (EPHEMERAL_DIR / "process-audit-run.txt").write_text(run.stdout + run.stderr)
    return run, json.loads((report_dir / "client1.json").read_text()), (report_dir / "summary.txt").read_text()


def _landed_on_hosted(host, flow_run_id):
    return host.run("%s flow-run inspect %s", PREFECT, flow_run_id).rc == 0


def _flow_run_id(output):
    found = re.findall(r"FLOW_RUN ([0-9a-f-]{36})", output)
    assert found, output[-3000:]
    return found[-1]


def test_report_answers_each_context(report):
    run, client1, summary = report
    processes = {process["name"]: process for process in client1["processes"]}
    for name, (kind, target, url) in EXPECTED.items():
        process = processes.get(name)
        assert process, (name, sorted(processes))
        assert (process["kind"], process["target"], process["api_url"]) == (kind, target, url), process
        assert process["resolver"] == "prefect" and process["error"] is None, process
    for name in ("audit-hosted.service", "/etc/cron.d/audit-demo:2"):
        assert processes[name]["credentials"] is True
        assert processes[name]["api"] == {"reachable": True, "status": "ok"}, processes[name]
    assert processes["audit-hosted.service"]["source"] == "unit"
    assert processes["analyst"]["profile"] == "laptop"
    # root's own profile names the hosted API (prefect_client): it stays hosted.
    assert processes["root"]["target"] == "hosted"
    # Only the analyst's shell would land runs on an ephemeral API: the report fails on it, naming it.
    assert run.returncode == 2, run.stdout[-3000:]
    assert client1["status"] == "drifted" and client1["ephemeral_count"] == 1 and client1["drift_count"] == 0
    assert "ephemeral: user analyst (user analyst) would run its flows on a throwaway local API" in summary
    assert "1 of them with a process on an ephemeral API (client1)" in run.stdout + run.stderr


def test_report_holds_no_credential(report, contexts):
    run, client1 = report[:2]
    secret = contexts["PREFECT_API_AUTH_STRING"]
    for text in (run.stdout, run.stderr, json.dumps(client1)):
        assert secret not in text and secret.split(":", 1)[1] not in text


def test_hosted_unit_lands_its_run_on_the_hosted_api(host, contexts):
    host.run_test("systemctl start audit-hosted.service")
    journal = host.check_output("journalctl -u audit-hosted.service -o cat --no-pager")
    assert _landed_on_hosted(host, _flow_run_id(journal))


def test_unit_without_its_url_is_refused(host, contexts):
    started = host.run("systemctl start audit-unset.service")
    journal = host.check_output("journalctl -u audit-unset.service -o cat --no-pager")
    assert started.rc != 0
    assert not re.search(r"FLOW_RUN [0-9a-f-]{36}", journal), journal[-3000:]
    assert "No Prefect API URL provided" in journal, journal[-3000:]


def test_cron_job_lands_its_run_on_the_api_its_prefect_toml_names(host, contexts):
    # The job's start as Debian's cron makes it: the user's HOME, SHELL=/bin/sh, PATH=/usr/bin:/bin.
    run = host.run("runuser -u analyst -- env -i HOME=/home/analyst LOGNAME=analyst USER=analyst SHELL=/bin/sh "
                   "PATH=/usr/bin:/bin /bin/sh -c %s", CRON_COMMAND)
    assert run.rc == 0, run.stderr[-3000:]
    assert _landed_on_hosted(host, _flow_run_id(run.stdout))


def test_users_shell_lands_its_run_on_an_ephemeral_api(host, contexts):
    run = host.run("runuser -l analyst -c %s", f"{PYTHON} {DEMO}/flow.py")
    assert run.rc == 0, run.stderr[-3000:]
    flow_run_id = _flow_run_id(run.stdout)
    assert not _landed_on_hosted(host, flow_run_id)
    # It is in the analyst's throwaway SQLite database instead.
    local = host.run("%s -c %s /home/analyst/.prefect/prefect.db %s", PYTHON, COUNT_RUNS, flow_run_id)
    assert local.stdout.strip() == "1", local.stdout + local.stderr
