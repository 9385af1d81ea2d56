# -*- coding: utf-8 -*-
"""prefect_block's handling of a document's data: merging the secret part
in, deciding which fields are secret as Prefect's server does, hiding them,
and checking the data against a type's schema. The module against a real
server: tests/integration/api/test_prefect_block.py."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.selfhosted.prefect.plugins.modules.prefect_block import (
    MASK, is_secret, leaf_paths, masked, merged, schema_problems, secret_paths,
)

keys = st.text(alphabet="abcdef_", min_size=1, max_size=4)
leaves = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none())
documents = st.recursive(st.dictionaries(keys, leaves, max_size=4),
                         lambda inner: st.dictionaries(keys, st.one_of(leaves, inner), max_size=4), max_leaves=12)
secrets = st.recursive(st.dictionaries(keys, st.text(alphabet="XYZ", min_size=6, max_size=10), min_size=1, max_size=3),
                       lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3), max_leaves=6)


def value_at(data, path):
    for key in path:
        data = data[key]
    return data


@given(documents, secrets)
def test_no_value_of_secret_data_survives_masking(data, secret_data):
    whole = merged(data, secret_data)
    shown = json.dumps(masked(whole, secret_paths([], secret_data)))
    for path in leaf_paths(secret_data):
        assert json.dumps(value_at(secret_data, path)) not in shown


@given(documents, secrets)
def test_merging_keeps_every_field_and_the_secret_wins(data, secret_data):
    whole = merged(data, secret_data)
    for path in leaf_paths(secret_data):
        assert value_at(whole, path) == value_at(secret_data, path)
    for path in leaf_paths(data):
        if not any(path[:len(secret)] == secret or secret[:len(path)] == path for secret in leaf_paths(secret_data)):
            assert value_at(whole, path) == value_at(data, path)


@given(documents, secrets)
def test_merging_changes_neither_input(data, secret_data):
    before = json.dumps([data, secret_data], sort_keys=True)
    merged(data, secret_data)
    assert json.dumps([data, secret_data], sort_keys=True) == before


def test_secret_fields_as_the_server_reads_them():
    fields = ["url", "headers.*", "credentials.password"]
    assert is_secret(("url",), fields)
    assert is_secret(("headers", "Authorization"), fields)
    assert is_secret(("headers", "a", "b"), fields)
    assert not is_secret(("headers",), fields)  # the mapping itself: only the values under it
    assert is_secret(("credentials", "password"), fields)
    assert not is_secret(("credentials", "username"), fields)
    assert not is_secret(("method",), fields)


def test_masking_shows_which_hidden_value_a_change_touches():
    paths = secret_paths(["url", "headers.*"], {})
    wanted = {"method": "POST", "url": "https://new", "headers": {"A": "1", "B": "2"}}
    stored = {"method": "GET", "url": "https://old", "headers": {"A": "1"}}
    assert masked(wanted, paths, stored) == {
        "method": "POST", "url": MASK + " (changed)", "headers": {"A": MASK, "B": MASK + " (changed)"}}
    assert masked(stored, paths) == {"method": "GET", "url": MASK, "headers": {"A": MASK}}


SCHEMA = {"properties": {"method": {}, "url": {}, "headers": {}}, "required": ["url"],
          "secret_fields": ["url", "headers.*"]}


def test_a_fitting_document_has_no_problem():
    assert schema_problems("webhook", {"method": "POST"}, {"url": "u", "headers": {"A": "x"}}, SCHEMA) == []


def test_each_problem_is_named_with_the_fix():
    problems = schema_problems("webhook", {"method": "POST", "headers": {"A": "x"}, "verb": 1}, {}, SCHEMA)
    assert problems == [
        "headers.A is secret in the block type webhook: give it in secret_data, which Ansible keeps out of its output",
        "the block type webhook has no field verb (its fields: headers, method, url)",
        "the block type webhook requires url",
    ]


def test_a_schema_without_properties_takes_any_field():
    assert schema_problems("custom", {"anything": 1}, {}, {"secret_fields": []}) == []
