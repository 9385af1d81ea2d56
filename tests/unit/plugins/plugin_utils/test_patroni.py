# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The patch prefect_postgresql sends Patroni (plugins/plugin_utils/patroni.py)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible.errors import AnsibleFilterError
from ansible_collections.selfhosted.prefect.plugins.filter.patroni_config_patch import FilterModule
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.patroni import patroni_config_patch

WANTED = {"ttl": 15, "loop_wait": 5, "retry_timeout": 5, "maximum_lag_on_failover": 1048576, "synchronous_mode": True}


def test_the_filter_is_exposed():
    assert FilterModule().filters()["patroni_config_patch"] is patroni_config_patch


def test_a_cluster_made_with_the_defaults_needs_its_timings():
    made = {"ttl": 30, "loop_wait": 10, "retry_timeout": 10, "maximum_lag_on_failover": 1048576,
            "synchronous_mode": True, "postgresql": {"use_pg_rewind": True}}
    assert patroni_config_patch(made, WANTED) == {"ttl": 15, "loop_wait": 5, "retry_timeout": 5}


def test_nothing_differs_whatever_form_patroni_kept():
    kept = {"ttl": "15", "loop_wait": 5, "retry_timeout": 5.0, "maximum_lag_on_failover": 1048576,
            "synchronous_mode": "on", "check_timeline": True}
    assert patroni_config_patch(kept, WANTED) == {}


def test_a_missing_setting_is_added():
    assert patroni_config_patch({"ttl": 15}, {"synchronous_mode": True}) == {"synchronous_mode": True}


def test_a_text_that_is_no_number_is_compared_as_text():
    assert patroni_config_patch({"x": "nan"}, {"x": "nan"}) == {}
    assert patroni_config_patch({"x": "8MB"}, {"x": "16MB"}) == {"x": "16MB"}


def test_false_differs_from_true():
    assert patroni_config_patch({"synchronous_mode": True}, {"synchronous_mode": False}) == {"synchronous_mode": False}


def test_nested_parameters_are_compared_key_by_key():
    current = {"postgresql": {"parameters": {"max_wal_senders": 10, "wal_log_hints": "on"}, "use_slots": True}}
    wanted = {"postgresql": {"parameters": {"max_wal_senders": "10", "wal_log_hints": True, "work_mem": "8MB"}}}
    assert patroni_config_patch(current, wanted) == {"postgresql": {"parameters": {"work_mem": "8MB"}}}


def test_no_cluster_settings_yet_takes_everything():
    assert patroni_config_patch(None, WANTED) == WANTED


def test_a_null_value_is_kept_apart_from_a_string():
    assert patroni_config_patch({"slots": None}, {"slots": "None"}) == {"slots": "None"}


@pytest.mark.parametrize("current, wanted", [({}, ["ttl"]), ("ttl: 15", {"ttl": 15})])
def test_other_input_fails_clearly(current, wanted):
    with pytest.raises(AnsibleFilterError, match="patroni_config_patch"):
        patroni_config_patch(current, wanted)


settings = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.booleans(), st.integers(), st.text(max_size=8), st.none()), max_size=6)


@given(settings)
def test_settings_never_differ_from_themselves(wanted):
    assert patroni_config_patch(wanted, wanted) == {}


@given(settings, settings)
def test_applying_the_patch_leaves_nothing_to_patch(current, wanted):
    applied = dict(current)
    applied.update(patroni_config_patch(current, wanted))
    assert patroni_config_patch(applied, wanted) == {}
