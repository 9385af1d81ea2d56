# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every secret an Alertmanager configuration holds inline is found, where
it is, however deep; a setting that names a file, an empty one, or any
other setting is not."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.selfhosted.prefect.plugins.filter.alertmanager_inline_secrets import FilterModule
from ansible_collections.selfhosted.prefect.plugins.plugin_utils.alertmanager import SECRET_KEYS, inline_secrets


def test_the_filter_exposes_it():
    assert FilterModule().filters()["alertmanager_inline_secrets"] is inline_secrets


def test_inline_secrets_are_found_where_they_are():
    config = {
        "global": {"smtp_smarthost": "mail:587", "smtp_auth_password": "x", "slack_api_url_file": "/f"},
        "receivers": [
            {"name": "ops", "email_configs": [{"to": "ops@example.com", "auth_password": "y"}]},
            {"name": "pager", "pagerduty_configs": [{"routing_key_file": "/f", "http_config": {
                "authorization": {"credentials": "z"}}}]},
            {"name": "hook", "webhook_configs": [{"url": "https://hooks.example.com/alert"}]},
        ],
    }
    assert inline_secrets(config) == [
        "global.smtp_auth_password",
        "receivers[0].email_configs[0].auth_password",
        "receivers[1].pagerduty_configs[0].http_config.authorization.credentials",
    ]


def test_files_empty_values_and_the_shipped_default_hold_none():
    assert inline_secrets({"receivers": [{"name": "default"}], "global": {}}) == []
    assert inline_secrets({"auth_password_file": "/etc/secret", "api_key": "", "token": None}) == []


SAFE_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda key: key not in SECRET_KEYS)
SAFE = st.recursive(st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none()),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_KEYS, inner, max_size=3),
                    max_leaves=12)


@given(SAFE)
def test_a_configuration_without_secret_settings_holds_none(config):
    assert inline_secrets(config) == []


@given(st.lists(SAFE_KEYS, min_size=1, max_size=4), st.sampled_from(sorted(SECRET_KEYS)),
       st.text(min_size=1, max_size=20))
def test_a_secret_setting_at_any_depth_is_found_by_its_path(keys, secret, value):
    config = {secret: value}
    for key in reversed(keys):
        config = {key: [config]}
    assert inline_secrets(config) == [".".join(f"{key}[0]" for key in keys) + "." + secret]
