# -*- coding: utf-8 -*-
"""prefect_work_queue against a real server: create in a pool, no change,
drift reported in check mode and set back, options left out unmanaged, -1
removes the limit, absent, and clear failures that change nothing."""
from __future__ import annotations

import json
import uuid

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_work_queue

from .conftest import AUTH_STRING


@pytest.fixture
def pool(rest):
    """A process pool of its own for each test."""
    name = f"queues-{uuid.uuid4().hex[:8]}"
    rest("POST", "/work_pools/", {"name": name, "type": "process", "base_job_template": {}})
    return name


def queues(rest, pool):
    return {queue["name"]: queue for queue in rest("POST", f"/work_pools/{pool}/queues/filter", {})}


def test_creates_a_queue_then_leaves_it_alone(run, api, rest, pool):
    args = dict(api, work_pool=pool, name="urgent", priority=1, concurrency_limit=4, description="first")
    created = run(prefect_work_queue, args, diff=True)
    assert created["changed"] is True
    assert created["diff"]["before"] == {}
    assert created["work_queue"] == {"name": "urgent", "work_pool": pool, "description": "first", "priority": 1,
                                     "concurrency_limit": 4, "is_paused": False}
    stored = queues(rest, pool)["urgent"]
    assert (stored["priority"], stored["concurrency_limit"], stored["description"]) == (1, 4, "first")
    assert AUTH_STRING not in json.dumps(created)

    again = run(prefect_work_queue, args, diff=True)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]


def test_check_mode_reports_a_new_queue_without_creating_it(run, api, rest, pool):
    result = run(prefect_work_queue, dict(api, work_pool=pool, name="later", paused=True), check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["is_paused"] is True
    assert "later" not in queues(rest, pool)


def test_a_queue_changed_by_hand_is_reported_and_set_back(run, api, rest, pool):
    args = dict(api, work_pool=pool, name="batch", concurrency_limit=2, paused=False)
    run(prefect_work_queue, args)
    rest("PATCH", f"/work_pools/{pool}/queues/batch", {"concurrency_limit": 50, "is_paused": True})
    checked = run(prefect_work_queue, args, check=True, diff=True)
    assert checked["changed"] is True
    before, after = checked["diff"]["before"], checked["diff"]["after"]
    assert (before["concurrency_limit"], before["is_paused"]) == (50, True)
    assert (after["concurrency_limit"], after["is_paused"]) == (2, False)
    assert queues(rest, pool)["batch"]["concurrency_limit"] == 50
    fixed = run(prefect_work_queue, args)
    assert fixed["changed"] is True
    stored = queues(rest, pool)["batch"]
    assert (stored["concurrency_limit"], stored["is_paused"]) == (2, False)


def test_options_left_out_are_kept_and_minus_one_removes_the_limit(run, api, rest, pool):
    run(prefect_work_queue, dict(api, work_pool=pool, name="kept", description="mine", concurrency_limit=3))
    result = run(prefect_work_queue, dict(api, work_pool=pool, name="kept", concurrency_limit=-1))
    assert result["changed"] is True
    stored = queues(rest, pool)["kept"]
    assert (stored["concurrency_limit"], stored["description"]) == (None, "mine")
    assert run(prefect_work_queue, dict(api, work_pool=pool, name="kept", concurrency_limit=-1))["changed"] is False


def test_the_pools_default_queue_can_change_but_not_go(run, api, rest, pool):
    changed = run(prefect_work_queue, dict(api, work_pool=pool, name="default", concurrency_limit=1))
    assert changed["changed"] is True
    for check in (True, False):
        refused = run(prefect_work_queue, dict(api, work_pool=pool, name="default", state="absent"), check=check)
        assert refused["failed"] is True
        assert refused["msg"] == (f"work queue 'default' is the default queue of work pool '{pool}', which Prefect "
                                  "keeps as long as the pool: delete the pool (prefect_work_pool, state=absent) "
                                  "to remove it")
    assert queues(rest, pool)["default"]["concurrency_limit"] == 1


def test_a_queue_of_a_pool_that_does_not_exist_fails_and_creates_nothing(run, api, rest):
    result = run(prefect_work_queue, dict(api, work_pool="nowhere", name="q"))
    assert result["failed"] is True
    assert result["msg"] == "work pool 'nowhere' does not exist: create it first (prefect_work_pool)"
    assert rest("POST", "/work_pools/filter", {"work_pools": {"name": {"any_": ["nowhere"]}}}) == []
    # A check run may come before the task that creates the pool.
    checked = run(prefect_work_queue, dict(api, work_pool="nowhere", name="q"), check=True)
    assert checked["changed"] is True and checked["work_queue"]["work_pool"] == "nowhere"
    gone = run(prefect_work_queue, dict(api, work_pool="nowhere", name="q", state="absent"))
    assert gone["changed"] is False


@pytest.mark.parametrize("options, words", [
    (dict(priority=0), "priority must be 1 to"),
    (dict(concurrency_limit=-2), "concurrency_limit must be -1 (no limit), or 0 to"),
    (dict(work_pool=" "), "work_pool must not be empty."),
])
def test_bad_values_fail_before_any_change(run, api, rest, pool, options, words):
    result = run(prefect_work_queue, dict(dict(api, work_pool=pool, name="bad"), **options))
    assert result["failed"] is True
    assert words in result["msg"]
    assert "bad" not in queues(rest, pool)


def test_absent_deletes_once(run, api, rest, pool):
    run(prefect_work_queue, dict(api, work_pool=pool, name="temporary"))
    deleted = run(prefect_work_queue, dict(api, work_pool=pool, name="temporary", state="absent"), diff=True)
    assert deleted["changed"] is True
    assert deleted["work_queue"] is None
    assert deleted["diff"]["before"]["name"] == "temporary"
    assert "temporary" not in queues(rest, pool)
    again = run(prefect_work_queue, dict(api, work_pool=pool, name="temporary", state="absent"))
    assert again["changed"] is False
