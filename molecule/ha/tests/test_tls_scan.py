"""lb1's HTTPS frontend as a scanner sees it: testssl.sh (Debian) on
127.0.0.1:8443 under lb1's name, trusting the scenario's CA, finds nothing
rated high or critical."""

import collections
import json
import subprocess

SEVERE = {"HIGH", "CRITICAL"}


def test_testssl_finds_nothing_high_or_critical(tmp_path, ca_file):
    report = tmp_path / "testssl.json"
    run = subprocess.run(
        ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--openssl-timeout", "10",
         "--add-ca", ca_file, "--jsonfile", str(report), "--ip", "127.0.0.1", "https://lb1:8443"],
        capture_output=True, text=True, timeout=900, check=False)
    findings = json.loads(report.read_text())
    print(collections.Counter(finding["severity"] for finding in findings))
    # The scan reached the frontend: it read the certificate and the protocols.
    ids = {finding["id"] for finding in findings}
    assert {"cert_chain_of_trust", "cert_crlDistributionPoints", "TLS1_2", "TLS1_3", "HSTS_time"} <= ids, \
        run.stdout[-3000:]
    severe = [f"{finding['severity']} {finding['id']}: {finding['finding']}"
              for finding in findings if finding["severity"] in SEVERE]
    assert not severe, severe
