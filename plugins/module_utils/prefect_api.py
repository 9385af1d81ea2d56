# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client of the Prefect REST API for the modules that manage
server-side objects (work pools, variables, automations).

It uses Ansible's open_url, so managed hosts need no HTTP library. Every
failure becomes a PrefectApiError whose message says what to fix and never
carries the request body (it may hold values the user considers secret) nor
the credentials.
"""
from __future__ import annotations

import base64
import datetime
import email.utils
import json
import math
import random
import socket
import time
import uuid
from http.client import HTTPException, IncompleteRead, InvalidURL

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlsplit, urlunsplit
from ansible.module_utils.urls import open_url


API_ARGUMENT_SPEC = dict(
    api_url=dict(type="str", required=True, fallback=(env_fallback, ["PREFECT_API_URL"])),
    auth_string=dict(type="str", no_log=True, fallback=(env_fallback, ["PREFECT_API_AUTH_STRING"])),
    ca_path=dict(type="path", fallback=(env_fallback, ["PREFECT_API_SSL_CERT_FILE"])),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
    max_retries=dict(type="int", default=5, fallback=(env_fallback, ["PREFECT_CLIENT_MAX_RETRIES"])),
)

# The answers Prefect's own client retries: the server sends 503 when a
# transaction failed on a busy SQLite file or a lost PostgreSQL connection
# (a failover) and was rolled back; proxies send 408, 429 and 502.
RETRY_STATUSES = (408, 429, 502, 503)
# A proxy's 408 or 502 may come after the server did the work, so a create
# or a delete, which must not run twice, is sent again only after the
# answers that say it was not done.
RETRY_STATUSES_OF_ONCE_ONLY = {"POST": (429, 503), "DELETE": (429, 503)}
ONCE_ONLY_METHODS = tuple(RETRY_STATUSES_OF_ONCE_ONLY)
# Connection failures Prefect's client retries too (a server restarting, a
# proxy or load balancer dropping idle connections). socket.timeout is
# TimeoutError only from Python 3.10 on; http.client's RemoteDisconnected is
# a ConnectionResetError.
DROPPED_CONNECTION = (socket.timeout, TimeoutError, ConnectionResetError, ConnectionAbortedError,
                      BrokenPipeError, ConnectionRefusedError)
LONGEST_WAIT = 60  # seconds; a far Retry-After must not hold a play for hours
LONGEST_TIMEOUT = 3600  # seconds per request
MOST_RETRIES = 100
# Far above any object the modules manage (a work pool's job template is a
# few KiB); a larger body made the server drop the connection.
LARGEST_BODY = 1024 * 1024
# PostgreSQL's integer, the column of Prefect's counts and limits.
LARGEST_INTEGER = 2 ** 31 - 1


class PrefectApiError(Exception):
    """A request failed; str() is the message for the user."""

    def __init__(self, message, status=None, csrf=False, transport=None):
        super().__init__(message)
        self.status = status
        self.csrf = csrf  # a 403 of the server's CSRF protection
        self.retry_after = None  # seconds, from a Retry-After header
        # Where a connection dropped, None for an HTTP answer or a failure
        # that sending again will not mend: "unsent" (while connecting or
        # sending: the server has no whole request) or "unanswered" (the
        # request went out, no whole answer came)
        self.transport = transport


def shown_url(url):
    """url without the password a user:password@ part may carry."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="********@" + parts.netloc.rpartition("@")[2]))


def api_module(argument_spec, names=("name",), **kwargs):
    """An AnsibleModule of an API module: the connection options merged with
    the module's own, and checked with its names (the options in names), so
    a bad value gets a message, never a traceback later."""
    module = AnsibleModule(argument_spec=dict(API_ARGUMENT_SPEC, **argument_spec), supports_check_mode=True, **kwargs)
    try:
        check_api_params(module, names)
    except PrefectApiError as exc:
        module.fail_json(msg=str(exc))
    return module


def check_api_params(module, names):
    params = module.params
    url = params["api_url"]
    password = url.partition("://")[2].partition("/")[0].rpartition("@")[0].partition(":")[2]
    if password:
        # Masked in the invocation Ansible prints at -vvv, then refused.
        module.no_log_values.add(password)
    try:
        parts = urlsplit(url)
        parts.port  # raises on a port that is no number
    except ValueError as exc:
        raise PrefectApiError("api_url %r is no URL: %s" % (shown_url_text(url), to_text(exc)))
    if password:
        raise PrefectApiError("api_url carries a password (user:password@host): give the credentials as "
                              "auth_string (or PREFECT_API_AUTH_STRING), which Ansible keeps out of its output.")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrefectApiError("api_url must be the http:// or https:// address of the Prefect API, such as "
                              "https://prefect.example.com/api (PREFECT_API_URL), not %r." % shown_url_text(url))
    if not 0 < params["timeout"] <= LONGEST_TIMEOUT:
        raise PrefectApiError("timeout must be 1 to %d seconds, not %d." % (LONGEST_TIMEOUT, params["timeout"]))
    if not 0 <= params["max_retries"] <= MOST_RETRIES:
        raise PrefectApiError("max_retries must be 0 to %d, not %d." % (MOST_RETRIES, params["max_retries"]))
    for name in names:
        if not (params.get(name) or "").strip():
            raise PrefectApiError("%s must not be empty." % name)
    _check_unicode(params, "")


def _check_unicode(value, where):
    """Lone surrogates cannot be sent as JSON text; say which option holds one."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key, where)
            _check_unicode(item, "%s.%s" % (where, key) if where else key)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_unicode(item, "%s[%d]" % (where, index))
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PrefectApiError("%s holds %r at position %d, which is no Unicode character (a lone surrogate)."
                                  % (where or "a key", value[exc.start], exc.start))


def shown_url_text(url):
    """shown_url for text that may not even parse as a URL."""
    try:
        return shown_url(url)
    except ValueError:
        return url.rpartition("@")[2] if "@" in url else url


def path_segment(value):
    """A name as one URL path segment: '/' and spaces encoded."""
    return quote(value, safe="")


def validation_errors(payload):
    """The server's 422 detail as 'field: message' lines, without the
    submitted values (pydantic echoes them in 'input')."""
    detail = payload.get("exception_detail") or payload.get("detail") or []
    if isinstance(detail, str):
        return detail
    if not isinstance(detail, list):
        detail = [detail]
    lines = []
    for error in detail:
        if not isinstance(error, dict):
            lines.append(to_text(error))
            continue
        location = error.get("loc") or []
        if not isinstance(location, list):
            location = [location]
        location = ".".join(to_text(part) for part in location if part != "body")
        message = to_text(error.get("msg", "invalid"))
        lines.append("%s: %s" % (location, message) if location else message)
    return "; ".join(lines) or "no details"


def _error_payload(raw):
    try:
        payload = json.loads(to_text(raw))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


MUTATING_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class PrefectApi:
    """client = PrefectApi(module.params); client.get('/work_pools/x')

    A server with CSRF protection (PREFECT_SERVER_CSRF_PROTECTION_ENABLED)
    answers a change without a token with 403; the client then fetches a
    token for itself, as Prefect's own client does, and sends the change
    again once.
    """

    def __init__(self, params, fields=("id", "name")):
        self.fields = fields  # what every object the module reads must have
        self.base = params["api_url"].rstrip("/")
        self.shown_base = shown_url(self.base)  # for messages
        self.timeout = params["timeout"]
        self.validate_certs = params["validate_certs"]
        self.ca_path = params.get("ca_path")
        self.max_retries = params["max_retries"]
        self.has_connected = False
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if params.get("auth_string"):
            token = base64.b64encode(params["auth_string"].encode("utf-8")).decode("ascii")
            self.headers["Authorization"] = "Basic " + token

    def get(self, path, missing_ok=False):
        """The object at path; None when it does not exist and missing_ok."""
        try:
            return self._object("GET", path, self.request("GET", path))
        except PrefectApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def post(self, path, body, answer=dict):
        """POST body; the answer must be an object (answer=dict) or a list (answer=list)."""
        found = self.request("POST", path, body)
        if answer is list:
            if not isinstance(found, list) or not all(
                    isinstance(item, dict) and all(field in item for field in self.fields) for item in found):
                raise PrefectApiError("POST %s%s did not answer a list of objects: is api_url the Prefect API?"
                                      % (self.shown_base, path))
            return found
        return self._object("POST", path, found)

    def patch(self, path, body):
        return self.request("PATCH", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def delete(self, path):
        return self.request("DELETE", path)

    def _object(self, method, path, found):
        """An answer that must be one Prefect object with the fields the module reads."""
        if not isinstance(found, dict) or any(field not in found for field in self.fields):
            raise PrefectApiError("%s %s%s answered %s, not a Prefect object: is api_url the Prefect API?"
                                  % (method, self.shown_base, path, _kind_of_answer(found, self.fields)))
        return found

    def request(self, method, path, body=None):
        try:
            return self._send(method, path, body)
        except PrefectApiError as exc:
            if not (exc.csrf and method in MUTATING_METHODS and "Prefect-Csrf-Token" not in self.headers):
                raise
        self._add_csrf_token()
        return self._send(method, path, body)

    def _add_csrf_token(self):
        client_id = str(uuid.uuid4())
        token = self._send("GET", "/csrf-token?client=" + client_id)
        if not isinstance(token, dict) or "token" not in token:
            raise PrefectApiError("%s/csrf-token answered no token: is api_url the Prefect API?" % self.shown_base)
        self.headers["Prefect-Csrf-Token"] = token["token"]
        self.headers["Prefect-Csrf-Client"] = client_id

    def _send(self, method, path, body=None):
        """One request, sent again after a retryable answer or a dropped
        connection up to max_retries times, as Prefect's client does."""
        retry = 0
        while True:
            try:
                return self._send_once(method, path, body)
            except PrefectApiError as exc:
                if not self._retryable(method, exc) or retry >= self.max_retries:
                    if retry:
                        exc.args = ("%s (after %d retries)" % (exc, retry),)
                    raise
                retry += 1
                time.sleep(retry_wait(retry, exc.retry_after))

    def _retryable(self, method, exc):
        if exc.transport is None:
            return exc.status in RETRY_STATUSES_OF_ONCE_ONLY.get(method, RETRY_STATUSES)
        if exc.transport == "unsent":
            # a wrong api_url fails at once; a server that answered before is restarting
            return self.has_connected
        # an unanswered create or delete may have been done
        return method not in ONCE_ONLY_METHODS

    def _send_once(self, method, path, body):
        url = self.base + path
        data = None if body is None else json.dumps(body)
        if data is not None and len(data) > LARGEST_BODY:
            raise PrefectApiError("%s %s%s would send %d bytes; the modules send at most %d (is a value far "
                                  "larger than meant?)" % (method, self.shown_base, path, len(data), LARGEST_BODY))
        try:
            # No redirects: the credentials go only where api_url says, never
            # to another host nor over a downgrade to http.
            response = open_url(
                url, data=data, method=method, headers=self.headers, timeout=self.timeout,
                validate_certs=self.validate_certs, ca_path=self.ca_path,
                follow_redirects="none", use_proxy=True,
            )
            raw = response.read()
        except HTTPError as exc:
            self.has_connected = True
            if 300 <= exc.code < 400:
                raise self._redirect_error(method, path, exc)
            raise self._http_error(method, path, exc)
        except URLError as exc:  # urllib wraps what fails before the request is sent
            raise self._unsent_error(exc.reason)
        except (IncompleteRead,) + DROPPED_CONNECTION as exc:  # sent; reading the answer failed
            raise self._unanswered_error(method, path, exc)
        except InvalidURL as exc:
            raise PrefectApiError("api_url %s is no URL: %s" % (self.shown_base, to_text(exc)))
        except HTTPException as exc:  # a server that does not speak HTTP on that port
            raise PrefectApiError("%s %s%s did not get an HTTP answer: %s (is api_url the Prefect API?)"
                                  % (method, self.shown_base, path, to_text(exc) or type(exc).__name__))
        except OSError as exc:  # a CA file that cannot be read, a TLS error outside URLError
            raise PrefectApiError("cannot reach the Prefect API at %s: %s" % (self.shown_base, to_text(exc)))
        self.has_connected = True
        if not raw:
            return None
        try:
            return json.loads(to_text(raw))
        except ValueError:
            raise PrefectApiError(
                "%s %s did not answer JSON: is %s the Prefect API root (ending in /api)?"
                % (method, path, self.shown_base))

    def _redirect_error(self, method, path, exc):
        location = exc.headers.get("Location") if exc.headers else None
        return PrefectApiError(
            "%s %s%s answered HTTP %s, a redirect to %s: set api_url to the address the API answers at; "
            "the modules follow no redirect, so that the credentials go nowhere else"
            % (method, self.shown_base, path, exc.code, shown_url_text(location) if location else "nowhere"),
            exc.code)

    def _unsent_error(self, reason):
        # a name that does not resolve, a TLS error: trying again will not help
        transport = "unsent" if isinstance(reason, DROPPED_CONNECTION) else None
        return PrefectApiError(
            "cannot reach the Prefect API at %s: %s (is the server running, and is api_url "
            "the API root, as in PREFECT_API_URL?)" % (self.shown_base, to_text(reason)), transport=transport)

    def _unanswered_error(self, method, path, exc):
        what = to_text(exc) or type(exc).__name__
        message = "%s %s%s sent, but no whole answer came: %s" % (method, self.shown_base, path, what)
        if method in ONCE_ONLY_METHODS:
            message += " (the server may have done it; the next run reads what is there)"
        return PrefectApiError(message, transport="unanswered")

    def _http_error(self, method, path, exc):
        try:
            payload = _error_payload(exc.read() if exc.fp else b"")
        except (HTTPException, OSError):  # an error page cut short: its status says enough
            payload = {}
        what = "%s %s%s" % (method, self.shown_base, path)
        if exc.code == 401:
            return PrefectApiError(
                "the Prefect API at %s refused the credentials (401): auth_string must be the "
                "server's PREFECT_SERVER_API_AUTH_STRING" % self.shown_base, exc.code)
        if exc.code == 404:
            detail = payload.get("detail") or "not found"
            return PrefectApiError("%s: %s (404)" % (what, detail), exc.code)
        if exc.code == 422:
            return PrefectApiError(
                "the Prefect API refused %s %s (422): %s" % (method, path, validation_errors(payload)),
                exc.code)
        detail = to_text(payload.get("detail") or payload.get("exception_message") or exc.reason)
        error = PrefectApiError("%s failed with HTTP %s: %s" % (what, exc.code, detail), exc.code,
                                csrf=exc.code == 403 and "CSRF" in detail)
        error.retry_after = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
        return error


def _kind_of_answer(found, fields):
    if found is None:
        return "nothing (null)"
    if isinstance(found, dict):
        missing = [field for field in fields if field not in found]
        return "an object without %s" % ", ".join(missing) if found else "an empty object"
    return "a %s" % type(found).__name__


def retry_after_seconds(header):
    """A Retry-After header (seconds or an HTTP date) as seconds from now;
    None when absent or unreadable."""
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, as Prefect's client reads it
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_wait(retry, retry_after=None):
    """Seconds before retry number `retry` (1, 2, ...): what the server asked
    for, else 2, 4, 8... seconds give or take a fifth, so that hosts retrying
    together spread out; never more than LONGEST_WAIT."""
    if retry_after is not None:
        return min(retry_after, LONGEST_WAIT)
    return min(2 ** retry * random.uniform(0.8, 1.2), LONGEST_WAIT)


def converge_object(module, result_key, read, delete, ensure_present):
    """What every API module does with its object: read it, then delete it
    (state=absent) or create/update it (ensure_present(before) returns
    (changed, after)), honouring check mode; exit with changed, the object
    under result_key, and before/after as the diff."""
    try:
        before = read()
        if module.params["state"] == "absent":
            changed, after = before is not None, None
            if changed and not module.check_mode:
                delete(before)
        else:
            changed, after = ensure_present(before)
    except PrefectApiError as exc:
        module.fail_json(msg=str(exc))
    result = {"changed": changed, result_key: after}
    if module._diff:
        result["diff"] = dict(before=before or {}, after=after or {})
    module.exit_json(**result)


def converge_named_object(module, result_key, path, managed, ensure_present, fields=("id", "name")):
    """converge_object for an object the API addresses by name at path:
    managed(raw) picks the compared fields (which every answer must have),
    ensure_present(module, client, path, before) returns (changed, after)."""
    client = PrefectApi(module.params, fields)
    converge_object(
        module, result_key,
        read=lambda: managed(client.get(path, missing_ok=True)),
        delete=lambda before: client.delete(path),
        ensure_present=lambda before: ensure_present(module, client, path, before),
    )


def update_changed(module, before, wanted, apply, fixed=("name",)):
    """(changed, after) for an existing object: the fields of wanted that
    differ from before (but the fixed ones, which identify it) go to
    apply(changes), which returns the object after; check mode only
    predicts it."""
    changes = dict((key, value) for key, value in wanted.items() if key not in fixed and before.get(key) != value)
    if not changes:
        return False, before
    if module.check_mode:
        return True, dict(before, **changes)
    return True, apply(changes)


def optional_limit(module, option):
    """A limit option where -1 means none: None, the limit, or a failure
    naming the bounds."""
    value = module.params[option]
    if not -1 <= value <= LARGEST_INTEGER:
        module.fail_json(msg="%s must be -1 (no limit), or 0 to %d, not %s" % (option, LARGEST_INTEGER, value))
    return None if value == -1 else value


def same_json(first, second):
    """Equal as JSON values: 1, 1.0 and true are three different values."""
    return json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def subset_differs(wanted, current):
    """True when a value the user gave differs from the server's. Mappings
    compare only the keys the user gave (the server fills in defaults and
    ids); lists of scalars compare as sets (tags, event names: the server
    keeps no order); other lists item by item, with the same length."""
    if isinstance(wanted, dict):
        if not isinstance(current, dict):
            return True
        return any(subset_differs(value, current.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(current, list):
            return True
        if all(isinstance(item, (str, int, float, bool)) for item in wanted + current):
            return set(json.dumps(item) for item in wanted) != set(json.dumps(item) for item in current)
        if len(wanted) != len(current):
            return True
        return any(subset_differs(w, c) for w, c in zip(wanted, current))
    if isinstance(wanted, bool) or isinstance(current, bool):
        return wanted is not current
    return wanted != current
