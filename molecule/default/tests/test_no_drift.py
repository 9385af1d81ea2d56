"""Right after the converge, the drift report command finds nothing.

Molecule's own check step fails only on failed tasks; this runs the real
report (check mode, diffs, the callback) and requires its exit status 0.
"""

import json


def test_drift_report_is_clean_after_converge(run_playbook, tmp_path):
    result = run_playbook(
        "selfhosted.prefect.drift_report", "--check", "--diff",
        env={"ANSIBLE_CALLBACKS_ENABLED": "selfhosted.prefect.drift_report",
             "SELFHOSTED_PREFECT_DRIFT_REPORT_DIR": str(tmp_path)},
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    print((tmp_path / "summary.txt").read_text())
    assert result.returncode == 0, result.stdout[-3000:]
    assert sorted(summary["hosts"]) == ["client1", "db1", "multi1", "server1", "worker1"]
    assert summary["drifted_hosts"] == []
    assert summary["error_hosts"] == []
