# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's alert rules with a site's overrides: only the named
alerts change, and only their wait and labels; anything Prometheus would
refuse fails with the alert's name, before a file is written."""
from __future__ import annotations

import copy
import os
import pathlib
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.selfhosted.prefect.plugins.filter.alert_rules import FilterModule
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.alert_rules import alert_rules

RULES = (pathlib.Path(__file__).resolve().parents[4] / "roles" / "prefect_monitoring" / "files" / "rules"
         / "selfhosted-prefect.rules.yml")
TEXT = RULES.read_text()
SHIPPED = yaml.safe_load(TEXT)


def alerts(document):
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}


def test_the_filter_exposes_it():
    assert FilterModule().filters()["alert_rules"] is alert_rules


def test_without_overrides_the_rules_are_as_shipped():
    assert yaml.safe_load(alert_rules(TEXT, {})) == SHIPPED


def test_only_the_named_alerts_change_and_only_their_wait_and_labels():
    changed = yaml.safe_load(alert_rules(TEXT, {
        "PrefectNoReadyWorker": {"for": "20s"},
        "BackupStale": {"for": "1h", "labels": {"severity": "warning", "team": "data"}},
    }))
    expected = copy.deepcopy(SHIPPED)
    alerts(expected)["PrefectNoReadyWorker"]["for"] = "20s"
    alerts(expected)["BackupStale"]["for"] = "1h"
    alerts(expected)["BackupStale"]["labels"] = {"severity": "warning", "team": "data"}
    assert changed == expected


@pytest.mark.parametrize("overrides, message", [
    ({"PrefectNoSuchAlert": {"for": "1m"}}, "no such alert in the rules: PrefectNoSuchAlert"),
    ({"HostDown": {"for": "1 minute"}}, "the override of HostDown: for '1 minute' is not a Prometheus duration"),
    ({"HostDown": {"for": ""}}, "the override of HostDown: for '' is not a Prometheus duration"),
    ({"HostDown": {"for": "5s1m"}}, "is not a Prometheus duration"),
    ({"HostDown": {"expr": "vector(1)"}}, "the override of HostDown: a mapping of for and/or labels"),
    ({"HostDown": {}}, "a mapping of for and/or labels"),
    ({"HostDown": "5m"}, "a mapping of for and/or labels"),
    ({"HostDown": {"labels": {"bad-name": "x"}}}, "labels must map label names"),
    ({"HostDown": {"labels": {"alertname": "x"}}}, "labels cannot set alertname"),
    ({"HostDown": {"labels": {"__name__": "x"}}}, "labels cannot set alertname or names starting with __"),
])
def test_what_prometheus_would_refuse_fails_with_the_alerts_name(overrides, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        alert_rules(TEXT, overrides)


DURATIONS = st.lists(st.tuples(st.integers(min_value=0, max_value=999), st.sampled_from(["h", "m", "s"])),
                     min_size=1, max_size=3, unique_by=lambda part: part[1]).map(
    lambda parts: "".join(f"{number}{unit}" for number, unit in sorted(parts, key=lambda part: "hms".index(part[1]))))
LABEL_VALUES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(alerts(SHIPPED))), DURATIONS, LABEL_VALUES)
def test_any_duration_and_label_value_come_back_as_given(name, duration, value):
    changed = alerts(yaml.safe_load(alert_rules(TEXT, {name: {"for": duration, "labels": {"team": value}}})))
    assert changed[name]["for"] == duration
    assert changed[name]["labels"]["team"] == value
    assert {other: rule for other, rule in changed.items() if other != name} == \
        {other: rule for other, rule in alerts(SHIPPED).items() if other != name}


@pytest.mark.skipif(not os.environ.get("PROMTOOL"), reason="PROMTOOL is not set (scripts/test unit sets it)")
def test_promtool_accepts_the_overridden_rules(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(alert_rules(TEXT, {name: {"for": "15s", "labels": {"team": 'quote " and \\ back'}}
                                       for name in alerts(SHIPPED)}))
    check = subprocess.run([os.environ["PROMTOOL"], "check", "rules", str(path)], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
