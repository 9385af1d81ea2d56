# -*- coding: utf-8 -*-
"""prefect_automation against a real server, with Prefect's zombie-run
automation as the example."""
from __future__ import annotations

import copy

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_automation

ZOMBIE = dict(
    trigger=dict(
        type="event", posture="Proactive",
        match={"prefect.resource.id": "prefect.flow-run.*"},
        after=["prefect.flow-run.heartbeat"],
        expect=["prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"],
        for_each=["prefect.resource.id"], threshold=1, within=90,
    ),
    actions=[dict(type="change-flow-run-state", state="CRASHED", message="No heartbeat for 90 s")],
)


def named(rest, name):
    return rest("POST", "/automations/filter", {"automations": {"name": {"any_": [name]}}})


def test_creates_the_zombie_automation_once(run, api, rest):
    args = dict(api, name="zombies", **copy.deepcopy(ZOMBIE))
    created = run(prefect_automation, args, diff=True)
    assert created["changed"] is True
    [stored] = named(rest, "zombies")
    assert stored["trigger"]["posture"] == "Proactive"
    assert stored["trigger"]["within"] == 90
    assert stored["actions"][0]["state"] == "CRASHED"
    assert created["automation"]["id"] == stored["id"]

    again = run(prefect_automation, args)
    assert again["changed"] is False
    assert len(named(rest, "zombies")) == 1


def test_a_changed_window_updates_the_same_automation(run, api, rest):
    args = dict(api, name="window", **copy.deepcopy(ZOMBIE))
    run(prefect_automation, args)
    [first] = named(rest, "window")
    args["trigger"]["within"] = 120

    checked = run(prefect_automation, args, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["after"]["trigger"]["within"] == 120
    assert named(rest, "window")[0]["trigger"]["within"] == 90

    updated = run(prefect_automation, args)
    assert updated["changed"] is True
    [stored] = named(rest, "window")
    assert (stored["id"], stored["trigger"]["within"]) == (first["id"], 120)


def test_disabled_by_hand_is_enabled_again(run, api, rest):
    args = dict(api, name="toggled", **copy.deepcopy(ZOMBIE))
    run(prefect_automation, args)
    [stored] = named(rest, "toggled")
    rest("PATCH", "/automations/%s" % stored["id"], {"enabled": False})
    result = run(prefect_automation, args)
    assert result["changed"] is True
    assert named(rest, "toggled")[0]["enabled"] is True


def test_duplicate_names_fail_and_change_nothing(run, api, rest):
    body = dict(name="twice", **copy.deepcopy(ZOMBIE))
    rest("POST", "/automations/", body)
    rest("POST", "/automations/", body)
    result = run(prefect_automation, dict(api, **dict(body, trigger=dict(body["trigger"], within=60))))
    assert result["failed"] is True
    assert result["msg"].startswith("2 automations are named 'twice'")
    assert [a["trigger"]["within"] for a in named(rest, "twice")] == [90, 90]


def test_an_unknown_action_gives_the_servers_message(run, api, rest):
    result = run(prefect_automation, dict(api, name="broken", trigger=ZOMBIE["trigger"],
                                                    actions=[dict(type="no-such-action")]))
    assert result["failed"] is True
    assert "(422)" in result["msg"]
    assert named(rest, "broken") == []


def test_absent_deletes_once(run, api, rest):
    run(prefect_automation, dict(api, name="gone", **copy.deepcopy(ZOMBIE)))
    deleted = run(prefect_automation, dict(api, name="gone", state="absent"))
    assert deleted["changed"] is True
    assert named(rest, "gone") == []
    again = run(prefect_automation, dict(api, name="gone", state="absent"))
    assert again["changed"] is False
