# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The committed settings catalogue is what the generator makes from the
Prefect and prefect-redis releases the shipped constraints pin."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess

import pytest

PREFECT_BIN = os.environ.get("PREFECT_BIN")
REPO = pathlib.Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "plugins" / "module_utils" / "settings_catalog.py"

pytestmark = pytest.mark.skipif(
    not PREFECT_BIN, reason="PREFECT_BIN is not set (source scripts/lib/host.sh and run ensure_prefect_venv)")


def test_catalogue_is_generated_from_the_pinned_releases(tmp_path):
    python = pathlib.Path(PREFECT_BIN).with_name("python")
    fresh = tmp_path / "settings_catalog.py"
    subprocess.run([str(python), str(REPO / "tools" / "generate_settings_catalog.py"), str(fresh)],
                   check=True, capture_output=True)
    assert fresh.read_text() == CATALOGUE.read_text()
    pins = (REPO / "roles" / "prefect_venv" / "files" / "constraints" / "prefect-3.8.8.txt").read_text()
    redis_pin = re.search(r"^prefect-redis==(\S+)$", pins, re.M).group(1)
    assert f"'prefect-redis': '{redis_pin}'" in fresh.read_text()
