# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How the modules for server-side objects reach the Prefect REST API.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - The Prefect API, as clients set E(PREFECT_API_URL), for example C(http://prefect1:4200/api).
      - Defaults to E(PREFECT_API_URL) in the module's environment.
      - An address with a password in it (C(https://user:password@host/api)) is refused; give the
        credentials as O(auth_string), which Ansible keeps out of its output.
      - The modules follow no redirect, so that the credentials go only to this address; a redirect
        fails with a message naming where it leads.
    type: str
    required: true
  auth_string:
    description:
      - The C(user:password) of the server's basic auth (E(PREFECT_SERVER_API_AUTH_STRING)),
        sent as an C(Authorization) header.
      - Defaults to E(PREFECT_API_AUTH_STRING) in the module's environment.
    type: str
  ca_path:
    description:
      - PEM file of the CA that signed the API's certificate, for a server behind a TLS proxy
        with a private CA.
      - Defaults to E(PREFECT_API_SSL_CERT_FILE) in the module's environment.
    type: path
  validate_certs:
    description:
      - V(false) skips the check of the API's certificate. Only for tests.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer of the API, 1 to 3600.
    type: int
    default: 30
  max_retries:
    description:
      - How many times to send a request again after an answer that says to try later, as Prefect's
        own client does. These are HTTP 503, which Prefect sends when a transaction failed on a busy
        SQLite file or a lost PostgreSQL connection (a failover), and HTTP 408, 429 and 502 from proxies.
      - A create or a delete is sent again only after 429 or 503, since a proxy's 408 or 502 may come
        after the server did the work.
      - The waits are about 2, 4, 8, 16 and 32 seconds, or what the server's C(Retry-After) asks
        for, never more than 60 seconds each.
      - A dropped connection is retried on the same waits when sending again is safe. A refused
        connection, a reset or a timeout before the request went out is, once the server has
        answered the task before (it is restarting). After the request went out, a reset, a
        timeout or a cut answer is retried for reads and updates, not for a create or a delete,
        which the server may have done.
      - A failure to connect before the server ever answered, a name that does not resolve, a
        TLS error or a port that does not speak HTTP fails at once.
      - Defaults to E(PREFECT_CLIENT_MAX_RETRIES) in the module's environment. V(0) sends each request once;
        at most V(100).
    type: int
    default: 5
requirements:
  - None on the managed host beyond Python; requests go through Ansible's own HTTP client.
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  action_group:
    support: full
    membership:
      - selfhosted.prefect.api
    description: Use C(group/selfhosted.prefect.api) in C(module_defaults) to set the connection options once.
notes:
  - The module talks to the API from the managed host; delegate it to a host that can reach the
    API. Run it once per object (C(run_once)), or one host at a time (C(throttle=1)) when the hosts
    may declare different objects, so that two hosts never race to create the same one.
"""
