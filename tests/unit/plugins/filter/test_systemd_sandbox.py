# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one sandbox of the collection's units (plugins/filter/systemd_sandbox.py):
the server's strict form, the worker's looser one, and what each knob does."""
from __future__ import annotations

from ansible_collections.selfhosted.prefect.plugins.filter.systemd_sandbox import FilterModule, systemd_sandbox


def directives(text):
    return text.split("\n")


def test_the_filter_is_exposed():
    assert FilterModule().filters()["systemd_sandbox"] is systemd_sandbox


def test_the_server_sandbox():
    lines = directives(systemd_sandbox(["/var/lib/prefect/%i"]))
    assert lines[:2] == ["ProtectSystem=strict", "ReadWritePaths=/var/lib/prefect/%i"]
    assert "ProcSubset=pid" in lines and "MemoryDenyWriteExecute=yes" in lines
    assert "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" in lines
    assert "SystemCallFilter=~@privileged @resources" in lines
    assert not any(line.startswith("ReadOnlyPaths=") for line in lines)
    assert lines[-1] == "SystemCallErrorNumber=EPERM"
    assert {"NoNewPrivileges=yes", "CapabilityBoundingSet=", "PrivateDevices=yes", "ProtectHome=yes"} <= set(lines)


def test_the_worker_sandbox():
    lines = directives(systemd_sandbox(["/var/lib/prefect-worker", "/srv/data"],
                                       read_only_paths=["/var/lib/prefect-worker/code"],
                                       netlink=True, jit=True, proc=True, resources=True))
    assert "ReadWritePaths=/var/lib/prefect-worker /srv/data" in lines
    assert lines[lines.index("ReadWritePaths=/var/lib/prefect-worker /srv/data") + 1] == (
        "ReadOnlyPaths=/var/lib/prefect-worker/code")
    assert "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK" in lines
    assert "SystemCallFilter=~@privileged" in lines
    assert not any(line.startswith(("ProcSubset", "MemoryDenyWriteExecute")) for line in lines)


def test_a_unit_of_a_daemons_user_leaves_its_ipc_alone():
    """RemoveIPC on a unit run as postgres removed PostgreSQL's shared memory
    when the unit stopped: every later connection failed."""
    assert "RemoveIPC=yes" in directives(systemd_sandbox(["/a"]))
    lines = directives(systemd_sandbox(["/var/backups/prefect-db"], shared_user=True))
    assert not any(line.startswith("RemoveIPC") for line in lines)
    assert "ProtectSystem=strict" in lines and "CapabilityBoundingSet=" in lines


def test_each_directive_once():
    for knobs in ({}, {"netlink": True, "jit": True, "proc": True, "resources": True}):
        lines = directives(systemd_sandbox(["/a"], read_only_paths=["/a/b"], **knobs))
        assert len(lines) == len(set(lines))
        assert all("=" in line for line in lines)


def test_a_unit_that_loads_the_host_firewall_keeps_only_net_admin():
    lines = directives(systemd_sandbox([], netlink=True, capabilities=["CAP_NET_ADMIN"]))
    assert "CapabilityBoundingSet=CAP_NET_ADMIN" in lines and "AmbientCapabilities=" in lines
    assert "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK" in lines
