# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keycloak's admin REST API, for the partial export and import a running server offers.

Keycloak's admin REST API reference and its import/export guide: ``POST /admin/realms/{realm}/partial-export``
(query ``exportClients`` and ``exportGroupsAndRoles``, both false by default; the caller needs manage-realm)
returns the realm's representation with every secret shown as ``**********`` and no users, which the guide
calls unsuitable as a backup; ``POST /admin/realms/{realm}/partialImport`` takes ``ifResourceExists`` FAIL
(the default: a resource that exists fails the whole import, 409), SKIP or OVERWRITE, and the resources, and
answers ``{added, skipped, overwritten, results}``. A token comes from the OpenID Connect token endpoint of the
admin's realm with the password grant (client admin-cli by default).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url

from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.cli import KeycloakError

MASK = "**********"


class AdminClient:
    """An admin of ``base`` (Keycloak's URL) logged in to ``realm`` through ``client_id``."""

    def __init__(self, base, realm, client_id, username, password, client_secret=None, validate_certs=True,
                 ca_path=None):
        self.base = base.rstrip("/")
        self.realm = realm
        self.client_id = client_id
        self.username = username
        self.password = password
        self.client_secret = client_secret
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._token = None

    def _open(self, method, url, data=None, headers=None):
        try:
            with open_url(url, data=data, method=method, headers=headers or {}, timeout=60,
                          validate_certs=self.validate_certs, ca_path=self.ca_path) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (OSError, ValueError) as exc:
            raise KeycloakError("Keycloak's admin API at %s cannot be reached: %s"
                                % (self.base, getattr(exc, "reason", exc)))

    def token(self) -> str:
        if self._token is None:
            if not self.username or not self.password:
                raise KeycloakError("Keycloak's admin API needs an admin: give admin_username, and admin_password in "
                                    "provider_secrets")
            form = {"grant_type": "password", "client_id": self.client_id, "username": self.username,
                    "password": self.password}
            if self.client_secret:
                form["client_secret"] = self.client_secret
            status, body = self._open("POST", "%s/realms/%s/protocol/openid-connect/token"
                                      % (self.base, urllib.parse.quote(self.realm)), urllib.parse.urlencode(form),
                                      {"Content-Type": "application/x-www-form-urlencoded"})
            answer = json_object(body)
            if status != 200 or not answer.get("access_token"):
                raise KeycloakError("Keycloak refused admin %s of realm %s (HTTP %d: %s): check admin_username and "
                                    "admin_password" % (self.username, self.realm, status,
                                                        answer.get("error_description") or answer.get("error")
                                                        or body[:200].decode("utf-8", "replace")))
            self._token = answer["access_token"]
        return self._token

    def call(self, method, path, body=None, what=None):
        """The parsed answer of ``/admin/realms<path>``; raises :class:`KeycloakError` on a status of 300 or more."""
        headers = {"Authorization": "Bearer " + self.token()}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        status, raw = self._open(method, "%s/admin/realms%s" % (self.base, path), data, headers)
        if status >= 300:
            answer = json_object(raw)
            raise KeycloakError("%s failed (HTTP %d): %s" % (
                what or "%s /admin/realms%s" % (method, path), status,
                answer.get("errorMessage") or answer.get("error_description") or answer.get("error")
                or raw[:200].decode("utf-8", "replace")))
        return json.loads(raw) if raw else None

    def partial_export(self, realm) -> dict:
        return self.call("POST", "/%s/partial-export?exportClients=true&exportGroupsAndRoles=true"
                         % urllib.parse.quote(realm), what="the partial export of realm %s" % realm)

    def partial_import(self, realm, representation, policy) -> dict:
        body = {"ifResourceExists": policy}
        for key in ("clients", "roles", "groups", "users", "identityProviders"):
            if representation.get(key):
                body[key] = representation[key]
        return self.call("POST", "/%s/partialImport" % urllib.parse.quote(realm), body,
                         what="the partial import into realm %s (ifResourceExists %s)" % (realm, policy))

    def client_ids(self, realm) -> list:
        return [client["clientId"] for client in self.call("GET", "/%s/clients" % urllib.parse.quote(realm))]

    def realms(self) -> list:
        return [realm["realm"] for realm in self.call("GET", "")]


def masked_clients(representation) -> list:
    """The clients whose secret a partial export masked."""
    return sorted(client["clientId"] for client in representation.get("clients") or []
                  if client.get("secret") == MASK)


def json_object(raw) -> dict:
    """``raw`` parsed when it is a JSON object, else {}."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
