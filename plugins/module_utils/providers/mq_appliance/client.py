# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client of the IBM MQ Appliance's REST management interface (``https://<appliance>:5554/mgmt/``).

IBM's MQ Appliance documentation (and DataPower's, the same interface): HTTP Basic logins of appliance users;
errors as ``{"error": ["text", ...]}``; file stores under ``/mgmt/filestore/default/<store>/<path>`` (a listing's
``file`` and ``directory`` are an object for one entry, a list for several, absent for none; a file's content is
base64); configuration objects under ``/mgmt/config/default/<Class>``; actions posted to
``/mgmt/actionqueue/default``, answered at once (200) or later (202 with a pending location whose ``status`` is
``started`` until it is ``completed`` or ``error``). The REST interface is off on a reinitialized appliance until
its initial setup turns it on. TLS is verified by default. No password ever reaches a message.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput


def base_url(url) -> str:
    """scheme://host:port of an appliance's address (port 5554, the REST management interface's, by default)."""
    parsed = urllib.parse.urlparse(url if "://" in url else "https://" + url)
    return "%s://%s" % (parsed.scheme, parsed.netloc if parsed.port else parsed.netloc + ":5554")


class MQApplianceError(DrkitError):
    """The appliance refused a call, or could not be reached: ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class Client:
    """One appliance, as one appliance user."""

    def __init__(self, url, username, password, validate_certs=True, ca_path=None, timeout=60):
        if not url:
            raise InvalidInput("url is required: the MQ Appliance's REST management address (https://host:5554)")
        if not username or not password:
            raise InvalidInput("username and password are required to log in to the MQ Appliance")
        if ca_path and not os.path.isfile(ca_path):
            raise InvalidInput("ca_path %s is not there: give the file of the CA that signed the appliance's "
                               "certificate" % ca_path)
        self.base = base_url(url)
        self.username = username
        self._password = password
        self.validate_certs, self.ca_path, self.timeout = validate_certs, ca_path, timeout

    def describe(self) -> str:
        return "MQ Appliance %s" % self.base

    def login(self, password):
        """Logs in with another password from now on (admin's, changed after a restore)."""
        self._password = password

    def call(self, method, path, body=None) -> dict:
        """The JSON answer of one call."""
        token = base64.b64encode(("%s:%s" % (self.username, self._password)).encode()).decode()
        headers = {"Authorization": "Basic " + token, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            answer = open_url(self.base + path, data=data, method=method, headers=headers,
                              validate_certs=self.validate_certs, ca_path=self.ca_path, timeout=self.timeout,
                              follow_redirects="none")
        except urllib.error.HTTPError as exc:
            raise MQApplianceError(self._refusal(method, path, exc), exc.code)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            hint = ""
            if "CERTIFICATE_VERIFY_FAILED" in str(reason):
                hint = ": its certificate is not signed by a CA this host trusts (give the appliance's CA in ca_path)"
            raise MQApplianceError("%s does not answer (%s %s): %s%s" % (self.describe(), method, path, reason, hint))
        with answer:
            raw = answer.read()
        return json.loads(raw) if raw else {}

    def _refusal(self, method, path, exc) -> str:
        try:
            said = json.loads(exc.read() or b"{}").get("error") or []
        except (ValueError, AttributeError):
            said = []
        said = "; ".join(str(item) for item in (said if isinstance(said, list) else [said])) or exc.reason
        if exc.code == 401:
            said = "%s (check username and password)" % said
        return "%s refused %s %s (HTTP %d): %s" % (self.describe(), method, path, exc.code, said)

    def answers(self) -> bool:
        """Whether anything answers HTTP at the address (a refusal is an answer)."""
        try:
            self.call("GET", "/mgmt/")
        except MQApplianceError as exc:
            return exc.status != 0
        return True

    def action(self, name, parameters, timeout, interval=0.5, restarts=False) -> dict:
        """Runs an action of the action queue to its end: its final record. With ``restarts`` (a secure
        restore), the appliance going away or refusing the old login once the action ran is its restart:
        {"status": "restarting", "gone": whether it was seen gone}."""
        accepted = self.call("POST", "/mgmt/actionqueue/default", {name: parameters})
        location = ((accepted.get("_links") or {}).get("location") or {}).get("href")
        if not location:  # answered at once: "Operation completed."
            return {"status": "completed", "answer": accepted.get(name)}
        deadline = time.monotonic() + timeout
        while True:
            try:
                pending = self.call("GET", location)
            except MQApplianceError as exc:
                if restarts and exc.status in (0, 401):
                    return {"status": "restarting", "gone": exc.status == 0}
                raise
            status = pending.get("status")
            if status == "error" or pending.get("error"):
                said = pending.get("error") or ["no reason given"]
                raise MQApplianceError("%s: %s ended in error: %s" % (
                    self.describe(), name, "; ".join(str(item) for item in (said if isinstance(said, list)
                                                                            else [said]))))
            if status not in ("started", "processing", None):
                return pending
            if time.monotonic() >= deadline:
                raise MQApplianceError("%s: %s is not done after %d s" % (self.describe(), name, timeout))
            time.sleep(interval)
