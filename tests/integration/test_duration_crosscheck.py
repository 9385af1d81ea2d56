# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' duration check agrees with the pydantic of the pinned Prefect
release: what it accepts Prefect reads from a profile, what it refuses
Prefect refuses too (and then loads no setting at all)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import is_duration

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
]
PYDANTIC_VERDICTS = """
import json, sys
from datetime import timedelta
from pydantic import TypeAdapter, ValidationError
adapter = TypeAdapter(timedelta)
verdicts = {}
for text in json.load(sys.stdin):
    try:
        adapter.validate_python(text)
        verdicts[text] = True
    except ValidationError:
        verdicts[text] = False
print(json.dumps(verdicts))
"""


def test_duration_check_agrees_with_prefects_pydantic():
    python = pathlib.Path(PREFECT_BIN).with_name("python")
    proc = subprocess.run([str(python), "-c", PYDANTIC_VERDICTS], input=json.dumps(CANDIDATES),
                          capture_output=True, text=True, check=True)
    pydantic = json.loads(proc.stdout)
    ours = {text: is_duration(text) for text in CANDIDATES}
    assert ours == pydantic
    # Both sides of the line are exercised.
    assert any(pydantic.values()) and not all(pydantic.values())
