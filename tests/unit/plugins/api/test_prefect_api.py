# -*- coding: utf-8 -*-
"""The REST client shared by the API modules, against a real server: every
failure a user can cause gives a message that says what to fix and carries
neither the credentials nor the submitted values."""
from __future__ import annotations

import pytest

from ansible_collections.selfhosted.prefect.plugins.module_utils.prefect_api import (
    PrefectApi, PrefectApiError, subset_differs, validation_errors,
)

from .conftest import AUTH_STRING, free_port


def client(api_url, auth_string=AUTH_STRING):
    return PrefectApi(dict(api_url=api_url, auth_string=auth_string, ca_path=None,
                           validate_certs=True, timeout=10))


def test_get_reads_an_object(server):
    created = client(server).post("/variables/", {"name": "api_probe", "value": 1})
    assert client(server).get("/variables/name/api_probe")["id"] == created["id"]


def test_missing_object_is_none_when_allowed_else_a_404_error(server):
    assert client(server).get("/variables/name/nothing_here", missing_ok=True) is None
    with pytest.raises(PrefectApiError) as caught:
        client(server).get("/variables/name/nothing_here")
    assert caught.value.status == 404
    assert "(404)" in str(caught.value)


def test_wrong_credentials_say_which_setting_to_fix_without_echoing_them(server):
    with pytest.raises(PrefectApiError) as caught:
        client(server, auth_string="ops:wrong-pass").get("/variables/name/x", missing_ok=True)
    assert caught.value.status == 401
    assert "PREFECT_SERVER_API_AUTH_STRING" in str(caught.value)
    assert "wrong-pass" not in str(caught.value)


def test_unreachable_api_names_the_url():
    url = "http://127.0.0.1:%d/api" % free_port()
    with pytest.raises(PrefectApiError) as caught:
        client(url).get("/variables/name/x")
    assert str(caught.value).startswith("cannot reach the Prefect API at " + url)


def test_422_gives_the_servers_message_without_the_submitted_value(server):
    with pytest.raises(PrefectApiError) as caught:
        client(server).post("/variables/", {"name": "Not Valid!", "value": "hunter2-value"})
    message = str(caught.value)
    assert caught.value.status == 422
    assert message.startswith("the Prefect API refused POST /variables/ (422): name: ")
    assert "hunter2-value" not in message


def test_changes_pass_csrf_protection_with_a_token_of_their_own(csrf_server):
    api = client(csrf_server)
    created = api.post("/variables/", {"name": "behind_csrf", "value": 1})
    assert api.headers["Prefect-Csrf-Client"]
    api.patch("/variables/name/behind_csrf", {"value": 2})
    assert client(csrf_server).get("/variables/name/behind_csrf")["value"] == 2
    client(csrf_server).delete("/variables/name/behind_csrf")
    assert client(csrf_server).get("/variables/name/behind_csrf", missing_ok=True) is None
    assert created["name"] == "behind_csrf"


def test_a_server_without_csrf_protection_gets_no_token_request(server):
    api = client(server)
    api.post("/variables/", {"name": "no_csrf", "value": 1})
    assert "Prefect-Csrf-Token" not in api.headers


def test_validation_errors_drop_the_input_and_the_body_prefix():
    payload = {"exception_detail": [
        {"loc": ["body", "concurrency_limit"], "msg": "Input should be >= 0", "input": -5},
        {"loc": [], "msg": "whole body"},
    ]}
    assert validation_errors(payload) == "concurrency_limit: Input should be >= 0; whole body"


@pytest.mark.parametrize("wanted, current, differs", [
    ({"a": 1}, {"a": 1, "id": "x"}, False),           # server-filled keys are ignored
    ({"a": 1}, {"a": 2}, True),
    ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, False),
    ({"a": 1}, None, True),
    (["x", "y"], ["y", "x"], False),                   # scalar lists are sets
    (["x"], ["x", "y"], True),
    ([{"t": 1}], [{"t": 1, "n": None}], False),
    ([{"t": 1}], [{"t": 1}, {"t": 2}], True),          # an extra action is drift
    ([{"t": 1}, {"t": 2}], [{"t": 2}, {"t": 1}], True),  # actions keep their order
    (90, 90.0, False),
    (True, 1, True),                                   # JSON true is not 1
    ([1], [True], True),
])
def test_subset_differs(wanted, current, differs):
    assert subset_differs(wanted, current) is differs
