# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: pgbackrest_stanza_system_id
short_description: The system identifier of the PostgreSQL cluster a pgBackRest stanza backs up
version_added: 0.1.0
author: selfhosted.prefect developers
description:
  - Reads C(pgbackrest info --output=json) and returns the system identifier of the cluster the stanza backs up now
    (its newest database entry), as text, or V(None) when the repository has no such stanza or did not answer.
  - A database host whose cluster has another identifier (C(pg_control_system())) is not the stanza's, for example
    a rebuilt host; the repository refuses its WAL until the stanza's cluster is restored there.
options:
  _input:
    description: The answer of C(pgbackrest info --output=json), parsed.
    type: list
    elements: dict
    required: true
  stanza:
    description: The stanza.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Compare this cluster with the repository's
  ansible.builtin.assert:
    that: (info.stdout | from_json | selfhosted.prefect.pgbackrest_stanza_system_id('prefect')) in [none, local_id]
"""

RETURN = r"""
_value:
  description: The system identifier, as text; V(None) when there is none.
  type: str
  sample: "7445263114529345540"
"""

from ansible_collections.selfhosted.prefect.plugins.plugin_utils.pgbackrest import stanza_system_id


class FilterModule:
    def filters(self):
        return {"pgbackrest_stanza_system_id": stanza_system_id}
