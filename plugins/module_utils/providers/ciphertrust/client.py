# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client of CipherTrust Manager's REST API (``https://<appliance>/api/v1``), for its backups and backup keys.

Thales's backup chapter (shared/reference/001) and the endpoint list of its published API description: a bearer
token from ``POST /auth/tokens`` (grant_type password, username, password, domain, auth_domain), renewed with its
refresh token when the appliance answers 401; lists paged as ``{skip, limit, total, resources}``; errors as JSON
``{code, codeDesc, message}``. TLS is verified by default (Thales's own collection hard-codes the opposite), against
``ca_path`` when the appliance's certificate is signed by a CA of its own. No password ever reaches a message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import fsync_path, remove_quietly

PAGE = 100
READ_CHUNK = 1024 * 1024


class CipherTrustError(DrkitError):
    """The appliance refused a call, or could not be reached: ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class Client:
    """One appliance, logged in on first use."""

    def __init__(self, url, username, password, domain=None, auth_domain=None, validate_certs=True, ca_path=None,
                 timeout=60):
        if not url:
            raise InvalidInput("url is required: the CipherTrust Manager's address (https://host)")
        if not username or not password:
            raise InvalidInput("username and password are required to log in to the CipherTrust Manager")
        if ca_path and not os.path.isfile(ca_path):
            raise InvalidInput("ca_path %s is not there: give the file of the CA that signed the appliance's "
                               "certificate" % ca_path)
        parsed = urllib.parse.urlparse(url if "://" in url else "https://" + url)
        self.base = "%s://%s" % (parsed.scheme, parsed.netloc)
        self.api = self.base + "/api/v1"
        self._login = {"grant_type": "password", "username": username, "password": password}
        for key, value in (("domain", domain), ("auth_domain", auth_domain)):
            if value:
                self._login[key] = value
        self.validate_certs, self.ca_path, self.timeout = validate_certs, ca_path, timeout
        self._jwt = None
        self._refresh = None

    def describe(self) -> str:
        return "CipherTrust Manager %s" % self.base

    # --- the wire ------------------------------------------------------------------------------------------

    def _open(self, method, path, body=None, query=None, token=True, raw=False):
        url = self.api + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/octet-stream" if raw else "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer %s" % self._token()
        try:
            return open_url(url, data=data, method=method, headers=headers, validate_certs=self.validate_certs,
                            ca_path=self.ca_path, timeout=self.timeout, follow_redirects="none")
        except urllib.error.HTTPError as exc:
            raise CipherTrustError(self._refusal(method, path, exc), exc.code)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            hint = ""
            if "CERTIFICATE_VERIFY_FAILED" in str(reason):
                hint = ": its certificate is not signed by a CA this host trusts (give the appliance's CA in ca_path)"
            raise CipherTrustError("%s cannot be reached (%s %s): %s%s"
                                   % (self.describe(), method, path, reason, hint))

    def _refusal(self, method, path, exc) -> str:
        try:
            answer = json.loads(exc.read() or b"{}")
        except ValueError:
            answer = {}
        said = answer.get("message") or answer.get("codeDesc") or exc.reason
        return "%s refused %s %s (HTTP %d): %s" % (self.describe(), method, path, exc.code, said)

    def _token(self) -> str:
        if self._jwt is None:
            self._new_token()
        return self._jwt

    def _new_token(self):
        body = self._login
        if self._refresh:
            body = {"grant_type": "refresh_token", "refresh_token": self._refresh}
        try:
            answer = self._read(self._open("POST", "/auth/tokens", body, token=False))
        except CipherTrustError as exc:
            if self._refresh and exc.status in (400, 401):  # the refresh token lapsed too: log in again
                self._refresh = None
                return self._new_token()
            if exc.status in (400, 401, 403):
                raise CipherTrustError("%s refused the login of %s: check username, password and domain"
                                       % (self.describe(), self._login["username"]), exc.status)
            raise
        self._jwt = answer.get("jwt")
        self._refresh = answer.get("refresh_token") or self._refresh
        if not self._jwt:
            raise CipherTrustError("%s answered the login without a token (jwt)" % self.describe())

    @staticmethod
    def _read(answer):
        with answer:
            data = answer.read()
        return json.loads(data) if data else {}

    def call(self, method, path, body=None, query=None):
        """The JSON answer of one call; a lapsed token is renewed once."""
        try:
            return self._read(self._open(method, path, body, query))
        except CipherTrustError as exc:
            if exc.status != 401:
                raise
            self._jwt = None
            return self._read(self._open(method, path, body, query))

    def list_all(self, path, **query) -> list:
        """Every resource of a paged list."""
        found, skip = [], 0
        while True:
            page = self.call("GET", path, query=dict(query, skip=skip, limit=PAGE))
            resources = page.get("resources") or []
            found += resources
            skip += len(resources)
            if not resources or skip >= int(page.get("total") or 0):
                return found

    def download(self, method, path, target, body=None) -> dict:
        """The answer's bytes into ``target`` (mode 0600, in place only once complete): {size, sha256}."""
        digest, size = hashlib.sha256(), 0
        for attempt in (1, 2):
            try:
                answer = self._open(method, path, body, raw=True)
                break
            except CipherTrustError as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                self._jwt = None
        partial = "%s.partial-%d" % (target, os.getpid())
        try:
            with answer, open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                while True:
                    chunk = answer.read(READ_CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
            fsync_path(os.path.dirname(os.path.abspath(target)))
        finally:
            remove_quietly(partial)
        return {"size": size, "sha256": digest.hexdigest()}

    def upload(self, path, source, **fields):
        """Posts the file ``source`` (base64 in the JSON body's ``file``) with ``fields``."""
        with open(source, "rb") as handle:
            content = base64.b64encode(handle.read()).decode("ascii")
        return self.call("POST", path, dict(fields, file=content))

    # --- waiting -------------------------------------------------------------------------------------------

    def wait(self, what, probe, timeout, interval=1.0, restarting=False):
        """Calls ``probe()`` until it returns something true, for ``timeout`` seconds. With ``restarting``, HTTP
        5xx and no answer are the appliance restarting (a system restore restarts its services): polled on."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            try:
                done = probe()
                if done:
                    return done
                last = "not done yet"
            except CipherTrustError as exc:
                if not restarting or (exc.status and exc.status < 500):
                    raise
                last = str(exc)
                self._jwt = None if exc.status == 0 else self._jwt
            if time.monotonic() >= deadline:
                raise CipherTrustError("%s: %s is not done after %d s (%s)" % (self.describe(), what, timeout, last))
            time.sleep(interval)


def client_of(params) -> Client:
    """The Client a module's connection parameters describe (doc fragment drkit.backup.ciphertrust)."""
    return Client(params["url"], params["username"], params["password"], params.get("domain"),
                  params.get("auth_domain"), params["validate_certs"], params.get("ca_path"), params["timeout"])
