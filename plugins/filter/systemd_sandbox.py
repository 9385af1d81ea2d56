# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_sandbox
short_description: The systemd sandbox of the collection's Prefect units
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - The C([Service]) directives that confine a Prefect server, migration, services or worker unit, one per line,
    from the few ways in which those units differ. Every unit of the collection takes its sandbox from here.
options:
  _input:
    description: Paths the unit may write (C(ReadWritePaths)).
    type: list
    elements: str
    required: true
  read_only_paths:
    description: Paths it may only read (C(ReadOnlyPaths)), inside its writable paths.
    type: list
    elements: str
    default: []
  netlink:
    description: Allow C(AF_NETLINK) sockets (interface queries of libraries that flows use).
    type: bool
    default: false
  jit:
    description: Allow writable and executable memory (C(MemoryDenyWriteExecute) off), for JIT compilers in flows.
    type: bool
    default: false
  proc:
    description: See all of C(/proc) (C(ProcSubset) off), for libraries that read system figures (psutil).
    type: bool
    default: false
  resources:
    description: Allow the C(@resources) system calls (setting priorities and limits).
    type: bool
    default: false
  capabilities:
    description: Capabilities the unit keeps (C(CapabilityBoundingSet)); none by default.
    type: list
    elements: str
    default: []
  shared_user:
    description:
      - The unit runs as a user a long-running daemon runs as too (C(postgres) for the backup unit). C(RemoveIPC)
        is left out then, since it would remove that daemon's shared memory when the unit stops.
    type: bool
    default: false
"""

EXAMPLES = r"""
# In a unit template:
#   {{ ['/var/lib/prefect/%i'] | selfhosted.prefect.systemd_sandbox }}
"""

RETURN = r"""
_value:
  description: The directives, one per line, without a trailing newline.
  type: str
"""


def systemd_sandbox(read_write_paths, read_only_paths=(), netlink=False, jit=False, proc=False, resources=False,
                    shared_user=False, capabilities=()):
    """The sandbox directives of a unit."""
    lines = [
        "ProtectSystem=strict",
        "ReadWritePaths=" + " ".join(read_write_paths),
    ]
    if read_only_paths:
        lines.append("ReadOnlyPaths=" + " ".join(read_only_paths))
    lines += [
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "DevicePolicy=closed",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=" + " ".join(capabilities),
        "AmbientCapabilities=",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
    ]
    if not proc:
        lines.append("ProcSubset=pid")
    lines += [
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" + (" AF_NETLINK" if netlink else ""),
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
    ]
    if not jit:
        lines.append("MemoryDenyWriteExecute=yes")
    if not shared_user:
        lines.append("RemoveIPC=yes")
    lines += [
        "KeyringMode=private",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged" + ("" if resources else " @resources"),
        "SystemCallErrorNumber=EPERM",
    ]
    return "\n".join(lines)


class FilterModule:
    def filters(self):
        return {"systemd_sandbox": systemd_sandbox}
