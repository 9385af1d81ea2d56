# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exporter's text format, read back by the Prometheus client library's
parser: any pool name (quotes, backslashes, new lines, any Unicode) comes
back as it was, each metric once with its HELP and TYPE; the settings it
refuses."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

POOL_NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(st.lists(POOL_NAMES, unique=True, max_size=5), st.integers(min_value=0, max_value=10**9))
def test_any_pool_name_and_count_read_back(prefect_exporter, pools, count):
    samples = [("prefect_api_ready", {}, True)]
    samples += [("prefect_work_pool_late_runs", {"pool": pool}, count) for pool in pools]
    families = {family.name: family for family in text_string_to_metric_families(prefect_exporter.render(samples))}
    assert families["prefect_api_ready"].samples[0].value == 1.0
    if pools:
        late = families["prefect_work_pool_late_runs"]
        assert late.type == "gauge" and late.documentation
        assert {s.labels["pool"]: s.value for s in late.samples} == {pool: float(count) for pool in pools}
    else:
        assert "prefect_work_pool_late_runs" not in families


def test_metrics_are_written_in_the_catalogue_order_each_once(prefect_exporter):
    samples = [("prefect_work_pool_paused", {"pool": "b"}, 0), ("prefect_api_ready", {}, 1),
               ("prefect_work_pool_paused", {"pool": "a"}, 1)]
    text = prefect_exporter.render(samples)
    assert text.index("prefect_api_ready") < text.index("prefect_work_pool_paused")
    assert text.count("# TYPE prefect_work_pool_paused gauge") == 1
    assert 'prefect_work_pool_paused{pool="b"} 0.0\nprefect_work_pool_paused{pool="a"} 1.0\n' in text


@pytest.mark.parametrize("listen", ["9812", ":9812", "localhost:http", "host:"])
def test_a_listen_address_without_host_and_port_is_refused(prefect_exporter, listen):
    with pytest.raises(ValueError, match="host:port"):
        prefect_exporter.listen_address(listen)


@pytest.mark.parametrize("listen, expected", [("127.0.0.1:9812", ("127.0.0.1", 9812)), ("[::1]:9812", ("::1", 9812))])
def test_listen_addresses(prefect_exporter, listen, expected):
    assert prefect_exporter.listen_address(listen) == expected
