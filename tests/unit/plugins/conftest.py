# -*- coding: utf-8 -*-
"""Fixtures of the module unit tests: a module run as another user, file
snapshots, a sample profiles.toml. run_module itself, which the integration
tests use too, is in tests/conftest.py.
"""
from __future__ import annotations

import pytest


@pytest.fixture
def run_module_as(run_module):
    """run_module_as(uid, module, args, ...) -> (result, warnings): the same as
    run_module, but in a forked child that dropped to uid first, so permission
    errors are real even when the tests run as root."""
    import json
    import os

    def run(uid, module, args, **kwargs):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                payload = run_module(module, args, **kwargs)
                data = json.dumps({"result": payload[0], "warnings": payload[1]}, default=str)
            except BaseException as exc:  # report anything to the parent
                data = json.dumps({"error": repr(exc)})
                code = 1
            with os.fdopen(write_end, "w") as handle:
                handle.write(data)
            os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end) as handle:
            data = json.loads(handle.read())
        os.waitpid(pid, 0)
        assert "error" not in data, data
        return data["result"], data["warnings"]

    return run


class Snapshot:
    """Bytes, mode and mtime of a file, to prove an operation left it alone."""

    def __init__(self, path):
        import os
        self.path = path
        with open(path, "rb") as handle:
            self.data = handle.read()
        stat = os.stat(path)
        self.mtime = stat.st_mtime_ns
        self.inode = stat.st_ino
        self.mode = stat.st_mode

    def unchanged(self):
        return Snapshot(self.path).__dict__ == self.__dict__


@pytest.fixture
def snapshot():
    return Snapshot


@pytest.fixture
def profiles(request, tmp_path):
    """A profiles.toml holding the test module's SAMPLE."""
    path = tmp_path / "profiles.toml"
    path.write_text(request.module.SAMPLE)
    return path
