# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an Alertmanager configuration holds a secret inline instead of
naming a file: the monitoring role refuses such a configuration, which its
diff and every converge's output would show."""
from __future__ import annotations

# Alertmanager's secret settings that have a *_file twin
# (https://prometheus.io/docs/alerting/latest/configuration/).
SECRET_KEYS = frozenset({
    "auth_password", "auth_secret", "api_key", "api_secret", "api_url", "bot_token", "bearer_token", "credentials",
    "password", "routing_key", "service_key", "token", "user_key", "webhook_url",
    "smtp_auth_password", "smtp_auth_secret", "slack_api_url", "opsgenie_api_key", "victorops_api_key",
    "wechat_api_secret", "telegram_bot_token", "webex_api_url",
})


def inline_secrets(config, path=""):
    """The paths (receivers[0].email_configs[0].auth_password) of every
    secret setting given inline, in order."""
    found = []
    if isinstance(config, dict):
        for key, value in config.items():
            where = f"{path}.{key}" if path else str(key)
            if key in SECRET_KEYS and value not in (None, ""):
                found.append(where)
            else:
                found += inline_secrets(value, where)
    elif isinstance(config, list):
        for index, value in enumerate(config):
            found += inline_secrets(value, f"{path}[{index}]")
    return found
