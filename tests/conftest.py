# -*- coding: utf-8 -*-
"""Make this checkout importable as ansible_collections.selfhosted.prefect.

scripts/lib/host.sh (ensure_venv) links the checkout into
.cache/collections/ansible_collections/selfhosted/prefect; under ansible-test
the collection already sits in an ansible_collections tree, so this is a no-op.
"""
from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_COLLECTIONS = os.path.join(_ROOT, ".cache", "collections")
_LINK = os.path.join(_COLLECTIONS, "ansible_collections", "selfhosted", "prefect")

if os.path.isdir(_LINK) and _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
