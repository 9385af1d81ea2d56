# -*- coding: utf-8 -*-
"""prefect_work_pool against a real server: create with the type's default
template, idempotence, drift set back, check mode, diff and clear failures."""
from __future__ import annotations

import json
import os
import subprocess

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_work_pool

from .conftest import AUTH_STRING, PREFECT_BIN


def cli_default_template(pool_type="process"):
    """What `prefect work-pool get-default-base-job-template` prints: the
    template `prefect work-pool create` would write."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    out = subprocess.run([PREFECT_BIN, "work-pool", "get-default-base-job-template", "--type", pool_type],
                         env=env, capture_output=True, text=True, check=True, timeout=120).stdout
    return json.loads(out)


def test_creates_a_pool_with_the_template_the_cli_would_write(run, api, rest, prefect_python):
    args = dict(api, name="created", concurrency_limit=4, description="nightly", prefect_python=prefect_python)
    result = run(prefect_work_pool, args, diff=True)
    assert result["changed"] is True
    stored = rest("GET", "/work_pools/created")
    assert stored["type"] == "process"
    assert stored["concurrency_limit"] == 4
    assert stored["description"] == "nightly"
    assert stored["base_job_template"] == cli_default_template()
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["concurrency_limit"] == 4
    assert AUTH_STRING not in json.dumps(result)

    again = run(prefect_work_pool, args)
    assert again["changed"] is False


def test_check_mode_reports_a_new_pool_without_creating_it(run, api, rest, prefect_python):
    args = dict(api, name="only-checked", prefect_python=prefect_python)
    result = run(prefect_work_pool, args, check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["name"] == "only-checked"
    assert rest("POST", "/work_pools/filter", {"work_pools": {"name": {"any_": ["only-checked"]}}}) == []


def test_a_pool_changed_by_hand_is_reported_in_check_mode_and_set_back(run, api, rest, prefect_python):
    args = dict(api, name="drifting", concurrency_limit=2, paused=False, prefect_python=prefect_python)
    run(prefect_work_pool, args)
    rest("PATCH", "/work_pools/drifting", {"concurrency_limit": 50, "is_paused": True})

    checked = run(prefect_work_pool, args, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["before"]["concurrency_limit"] == 50
    assert checked["diff"]["after"]["concurrency_limit"] == 2
    assert checked["diff"]["after"]["is_paused"] is False
    assert rest("GET", "/work_pools/drifting")["concurrency_limit"] == 50

    fixed = run(prefect_work_pool, args)
    assert fixed["changed"] is True
    stored = rest("GET", "/work_pools/drifting")
    assert (stored["concurrency_limit"], stored["is_paused"]) == (2, False)


def test_options_left_out_are_not_managed_and_minus_one_removes_the_limit(run, api, rest, prefect_python):
    run(prefect_work_pool, dict(api, name="limits", concurrency_limit=3, prefect_python=prefect_python))
    rest("PATCH", "/work_pools/limits", {"description": "set in the UI"})
    result = run(prefect_work_pool, dict(api, name="limits", concurrency_limit=-1))
    assert result["changed"] is True
    stored = rest("GET", "/work_pools/limits")
    assert stored["concurrency_limit"] is None
    assert stored["description"] == "set in the UI"


def test_a_given_template_replaces_the_stored_one(run, api, rest, prefect_python):
    template = cli_default_template()
    template["variables"]["properties"]["working_dir"]["default"] = "/srv/flows"
    run(prefect_work_pool, dict(api, name="templated", prefect_python=prefect_python))
    result = run(prefect_work_pool, dict(api, name="templated", base_job_template=template))
    assert result["changed"] is True
    assert rest("GET", "/work_pools/templated")["base_job_template"] == template
    again = run(prefect_work_pool, dict(api, name="templated", base_job_template=template))
    assert again["changed"] is False


def test_an_existing_pools_template_is_left_alone_without_base_job_template(run, api, rest, prefect_python):
    run(prefect_work_pool, dict(api, name="hand-edited", prefect_python=prefect_python))
    template = rest("GET", "/work_pools/hand-edited")["base_job_template"]
    template["variables"]["properties"]["working_dir"]["default"] = "/srv/edited-in-the-ui"
    rest("PATCH", "/work_pools/hand-edited", {"base_job_template": template})
    result = run(prefect_work_pool, dict(api, name="hand-edited", prefect_python=prefect_python))
    assert result["changed"] is False
    assert rest("GET", "/work_pools/hand-edited")["base_job_template"] == template


def test_a_pools_type_cannot_change(run, api, prefect_python):
    run(prefect_work_pool, dict(api, name="typed", prefect_python=prefect_python))
    result = run(prefect_work_pool, dict(api, name="typed", type="docker", base_job_template={}))
    assert result["failed"] is True
    assert "has type 'process', not 'docker'" in result["msg"]


def test_an_unknown_type_lists_the_known_ones(run, api, rest, prefect_python):
    result = run(prefect_work_pool, dict(api, name="mystery", type="mystery", prefect_python=prefect_python))
    assert result["failed"] is True
    assert result["msg"].startswith("unknown work pool type 'mystery'")
    assert "process" in result["msg"]
    assert rest("POST", "/work_pools/filter", {"work_pools": {"name": {"any_": ["mystery"]}}}) == []


def test_without_a_template_or_a_venv_the_server_gives_the_types_default(run, api, rest):
    """As Prefect's UI creates a pool: the template of the server's worker
    metadata, which it serves from its own copy with no internet access."""
    views = rest("GET", "/collections/views/aggregate-worker-metadata")
    for pool_type, collection in (("process", "prefect"), ("docker", "prefect-docker")):
        name = f"from-the-server-{pool_type}"
        checked = run(prefect_work_pool, dict(api, name=name, type=pool_type), check=True, diff=True)
        assert checked["changed"] is True
        assert rest("POST", "/work_pools/filter", {"work_pools": {"name": {"any_": [name]}}}) == []
        created = run(prefect_work_pool, dict(api, name=name, type=pool_type))
        assert created["changed"] is True
        stored = rest("GET", f"/work_pools/{name}")
        assert stored["type"] == pool_type
        assert stored["base_job_template"] == views[collection][pool_type]["default_base_job_configuration"]
        assert checked["diff"]["after"]["base_job_template"] == stored["base_job_template"]
        assert run(prefect_work_pool, dict(api, name=name, type=pool_type))["changed"] is False


def test_a_type_the_server_does_not_know_lists_the_known_ones(run, api, rest):
    result = run(prefect_work_pool, dict(api, name="mystery-server", type="mystery"))
    assert result["failed"] is True
    assert result["msg"].startswith("unknown work pool type 'mystery': the server knows ")
    assert "docker" in result["msg"] and "process" in result["msg"]
    assert rest("POST", "/work_pools/filter", {"work_pools": {"name": {"any_": ["mystery-server"]}}}) == []


def test_a_template_the_server_refuses_gives_its_message(run, api):
    bad = {"job_configuration": {"command": "{{ nowhere }}"}, "variables": {"properties": {}}}
    result = run(prefect_work_pool, dict(api, name="bad-template", base_job_template=bad))
    assert result["failed"] is True
    assert "(422)" in result["msg"]
    assert "nowhere" in result["msg"]


def test_a_negative_limit_other_than_minus_one_fails(run, api):
    result = run(prefect_work_pool, dict(api, name="neg", concurrency_limit=-5))
    assert result["failed"] is True
    assert "concurrency_limit must be -1" in result["msg"]


def test_absent_deletes_once(run, api, rest, prefect_python):
    run(prefect_work_pool, dict(api, name="doomed", prefect_python=prefect_python))
    checked = run(prefect_work_pool, dict(api, name="doomed", state="absent"), check=True)
    assert checked["changed"] is True
    assert rest("GET", "/work_pools/doomed")["name"] == "doomed"
    deleted = run(prefect_work_pool, dict(api, name="doomed", state="absent"), diff=True)
    assert deleted["changed"] is True
    assert deleted["work_pool"] is None
    again = run(prefect_work_pool, dict(api, name="doomed", state="absent"))
    assert again["changed"] is False


def test_creates_a_pool_behind_csrf_protection(run, csrf_server, prefect_python):
    args = dict(api_url=csrf_server, auth_string=AUTH_STRING, name="guarded", concurrency_limit=1,
                prefect_python=prefect_python)
    assert run(prefect_work_pool, args)["changed"] is True
    assert run(prefect_work_pool, dict(args, concurrency_limit=2))["work_pool"]["concurrency_limit"] == 2


def test_wrong_credentials_fail_without_showing_them(run, server):
    result = run(prefect_work_pool, dict(api_url=server, auth_string="ops:not-it", name="x"))
    assert result["failed"] is True
    assert "(401)" in result["msg"]
    assert "not-it" not in json.dumps(result)
