# -*- coding: utf-8 -*-
"""What tests/unit and tests/integration share.

Make this checkout importable as ansible_collections.selfhosted.prefect:
scripts/lib/host.sh (ensure_venv) links the checkout into
.cache/collections/ansible_collections/selfhosted/prefect; under ansible-test
the collection already sits in an ansible_collections tree, so this is a no-op.

run_module: drive a module's main() in-process and capture the result it
would print. The hook is AnsibleModule._record_module_result, which receives
the result after no_log masking, so the tests see exactly what Ansible would
receive.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings

from ansible.module_utils import _internal, basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_COLLECTIONS = os.path.join(_ROOT, ".cache", "collections")
_LINK = os.path.join(_COLLECTIONS, "ansible_collections", "selfhosted", "prefect")

# Examples are checked, never timed: these tests share two cores with the
# Molecule scenarios (scripts/test runs the stages side by side), and speed is
# measured in benchmarks/, not here.
hypothesis_settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("suite")

if os.path.isdir(_LINK) and _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)


class ModuleResult(Exception):
    def __init__(self, result, warnings):
        super().__init__(result)
        self.result = result
        self.warnings = warnings


def _capture(self, result):
    raise ModuleResult(dict(result), list(ansible_warnings.get_warning_messages()))


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args, check=False, diff=False) -> (result, warnings)."""
    monkeypatch.setattr(basic.AnsibleModule, "_record_module_result", _capture)
    # Once anything imported Ansible's controller code (other test files do),
    # module warnings go to the controller's display instead of the result.
    monkeypatch.setattr(_internal, "is_controller", False)

    def run(module, args, check=False, diff=False):
        ansible_warnings._global_warnings.clear()
        ansible_warnings._global_deprecations.clear()
        args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        with patch_module_args(args):
            with pytest.raises(ModuleResult) as caught:
                module.main()
        return caught.value.result, caught.value.warnings

    return run


@pytest.fixture(scope="session")
def prefect_exporter():
    """roles/prefect_monitoring/files/prefect_exporter.py as a module: a
    script systemd runs, not a package."""
    path = os.path.join(_ROOT, "roles", "prefect_monitoring", "files", "prefect_exporter.py")
    spec = importlib.util.spec_from_file_location("prefect_exporter", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
