# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Grafana dashboard the role installs: importable (one datasource
input, unique panel ids), its panels laid out without overlap on Grafana's
24 columns, each query on the datasource variable, and every Prefect
figure it shows one the exporter serves. That each query returns data from
a real Prometheus is the ha scenario's test_monitoring."""
from __future__ import annotations

import json
import pathlib
import re

import pytest

DASHBOARD = (pathlib.Path(__file__).resolve().parents[4] / "roles" / "prefect_monitoring" / "files" / "dashboards"
             / "selfhosted-prefect.json")


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text())


def panels(dashboard, rows=False):
    return [panel for panel in dashboard["panels"] if rows or panel["type"] != "row"]


def test_it_imports_with_one_prometheus_input(dashboard):
    assert [entry["pluginId"] for entry in dashboard["__inputs"]] == ["prometheus"]
    assert dashboard["uid"] == "selfhosted-prefect"
    ids = [panel["id"] for panel in panels(dashboard, rows=True)]
    assert len(ids) == len(set(ids))


def test_every_query_uses_the_datasource_variable(dashboard):
    for panel in panels(dashboard):
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_the_panels_do_not_overlap(dashboard):
    taken = set()
    for panel in panels(dashboard, rows=True):
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


def test_every_prefect_figure_is_one_the_exporter_serves(dashboard, prefect_exporter):
    shown = {name for panel in panels(dashboard) for target in panel["targets"]
             for name in re.findall(r"\bprefect_[a-z_]+\b", re.sub(r'"[^"]*"', "", target["expr"]))}
    assert shown and shown <= set(prefect_exporter.METRICS)
