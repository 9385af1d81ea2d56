# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: pgbackrest_restore_plan
short_description: What a point-in-time restore reaches, from pgBackRest's list of backups
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Reads C(pgbackrest info --output=json) and a restore target, and returns the stanza's backups, the earliest
    time a restore reaches, the options of C(pgbackrest restore) for the target, and why the target is out of
    reach (empty when it is not).
  - A target is C(latest) (every archived change), C(name:<restore point>) (a point made with
    C(pg_create_restore_point)), or an ISO 8601 time with its offset, which becomes UTC. A time without an offset,
    a time in the future, or a stanza that cannot restore fails the filter with pgBackRest's or the reason's words.
options:
  _input:
    description: The answer of C(pgbackrest info --output=json), parsed.
    type: list
    elements: dict
    required: true
  stanza:
    description: The stanza to restore.
    type: str
    required: true
  target:
    description: The restore target.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Plan the restore to 16:00 Berlin time
  ansible.builtin.set_fact:
    plan: "{{ info.stdout | from_json | selfhosted.prefect.pgbackrest_restore_plan('prefect', '2026-12-04T16:00:00+01:00') }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    target:
      description: The target as given, without surrounding blanks.
      type: str
    options:
      description: The options of C(pgbackrest restore) that stop at the target.
      type: list
      elements: str
      sample: ["--type=time", "--target=2026-12-04 15:00:00.000000+00", "--target-action=promote"]
    backups:
      description: The backups, oldest first, each with its label, type, start and stop (UTC).
      type: list
      elements: dict
    earliest:
      description: The earliest time a restore reaches, the end of the oldest backup (UTC).
      type: str
    unreachable:
      description: Why the target is out of reach; empty when a restore can reach it.
      type: str
    patroni_bootstrap:
      description:
        - Patroni's custom bootstrap method that makes a Patroni cluster anew from the stanza, reaching the target
          (C(method), and the method's C(command), C(no_params) and C(keep_existing_recovery_conf)), for the
          C(bootstrap) section of Patroni's settings.
      type: dict
      sample:
        method: pgbackrest
        pgbackrest:
          command: pgbackrest --stanza=prefect --type=default restore
          no_params: true
          keep_existing_recovery_conf: true
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.pgbackrest import restore_plan


class FilterModule:
    def filters(self):
        return {"pgbackrest_restore_plan": restore_plan}
