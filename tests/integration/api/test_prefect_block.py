# -*- coding: utf-8 -*-
"""prefect_block against a real server: Prefect's own block types (secret,
local-file-system, webhook), which every server registers at start."""
from __future__ import annotations

import json

from ansible_collections.selfhosted.prefect.plugins.modules import prefect_block

PASSWORD = "hunter2-not-in-any-output"
TOKEN = "Bearer t0ken-not-in-any-output"


def stored(rest, block_type, name):
    return rest("GET", "/block_types/slug/%s/block_documents/name/%s?include_secrets=true" % (block_type, name))


def shows_no_secret(result):
    """No secret anywhere, and Ansible's mask of one only in the invocation
    (the arguments): the module itself never put one in its result."""
    own = json.dumps(dict((key, value) for key, value in result.items() if key != "invocation"))
    return PASSWORD not in json.dumps(result) and TOKEN not in json.dumps(result) and (
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in own)


def test_a_secret_is_created_compared_and_never_shown(run, api, rest):
    args = dict(api, block_type="secret", name="warehouse-password", secret_data={"value": PASSWORD})
    created = run(prefect_block, args, diff=True)
    assert created["changed"] is True
    assert created["block"] == {"block_type": "secret", "name": "warehouse-password", "data": {"value": "********"}}
    assert created["diff"]["after"]["data"] == {"value": "********"}
    assert stored(rest, "secret", "warehouse-password")["data"] == {"value": PASSWORD}
    assert shows_no_secret(created)

    again = run(prefect_block, args, diff=True)
    assert again["changed"] is False
    assert shows_no_secret(again)


def test_a_secret_changed_by_hand_is_reported_without_either_value_and_set_back(run, api, rest):
    args = dict(api, block_type="secret", name="api-key", secret_data={"value": PASSWORD})
    run(prefect_block, args)
    document = stored(rest, "secret", "api-key")
    rest("PATCH", "/block_documents/%s" % document["id"],
         {"data": {"value": "changed by hand"}, "merge_existing_data": False})
    checked = run(prefect_block, args, check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["before"]["data"] == {"value": "********"}
    assert checked["diff"]["after"]["data"] == {"value": "******** (changed)"}
    assert "changed by hand" not in json.dumps(checked) and shows_no_secret(checked)
    assert stored(rest, "secret", "api-key")["data"] == {"value": "changed by hand"}

    fixed = run(prefect_block, args)
    assert fixed["changed"] is True
    assert stored(rest, "secret", "api-key")["data"] == {"value": PASSWORD}


def test_the_data_is_the_whole_document(run, api, rest):
    args = dict(api, block_type="local-file-system", name="exports", data={"basepath": "/srv/exports"})
    assert run(prefect_block, args)["changed"] is True
    updated = run(prefect_block, dict(args, data={}), diff=True)
    assert updated["changed"] is True
    assert updated["diff"]["before"]["data"] == {"basepath": "/srv/exports"}
    assert updated["diff"]["after"]["data"] == {}
    assert stored(rest, "local-file-system", "exports")["data"] == {}


def test_nested_and_wildcard_secret_fields_are_hidden(run, api, rest):
    # webhook: url is secret, and every value under headers (a SecretDict).
    args = dict(api, block_type="webhook", name="pager", data={"method": "POST"},
                secret_data={"url": "https://pager.example.org/hook/" + PASSWORD, "headers": {"Authorization": TOKEN}})
    created = run(prefect_block, args, diff=True)
    assert created["changed"] is True, created
    assert created["block"]["data"]["method"] == "POST"
    assert created["block"]["data"]["url"] == "********"
    assert created["block"]["data"]["headers"] == {"Authorization": "********"}
    assert shows_no_secret(created)
    data = stored(rest, "webhook", "pager")["data"]
    assert data["headers"] == {"Authorization": TOKEN} and data["url"].endswith(PASSWORD)
    assert run(prefect_block, args)["changed"] is False


def test_a_secret_field_in_data_is_refused_before_anything_is_sent(run, api, rest):
    args = dict(api, block_type="webhook", name="leaky", data={"method": "POST", "headers": {"Authorization": TOKEN}},
                secret_data={"url": "https://pager.example.org/"})
    result = run(prefect_block, args)
    assert result["failed"] is True
    assert "headers.Authorization is secret in the block type webhook: give it in secret_data" in result["msg"]
    assert TOKEN not in result["msg"]
    assert "leaky" not in [doc["name"] for doc in rest("GET", "/block_types/slug/webhook/block_documents")]


def test_unknown_and_missing_fields_name_the_schemas_fields(run, api):
    unknown = run(prefect_block, dict(api, block_type="local-file-system", name="typo", data={"basepth": "/x"}))
    assert unknown["failed"] is True
    assert "the block type local-file-system has no field basepth (its fields: basepath)" in unknown["msg"]
    missing = run(prefect_block, dict(api, block_type="secret", name="empty"))
    assert missing["failed"] is True
    assert "the block type secret requires value" in missing["msg"]


def test_an_unregistered_block_type_fails_clearly_but_is_nothing_to_delete(run, api):
    missing = run(prefect_block, dict(api, block_type="no-such-type", name="x", data={"a": 1}))
    assert missing["failed"] is True
    assert "the server has no block type 'no-such-type'" in missing["msg"]
    assert "Traceback" not in missing["msg"]
    absent = run(prefect_block, dict(api, block_type="no-such-type", name="x", state="absent"))
    assert absent["changed"] is False and absent["block"] is None


def test_absent_deletes_and_check_mode_only_says_so(run, api, rest):
    args = dict(api, block_type="local-file-system", name="temporary", data={"basepath": "/tmp/x"})
    run(prefect_block, args)
    checked = run(prefect_block, dict(args, state="absent"), check=True, diff=True)
    assert checked["changed"] is True and checked["diff"]["after"] == {}
    assert stored(rest, "local-file-system", "temporary")["data"] == {"basepath": "/tmp/x"}
    deleted = run(prefect_block, dict(args, state="absent"))
    assert deleted["changed"] is True and deleted["block"] is None
    assert run(prefect_block, dict(args, state="absent"))["changed"] is False


def test_check_mode_creates_nothing(run, api, rest):
    args = dict(api, block_type="secret", name="not-yet", secret_data={"value": PASSWORD})
    checked = run(prefect_block, args, check=True, diff=True)
    assert checked["changed"] is True and checked["diff"]["before"] == {}
    assert shows_no_secret(checked)
    names = [doc["name"] for doc in rest("GET", "/block_types/slug/secret/block_documents")]
    assert "not-yet" not in names
