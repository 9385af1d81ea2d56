# -*- coding: utf-8 -*-
"""prefect_variable against a real server."""
from __future__ import annotations

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_variable


def test_creates_then_leaves_an_equal_variable_alone(run, api, rest):
    args = dict(api, name="export_target", value={"dir": "/srv/exports", "keep": 14}, tags=["etl", "nightly"])
    created = run(prefect_variable, args, diff=True)
    assert created["changed"] is True
    assert created["diff"]["after"]["value"] == {"dir": "/srv/exports", "keep": 14}
    stored = rest("GET", "/variables/name/export_target")
    assert stored["value"] == {"dir": "/srv/exports", "keep": 14}
    assert sorted(stored["tags"]) == ["etl", "nightly"]

    reordered = run(prefect_variable, dict(args, tags=["nightly", "etl"]))
    assert reordered["changed"] is False


def test_a_value_changed_by_hand_is_reported_and_set_back(run, api, rest):
    args = dict(api, name="batch_size", value=500)
    run(prefect_variable, args)
    rest("PATCH", "/variables/name/batch_size", {"value": 10})
    checked = run(prefect_variable, args, check=True, diff=True)
    assert checked["changed"] is True
    assert (checked["diff"]["before"]["value"], checked["diff"]["after"]["value"]) == (10, 500)
    assert rest("GET", "/variables/name/batch_size")["value"] == 10
    fixed = run(prefect_variable, args)
    assert fixed["changed"] is True
    assert rest("GET", "/variables/name/batch_size")["value"] == 500


def test_a_value_with_fewer_keys_is_a_change(run, api, rest):
    run(prefect_variable, dict(api, name="mapping", value={"a": 1, "b": 2}))
    result = run(prefect_variable, dict(api, name="mapping", value={"a": 1}))
    assert result["changed"] is True
    assert rest("GET", "/variables/name/mapping")["value"] == {"a": 1}


def test_a_number_becoming_a_boolean_is_a_change(run, api, rest):
    run(prefect_variable, dict(api, name="flag", value=1))
    result = run(prefect_variable, dict(api, name="flag", value=True))
    assert result["changed"] is True
    assert rest("GET", "/variables/name/flag")["value"] is True


def test_tags_left_out_are_kept(run, api, rest):
    run(prefect_variable, dict(api, name="tagged", value="x", tags=["keep"]))
    result = run(prefect_variable, dict(api, name="tagged", value="y"))
    assert result["changed"] is True
    assert rest("GET", "/variables/name/tagged")["tags"] == ["keep"]


def test_an_invalid_name_fails_with_the_servers_rule(run, api):
    result = run(prefect_variable, dict(api, name="Bad Name", value="v"))
    assert result["failed"] is True
    assert "(422)" in result["msg"]
    assert "name" in result["msg"]


def test_present_needs_a_value(run, api):
    result = run(prefect_variable, dict(api, name="no_value"))
    assert result["failed"] is True
    assert "value" in result["msg"]


def test_absent_deletes_once(run, api, rest):
    run(prefect_variable, dict(api, name="temporary", value=1))
    deleted = run(prefect_variable, dict(api, name="temporary", state="absent"))
    assert deleted["changed"] is True
    assert rest("POST", "/variables/filter", {"variables": {"name": {"any_": ["temporary"]}}}) == []
    again = run(prefect_variable, dict(api, name="temporary", state="absent"))
    assert again["changed"] is False
