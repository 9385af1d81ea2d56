# -*- coding: utf-8 -*-
"""What every API module checks before it sends anything (api_module): the
address, the credentials' place, the timeouts, the names, and bounds Prefect
itself does not check. Each case ends in a message, never a traceback, and
the password of an address never reaches the output."""
from __future__ import annotations

import json

import pytest

from ansible_collections.selfhosted.prefect.plugins.modules import (
    prefect_automation, prefect_block, prefect_concurrency_limit, prefect_variable, prefect_work_pool,
    prefect_work_queue,
)

MODULES = {
    "variable": (prefect_variable, dict(name="v", value=1)),
    "work_pool": (prefect_work_pool, dict(name="p", base_job_template={})),
    "automation": (prefect_automation, dict(name="a", trigger={}, actions=[])),
    "work_queue": (prefect_work_queue, dict(name="q", work_pool="p")),
    "concurrency_limit": (prefect_concurrency_limit, dict(name="c", limit=1)),
    "block": (prefect_block, dict(name="b", block_type="secret", secret_data={"value": "a-long-secret"})),
}


@pytest.mark.parametrize("kind", sorted(MODULES))
@pytest.mark.parametrize("options, words", [
    (dict(api_url=""), "api_url must be the http:// or https:// address of the Prefect API"),
    (dict(api_url="http://[::1/api"), "api_url 'http://[::1/api' is no URL: Invalid IPv6 URL"),
    (dict(api_url="ftp://prefect/api"), "api_url must be the http:// or https:// address"),
    (dict(api_url="http:///api"), "api_url must be the http:// or https:// address"),
    (dict(api_url="http://prefect:42x/api"), "is no URL: Port could not be cast to integer value"),
    (dict(timeout=-1), "timeout must be 1 to 3600 seconds, not -1."),
    (dict(timeout=0), "timeout must be 1 to 3600 seconds, not 0."),
    (dict(max_retries=-1), "max_retries must be 0 to 100, not -1."),
    (dict(name=""), "name must not be empty."),
    (dict(name="  "), "name must not be empty."),
])
def test_bad_arguments_get_a_message_before_any_request(run, kind, options, words):
    module, args = MODULES[kind]
    result = run(module, dict(dict(args, api_url="http://127.0.0.1:9/api"), **options))
    assert result["failed"] is True
    assert words in result["msg"]


@pytest.mark.parametrize("url", ["https://ops:Zq7-secret@prefect.example.com/api",
                                 "http://ops:Zq7-secret@[::1/api"])
def test_a_password_in_api_url_is_refused_and_masked_everywhere(run, url):
    result = run(prefect_variable, dict(name="v", value=1, api_url=url))
    assert result["failed"] is True
    assert "give the credentials as auth_string" in result["msg"] or "is no URL" in result["msg"]
    assert "Zq7-secret" not in json.dumps(result)  # the invocation Ansible prints at -vvv included


def test_an_empty_work_pool_type_is_refused(run):
    result = run(prefect_work_pool, dict(name="p", type="", api_url="http://127.0.0.1:9/api"))
    assert result == dict(result, failed=True, msg="type must not be empty.")


def test_a_variable_value_past_prefects_limit_is_refused_before_sending(run, api, rest):
    result = run(prefect_variable, dict(api, name="big", value="x" * 8 * 1024 * 1024))
    assert result["failed"] is True
    assert result["msg"].startswith("value is 8388610 characters as JSON; Prefect stores variables of at most 5000")
    edge = run(prefect_variable, dict(api, name="edge", value="x" * 4998))  # 5000 with its quotes
    assert edge["changed"] is True and rest("GET", "/variables/name/edge")["value"] == "x" * 4998


@pytest.mark.parametrize("limit", [10 ** 20, 2 ** 31, -2])
def test_a_concurrency_limit_the_database_cannot_hold_is_refused(run, api, rest, limit):
    name = "bounded-%d" % len(str(limit))
    result = run(prefect_work_pool, dict(api, name=name, base_job_template={}, concurrency_limit=limit))
    assert result["failed"] is True
    assert "concurrency_limit must be -1 (no limit), or 0 to 2147483647, not %d" % limit == result["msg"]
    largest = run(prefect_work_pool, dict(api, name=name, base_job_template={}, concurrency_limit=2 ** 31 - 1))
    assert largest["changed"] is True
    assert rest("GET", "/work_pools/" + name)["concurrency_limit"] == 2 ** 31 - 1
