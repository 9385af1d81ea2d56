# -*- coding: utf-8 -*-
"""prefect_concurrency_limit against a real server: global limits by name
and tag limits by tag, each created, left alone, set back after a change by
hand (check mode shows it first), deleted once; clear failures that change
nothing."""
from __future__ import annotations

import json
import uuid

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_concurrency_limit

from .conftest import AUTH_STRING


@pytest.fixture
def unique():
    return f"limit-{uuid.uuid4().hex[:8]}"


def test_a_global_limit_is_created_then_left_alone(run, api, rest, unique):
    args = dict(api, name=unique, limit=5, slot_decay_per_second=2.5)
    created = run(prefect_concurrency_limit, args, diff=True)
    assert created["changed"] is True
    assert created["concurrency_limit"] == {"name": unique, "limit": 5, "active": True, "slot_decay_per_second": 2.5}
    assert created["diff"]["before"] == {}
    stored = rest("GET", f"/v2/concurrency_limits/{unique}")
    assert (stored["limit"], stored["active"], stored["slot_decay_per_second"]) == (5, True, 2.5)
    assert AUTH_STRING not in json.dumps(created)
    assert run(prefect_concurrency_limit, args)["changed"] is False


def test_a_global_limit_changed_by_hand_is_reported_then_set_back(run, api, rest, unique):
    args = dict(api, name=unique, limit=3, active=True)
    run(prefect_concurrency_limit, args)
    rest("PATCH", f"/v2/concurrency_limits/{unique}", {"limit": 30, "active": False})
    checked = run(prefect_concurrency_limit, args, check=True, diff=True)
    assert checked["changed"] is True
    assert (checked["diff"]["before"]["limit"], checked["diff"]["before"]["active"]) == (30, False)
    assert (checked["diff"]["after"]["limit"], checked["diff"]["after"]["active"]) == (3, True)
    assert rest("GET", f"/v2/concurrency_limits/{unique}")["limit"] == 30
    assert run(prefect_concurrency_limit, args)["changed"] is True
    stored = rest("GET", f"/v2/concurrency_limits/{unique}")
    assert (stored["limit"], stored["active"]) == (3, True)


def test_options_left_out_are_kept(run, api, rest, unique):
    run(prefect_concurrency_limit, dict(api, name=unique, limit=1, slot_decay_per_second=1.0))
    assert run(prefect_concurrency_limit, dict(api, name=unique, limit=2))["changed"] is True
    assert rest("GET", f"/v2/concurrency_limits/{unique}")["slot_decay_per_second"] == 1.0


def test_a_tag_limit_is_created_changed_and_deleted(run, api, rest, unique):
    checked = run(prefect_concurrency_limit, dict(api, tag=unique, limit=2), check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["after"] == {"tag": unique, "limit": 2}
    assert unique not in [limit["tag"] for limit in rest("POST", "/concurrency_limits/filter", {})]
    created = run(prefect_concurrency_limit, dict(api, tag=unique, limit=2))
    assert created["concurrency_limit"] == {"tag": unique, "limit": 2}
    assert rest("GET", f"/concurrency_limits/tag/{unique}")["concurrency_limit"] == 2
    assert run(prefect_concurrency_limit, dict(api, tag=unique, limit=2))["changed"] is False
    changed = run(prefect_concurrency_limit, dict(api, tag=unique, limit=7), diff=True)
    assert changed["changed"] is True and changed["diff"]["before"]["limit"] == 2
    assert rest("GET", f"/concurrency_limits/tag/{unique}")["concurrency_limit"] == 7
    deleted = run(prefect_concurrency_limit, dict(api, tag=unique, state="absent"))
    assert deleted["changed"] is True and deleted["concurrency_limit"] is None
    assert run(prefect_concurrency_limit, dict(api, tag=unique, state="absent"))["changed"] is False


def test_absent_deletes_a_global_limit_once(run, api, rest, unique):
    run(prefect_concurrency_limit, dict(api, name=unique, limit=1))
    deleted = run(prefect_concurrency_limit, dict(api, name=unique, state="absent"), diff=True)
    assert deleted["changed"] is True and deleted["diff"]["before"]["name"] == unique
    assert unique not in [limit["name"] for limit in rest("POST", "/v2/concurrency_limits/filter", {})]
    assert run(prefect_concurrency_limit, dict(api, name=unique, state="absent"))["changed"] is False


@pytest.mark.parametrize("options, words", [
    (dict(name="x", tag="y", limit=1), "parameters are mutually exclusive: name|tag"),
    (dict(limit=1), "one of the following is required: name, tag"),
    (dict(name="x"), "state is present but all of the following are missing: limit"),
    (dict(name=" ", limit=1), "name must not be empty."),
    (dict(tag="y", limit=1, active=False), "active: only a global limit (name) has it"),
    (dict(name="x", limit=-1), "limit must be 0 to"),
    (dict(name="x", limit=1, slot_decay_per_second=-0.5), "slot_decay_per_second must be 0 or more"),
    (dict(name="x", limit=1, slot_decay_per_second=float("nan")), "slot_decay_per_second must be 0 or more"),
])
def test_bad_arguments_fail_before_any_request(run, options, words):
    result = run(prefect_concurrency_limit, dict(options, api_url="http://127.0.0.1:9/api"))
    assert result["failed"] is True
    assert words in result["msg"], result["msg"]
