# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kanidmd's HTTPS API, as far as a restore and a drill ask it: whether it runs, and who is there.

Kanidm's proto/src/v1/auth.rs and server/core/src/https/v1.rs: ``GET /status`` answers ``true``; ``POST /v1/auth``
takes {"step": {"init2": {"username", "issue": "token", "privileged"}}}, answers {"sessionid", "state":
{"choose": [mechanisms]}} with the session in the header X-KANIDM-AUTH-SESSION-ID, then {"step": {"begin":
"password"}} and {"step": {"cred": {"password": ...}}}, whose answer {"state": {"success": token}} holds the
bearer token, or {"state": {"denied": reason}}. ``GET /v1/person``, ``/v1/group`` list entries as {"attrs":
{name: [values]}}; ``GET /v1/person/{id}`` answers one entry, or null when there is none.
"""

from __future__ import annotations

import json
import urllib.error

from ansible.module_utils.urls import open_url

from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm.cli import KanidmError

SESSION_HEADER = "X-KANIDM-AUTH-SESSION-ID"


class KanidmAPI:
    """kanidmd at ``origin`` (https://host:port), its certificate checked against ``ca_path`` when given."""

    def __init__(self, origin, ca_path=None, timeout=20):
        self.origin = origin.rstrip("/")
        self.ca_path = ca_path
        self.timeout = timeout
        self.token = None

    def _call(self, method, path, body=None, headers=None, secret=None):
        """(status, parsed JSON body, headers)."""
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.token:
            sent["Authorization"] = "Bearer " + self.token
        try:
            with open_url(self.origin + path, data=data, method=method, headers=sent, timeout=self.timeout,
                          validate_certs=bool(self.ca_path), ca_path=self.ca_path) as answer:
                return answer.status, _json(answer.read()), answer.headers
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read()), exc.headers
        except (OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", exc))
            if secret:
                reason = reason.replace(secret, "********")
            raise KanidmError("kanidmd at %s cannot be reached (%s %s): %s" % (self.origin, method, path, reason))

    def running(self) -> bool:
        status, body, _headers = self._call("GET", "/status")
        return status == 200 and body is True

    def reachable(self) -> bool:
        """Whether kanidmd answers /status at all (False when nothing listens)."""
        try:
            return self.running()
        except KanidmError:
            return False

    def login(self, username, password):
        """A bearer token for ``username`` by password; refused logins raise, naming the account only."""
        status, body, headers = self._call("POST", "/v1/auth", {"step": {"init2": {
            "username": username, "issue": "token", "privileged": False}}})
        session = headers.get(SESSION_HEADER) if headers else None
        if status != 200 or not session or "password" not in ((body or {}).get("state") or {}).get("choose", []):
            raise KanidmError("kanidmd refused to begin a password login of %s (HTTP %d: %s)"
                              % (username, status, _said(body)))
        steps = ({"begin": "password"}, {"cred": {"password": password}})
        for step in steps:
            status, body, _headers = self._call("POST", "/v1/auth", {"step": step}, {SESSION_HEADER: session},
                                                secret=password)
            state = (body.get("state") or {}) if isinstance(body, dict) else {}
            if status != 200 or "denied" in state:
                reason = state.get("denied") or _said(body)
                raise KanidmError("kanidmd refused the login of %s: %s" % (username, reason))
        if "success" not in state:
            raise KanidmError("kanidmd did not log %s in: it answered %s" % (username, _said(body)))
        self.token = state["success"]

    def get(self, path):
        status, body, _headers = self._call("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise KanidmError("kanidmd answered HTTP %d to GET %s: %s" % (status, path, _said(body)))
        return body

    def names(self, kind) -> list:
        """The names of every person or group (``kind``: person, group)."""
        return sorted(entry["attrs"]["name"][0] for entry in self.get("/v1/%s" % kind) or []
                      if (entry.get("attrs") or {}).get("name"))


def _json(data):
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode("utf-8", "replace")[:200]


def _said(body) -> str:
    return json.dumps(body)[:200] if not isinstance(body, str) else body
