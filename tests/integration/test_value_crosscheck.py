# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' value checks agree with the pinned Prefect release: a
duration is read as pydantic reads it, to the same length, and a value at
or past a bound Prefect sets is refused exactly when Prefect refuses it
(Prefect then loads no setting at all)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ansible_collections.selfhosted.prefect.plugins.module_utils import profiles_toml as pt
from ansible_collections.selfhosted.prefect.plugins.module_utils.settings_catalog import BOUNDS, SETTINGS

PREFECT_BIN = os.environ.get("PREFECT_BIN")

pytestmark = pytest.mark.skipif(
    not PREFECT_BIN, reason="PREFECT_BIN is not set (source scripts/lib/host.sh and run ensure_prefect_venv)")

CANDIDATES = [
    # ISO 8601
    "P3D", "PT12H", "P1DT12H", "P3DT1H30M", "PT90M", "PT0.5S", "P1.5D", "P1W", "P1Y", "P1M", "P0D", "P1DT",
    "-P1D", "+P1D", "P", "PT", "p3d", "P3d", "PT1h", "P1D1H", "PT1H ",
    # days and a clock
    "3d", "3D", "3days", "3 d", "3day", "1 day", "3 days", "3 Days", "3 DAYS", "3d ", "-1d", "1.5d", "3  days",
    "3 days, 0:00:00", "3 days, 00:00:00", "3 days,0:00:00", "3 days 0:00:00", "1d12:00:00", "1d, 12:00",
    "1d,1:00", "1d, 100:00:00", "1d,1:00:00 ", "1dAy", "3d\n", "3d\t", " 3d",
    "72:00:00", "100:00:00", "12:00", "01:02:03.5", "1:00", "1:2:3", "10:5:00", "10:60:00", "10:00:60",
    "0:30:00", "1:00:00", "9:00:00.5", "1:23:45.678", "5:5", "123:45",  # str(timedelta) writes one-digit hours
    "P1.5DT1H", "PT1.5H30M", "P1DT1.5H", "P1.5DT", "P1,5D", "\u0661d",  # a fraction only last; ASCII digits only
    # what people write and Prefect refuses
    "259200", "0", "1e3", "3h", "2 weeks", "",
    # at pydantic's limits: a timedelta's range, a 32-bit ISO number, 2,400,000,000 clock hours
    "P999999999D", "P1000000000D", "P999999999DT23H59M59S", "P999999999DT24H", "-P999999999D",
    "-P999999999DT1S", "P2739726Y", "P2739727Y", "999999999 days, 23:59:59", "1000000000 days, 0:00:00",
    "-999999999d", "-999999999 days, 0:00:01", "PT4294967295S", "PT4294967296S", "PT4294967295.5S",
    "PT4294967296.0S", "P00000000004294967295D", "P4294967296D", "PT4294967296H",
    "2400000000:00:00", "2400000001:00:00", "99999999999:00",
]
# text -> its length in seconds as pydantic reads it, or None when it refuses it.
PYDANTIC_SECONDS = """
import json, sys
from datetime import timedelta
from pydantic import TypeAdapter, ValidationError
adapter = TypeAdapter(timedelta)
seconds = {}
for text in json.load(sys.stdin):
    try:
        seconds[text] = adapter.validate_python(text).total_seconds()
    except (ValidationError, OverflowError):  # OverflowError: past timedelta.min
        seconds[text] = None
print(json.dumps(seconds))
"""
# [name, text] -> whether Prefect loads its settings with that value set.
PREFECT_LOADS = """
import json, os, sys
from prefect.settings.models.root import Settings
verdicts = []
for name, text in json.load(sys.stdin):
    os.environ[name] = text
    try:
        Settings()
        verdicts.append(True)
    except Exception:
        verdicts.append(False)
    del os.environ[name]
print(json.dumps(verdicts))
"""


def in_prefects_python(program, data):
    python = pathlib.Path(PREFECT_BIN).with_name("python")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    proc = subprocess.run([str(python), "-c", program], input=json.dumps(data), env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_duration_check_reads_what_prefects_pydantic_reads():
    pydantic = in_prefects_python(PYDANTIC_SECONDS, CANDIDATES)
    ours = {text: pt.duration_seconds(text) for text in CANDIDATES}
    assert ours == pydantic
    # Both sides of the line are exercised.
    assert None in pydantic.values() and set(pydantic.values()) != {None}


def _around(name, kind, limit):
    """Values of name just inside and at or just past a bound, as a profile holds them."""
    step = 1 if SETTINGS[name] == "int" else 0.5
    outside = {"gt": limit, "ge": limit - step, "lt": limit, "le": limit + step}[kind]
    inside = {"gt": limit + step, "ge": limit, "lt": limit - step, "le": limit}[kind]
    as_text = (lambda n: "PT%gS" % n) if SETTINGS[name] == "duration" else (lambda n: "%g" % n)
    return [as_text(inside), as_text(outside)]


def test_bounds_refuse_what_prefect_refuses():
    cases = [(name, text) for name, bounds in sorted(BOUNDS.items()) for kind, limit in bounds.items()
             for text in _around(name, kind, limit)]
    cases.append(("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "PT1H"))  # gt 1 hour, in ISO
    cases.append(("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", "1:00:01"))
    prefect = in_prefects_python(PREFECT_LOADS, cases)
    ours = []
    for name, text in cases:
        try:
            pt.profile_value(name, text)
            ours.append(True)
        except pt.ProfilesError:
            ours.append(False)
    assert dict(zip(map(tuple, cases), ours)) == dict(zip(map(tuple, cases), prefect))
    assert True in prefect and False in prefect


VACUUM_CANDIDATES = [
    "events", "events,flow_runs", "flow_runs, events", " orphans ,events,", "events,,", "true", "TRUE", "1",
    "false", "0", "", " ", "yes", "on", "Events", "flow_run", "events,flow_run", "events;flow_runs", "none",
]
# text -> [what Prefect reads (a bool or a sorted list), whether its vacuum service accepts it].
PREFECT_VACUUM_READS = """
import json, os, sys
from prefect.settings.models.root import Settings
reads = {}
for text in json.load(sys.stdin):
    os.environ["PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"] = text
    vacuum = Settings().server.services.db_vacuum
    read = vacuum.enabled if isinstance(vacuum.enabled, bool) else sorted(vacuum.enabled)
    try:
        vacuum.enabled_vacuum_types
        reads[text] = [read, True]
    except ValueError:
        reads[text] = [read, False]
print(json.dumps(reads))
"""


def test_vacuum_types_read_and_refused_as_prefects_vacuum_does():
    prefect = in_prefects_python(PREFECT_VACUUM_READS, VACUUM_CANDIDATES)
    ours = {}
    for text in VACUUM_CANDIDATES:
        read = pt.comma_set(text)
        try:
            pt.profile_value("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", text)
            accepted = True
        except pt.ProfilesError:
            accepted = False
        ours[text] = [read if isinstance(read, bool) else sorted(read), accepted]
    assert ours == prefect
    assert {accepted for read, accepted in prefect.values()} == {True, False}
