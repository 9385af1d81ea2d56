"""The fixtures every scenario shares (molecule/shared/tests/molecule_fixtures.py)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "tests"))

from molecule_fixtures import inventory, inventory_vars, run_playbook  # noqa: E402

# Fixtures are found by name in a conftest: re-exported, not unused.
__all__ = ["inventory", "inventory_vars", "run_playbook"]
