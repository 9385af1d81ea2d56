"""backup1 as the monitoring host of a site that runs its own Prometheus
(prefect_monitoring_install: false): no Prometheus, Alertmanager or blackbox
exporter installed, but the files that site's server takes over written
and valid (promtool from Debian, on the controller), upgrade1's targets
declared and answering the client certificate the files name, and the
Prefect exporter reading the API. First of the scenario's tests (by name),
before the drill rebuilds upgrade1."""

import os
import subprocess

import pytest
import testinfra
import yaml

testinfra_hosts = ["ansible://backup1"]

CONFIG_DIR = "/etc/prometheus/selfhosted-prefect"
CA = "/etc/ssl/selfhosted-prefect/ca.pem"
CLIENT = f"{CONFIG_DIR}/tls/prometheus-client"


@pytest.fixture(scope="module")
def db(inventory):
    return testinfra.get_host("ansible://upgrade1", ansible_inventory=inventory)


def promtool(*args):
    """Debian's promtool (scripts/test: ensure_promtool, PROMTOOL)."""
    assert os.environ.get("PROMTOOL"), "PROMTOOL names no promtool (scripts/test sets it)"
    return subprocess.run([os.environ["PROMTOOL"], *args], capture_output=True, text=True, check=False)


def test_no_prometheus_alertmanager_or_blackbox_exporter_is_installed(host):
    for package in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        assert not host.package(package).is_installed, package
    assert not host.file("/etc/default/prometheus").exists


def test_the_files_a_sites_prometheus_takes_over_pass_promtool(host, tmp_path):
    """prometheus.yml (its scrape_configs and rule_files), the rules, and the
    blackbox exporter's module, as written on backup1."""
    config = tmp_path / "prometheus.yml"
    config.write_text(host.file(f"{CONFIG_DIR}/prometheus.yml").content_string)
    checked = promtool("check", "config", "--syntax-only", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    parsed = yaml.safe_load(config.read_text())
    assert "alerting" not in parsed  # the site's Alertmanager, not one of ours
    jobs = {job["job_name"] for job in parsed["scrape_configs"]}
    assert {"node", "postgresql", "prefect_server", "tls", "prefect_exporter"} <= jobs, jobs
    rules = []
    for name in host.file(f"{CONFIG_DIR}/rules").listdir():
        rules.append(tmp_path / name)
        rules[-1].write_text(host.file(f"{CONFIG_DIR}/rules/{name}").content_string)
    assert sorted(path.name for path in rules) == ["selfhosted-prefect.rules.yml", "settings.rules.yml"]
    checked = promtool("check", "rules", *map(str, rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    modules = yaml.safe_load(host.file(f"{CONFIG_DIR}/blackbox.yml").content_string)["modules"]
    assert modules["tls"]["tcp"]["tls_config"]["cert_file"] == CLIENT + ".pem"


@pytest.mark.parametrize("job, port, metric", [("node", 9100, "node_filesystem_avail_bytes"),
                                               ("postgresql", 9187, "pg_up 1")])
def test_upgrade1s_targets_are_declared_and_answer_the_client_certificate(host, job, port, metric):
    declared = yaml.safe_load(host.file(f"{CONFIG_DIR}/targets/{job}/upgrade1.yml").content_string)
    assert declared == [{"targets": [f"upgrade1:{port}"], "labels": {}}]
    metrics = host.check_output(f"curl -fsS --max-time 10 --cacert {CA} --cert {CLIENT}.pem --key {CLIENT}.key "
                                f"https://upgrade1:{port}/metrics")
    assert metric in metrics
    refused = host.run(f"curl -sS --max-time 10 --cacert {CA} -o /dev/null https://upgrade1:{port}/metrics")
    assert refused.rc != 0


def test_the_prefect_exporter_reads_the_api(host):
    metrics = host.check_output("curl -fsS --max-time 30 http://127.0.0.1:9812/metrics")
    assert "prefect_api_ready 1.0" in metrics
    assert "prefect_exporter_scrape_success 1.0" in metrics
