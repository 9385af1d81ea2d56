# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the role prefect_postgresql sends Patroni: the part of the cluster's
dynamic configuration that differs from the wanted one, as the JSON merge
patch PATCH /config takes. Exposed by the filter patroni_config_patch
(tests/unit/plugins/plugin_utils/test_patroni.py).
"""
from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


def _same(current, wanted):
    """Patroni keeps what it was sent, so "on", True and 1 may stand for the
    same setting, and 10 for "10"."""
    if type(current) is type(wanted) and current == wanted:
        return True
    if isinstance(wanted, bool) or isinstance(current, bool):
        def as_bool(value):
            text = str(value).strip().lower()
            return True if text in _TRUE else False if text in _FALSE else text
        return as_bool(current) == as_bool(wanted)
    if current is None or wanted is None:
        return current is wanted
    try:
        return float(current) == float(wanted)
    except (TypeError, ValueError):
        return str(current).strip() == str(wanted).strip()


def patroni_config_patch(current, wanted):
    """The settings of `wanted` that `current` (GET /config) lacks or holds
    with another value, nested mappings compared key by key. Settings only
    in `current` are left alone: a patch names what it changes."""
    if not isinstance(wanted, Mapping):
        raise AnsibleFilterError(f"patroni_config_patch: the wanted settings must be a mapping, not {type(wanted).__name__}")
    if current is None:
        current = {}
    if not isinstance(current, Mapping):
        raise AnsibleFilterError(f"patroni_config_patch: Patroni's settings must be a mapping, not {type(current).__name__}")
    patch = {}
    for key, value in wanted.items():
        have = current.get(key)
        if isinstance(value, Mapping):
            inner = patroni_config_patch(have if isinstance(have, Mapping) else {}, value)
            if inner:
                patch[key] = inner
        elif key not in current or not _same(have, value):
            patch[key] = value
    return patch
