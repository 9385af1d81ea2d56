# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's Prometheus alert rules with a site's overrides of how
long an alert waits (`for`) and its labels (severity, team)."""
from __future__ import annotations

import re

import yaml
from ansible.errors import AnsibleFilterError

# Prometheus' duration: units from milliseconds to years, largest first.
DURATION = re.compile(r"^(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
OVERRIDABLE = ("for", "labels")


def _check(name, override):
    what = f"the override of {name}"
    if not isinstance(override, dict) or not override or set(override) - set(OVERRIDABLE):
        raise AnsibleFilterError(f"{what}: a mapping of {' and/or '.join(OVERRIDABLE)}")
    if "for" in override:
        duration = str(override["for"])
        if not duration or not DURATION.match(duration):
            raise AnsibleFilterError(f"{what}: for {duration!r} is not a Prometheus duration (30s, 2m, 1h30m)")
    labels = override.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(key, str) and LABEL_NAME.match(key) for key in labels):
        raise AnsibleFilterError(f"{what}: labels must map label names (letters, digits, _) to values")
    if any(key.startswith("__") for key in labels) or "alertname" in labels:
        raise AnsibleFilterError(f"{what}: labels cannot set alertname or names starting with __")


def alert_rules(text, overrides):
    """text: a Prometheus rules file; overrides: {alert: {for, labels}}.
    Returns the file with each named alert's `for` replaced and its labels
    updated; fails on an alert the file does not have."""
    document = yaml.safe_load(text)
    alerts = {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(alerts))
    if unknown:
        raise AnsibleFilterError(f"no such alert in the rules: {', '.join(map(str, unknown))}")
    for name, override in overrides.items():
        _check(name, override)
        rule = alerts[name]
        if "for" in override:
            rule["for"] = str(override["for"])
        if override.get("labels"):
            rule["labels"] = {**rule.get("labels", {}), **{key: str(value) for key, value in override["labels"].items()}}
    # ASCII only: YAML escapes every other character, so none (NEL, LS) can
    # be read back as a line break.
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=False, width=1000)
