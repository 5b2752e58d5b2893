# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated Keycloak's HTTP interfaces: OpenID Connect, the admin REST API and the management interface.

keycloak_emulator.py names the documents followed. Every request opens its own database connection, as a
connection pool would hand one out, so that the server survives its database being dropped and restored
beneath it (the restore's stop command is a fake in some tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from store import Store, StoreError, new_id

ACCESS_TOKEN_LIFESPAN = 300
# The fields the emulator models, per representation: any other is refused (DESIGN decision 33), where Keycloak
# would take it (or, for a field it does not know, answer 400 "Unrecognized field": wording UNCONFIRMED).
FIELDS = {
    "realm": {"id", "realm", "enabled", "displayName", "roles", "groups", "clients", "users"},
    "client": {"id", "clientId", "name", "enabled", "secret", "publicClient", "directAccessGrantsEnabled",
               "serviceAccountsEnabled", "redirectUris", "protocol", "bearerOnly"},
    "role": {"id", "name", "description", "composite", "clientRole", "containerId"},
    "group": {"id", "name", "path", "subGroups"},
    "user": {"id", "username", "email", "emailVerified", "enabled", "firstName", "lastName", "createdTimestamp",
             "credentials", "realmRoles", "groups", "serviceAccountClientId"},
    "partialImport": {"ifResourceExists", "users", "clients", "roles", "groups"},
}


class Failure(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status = status
        self.body = body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret, claims) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())


def verify(secret, token):
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
        claims = json.loads(_unb64(body))
    except ValueError:
        return None
    if not hmac.compare_digest(expected, _unb64(signature)) or claims.get("exp", 0) < time.time():
        return None
    return claims


class Api:
    """What the handlers serve: ``settings`` (the server's options), ``log`` (a line to the server's log)."""

    def __init__(self, settings, log, base_url):
        self.settings = settings
        self.log = log
        self.base_url = base_url

    def store(self):
        return Store(self.settings)

    # --- OpenID Connect -------------------------------------------------------------------------------------

    def well_known(self, realm):
        with self.store() as store:
            self._realm(store, realm)
        issuer = "%s/realms/%s" % (self.base_url, realm)
        oidc = issuer + "/protocol/openid-connect"
        return 200, {"issuer": issuer, "authorization_endpoint": oidc + "/auth", "token_endpoint": oidc + "/token",
                     "userinfo_endpoint": oidc + "/userinfo", "end_session_endpoint": oidc + "/logout",
                     "jwks_uri": oidc + "/certs",
                     "grant_types_supported": ["authorization_code", "password", "client_credentials",
                                               "refresh_token"],
                     "response_types_supported": ["code", "token"], "subject_types_supported": ["public", "pairwise"],
                     "id_token_signing_alg_values_supported": ["HS256"]}

    def token(self, realm, form):
        with self.store() as store:
            row = self._realm(store, realm)
            found = store.clients(row["id"], form.get("client_id", ""))
            client = found[0] if found else None
            if not client or not client["enabled"] or (not client["publicClient"] and not hmac.compare_digest(
                    client.get("secret", ""), form.get("client_secret", ""))):
                raise Failure(401, {"error": "unauthorized_client",
                                    "error_description": "Invalid client or Invalid client credentials"})
            grant = form.get("grant_type")
            if grant == "password":
                if not client["directAccessGrantsEnabled"]:
                    raise Failure(400, {"error": "unauthorized_client",
                                        "error_description": "Client not allowed for direct access grants"})
                user = store.authenticate(row["id"], form.get("username"), form.get("password"))
                if not user:
                    self.log("WARN type=LOGIN_ERROR, realmId=%s, clientId=%s, error=invalid_user_credentials"
                             % (row["id"], client["clientId"]))
                    raise Failure(401, {"error": "invalid_grant", "error_description": "Invalid user credentials"})
            elif grant == "client_credentials":
                if client["publicClient"] or not client["serviceAccountsEnabled"]:
                    raise Failure(401, {"error": "unauthorized_client",
                                        "error_description": "Client not enabled to retrieve service account"})
                linked = store.one("SELECT id FROM user_entity WHERE service_account_client_link = :c",
                                   c=client["id"])
                user = linked[0] if linked else client["id"]
            else:
                raise Failure(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
            name = store.one("SELECT username FROM user_entity WHERE id = :u", u=user)
            roles = [role for (role,) in store.run(
                "SELECT r.name FROM keycloak_role r JOIN user_role_mapping m ON m.role_id = r.id WHERE m.user_id = :u",
                u=user)]
        issued = int(time.time())
        claims = {"exp": issued + ACCESS_TOKEN_LIFESPAN, "iat": issued, "jti": new_id(),
                  "iss": "%s/realms/%s" % (self.base_url, realm), "sub": user, "typ": "Bearer",
                  "azp": client["clientId"], "preferred_username": name[0] if name else None,
                  "realm_access": {"roles": sorted(roles)}, "scope": "profile email"}
        access = sign(row["token_secret"], claims)
        return 200, {"access_token": access, "expires_in": ACCESS_TOKEN_LIFESPAN, "refresh_expires_in": 1800,
                     "refresh_token": sign(row["token_secret"], dict(claims, typ="Refresh", exp=issued + 1800)),
                     "token_type": "Bearer", "not-before-policy": 0, "session_state": new_id(),
                     "scope": "profile email"}

    # --- the admin REST API -------------------------------------------------------------------------------

    def authorize(self, store, header):
        """The admin API takes a token of the master realm whose user holds its admin role."""
        if not header.startswith("Bearer "):
            raise Failure(401, {"error": "HTTP 401 Unauthorized"})
        master = store.realm("master")
        claims = verify(master["token_secret"], header[7:]) if master else None
        if not claims or not claims.get("iss", "").endswith("/realms/master"):
            raise Failure(401, {"error": "HTTP 401 Unauthorized"})
        if "admin" not in claims.get("realm_access", {}).get("roles", []):
            raise Failure(403, {"error": "unknown_error",
                                "error_description": "For more on this error consult the server log."})

    def admin(self, method, parts, query, body, header):
        with self.store() as store:
            self.authorize(store, header)
            with store.transaction():
                return self._admin(store, method, parts, query, body)

    def _admin(self, store, method, parts, query, body):
        if not parts:
            if method == "GET":
                return 200, [self._realm_brief(store, name) for name in store.realm_names()]
            if method == "POST":
                check_fields("realm", body)
                if store.realm(body.get("realm", "")):
                    raise Failure(409, {"errorMessage": "Conflict detected. See logs for details"})
                store.create_realm(body["realm"], self.log, body)
                return 201, None
            raise Failure(405, {"error": "HTTP 405 Method Not Allowed"})
        name, rest = parts[0], parts[1:]
        realm = self._realm(store, name)
        rid = realm["id"]
        if not rest:
            if method == "GET":
                return 200, self._realm_brief(store, name)
            if method == "DELETE":
                store.delete_realm(name)
                return 204, None
            if method == "PUT":
                store.run("UPDATE realm SET enabled = :e, display_name = :d WHERE id = :r", r=rid,
                          e=body.get("enabled", realm["enabled"]), d=body.get("displayName", realm["display_name"]))
                return 204, None
        kind = rest[0]
        if kind == "users":
            return self._users(store, rid, method, rest[1:], query, body)
        if kind == "clients":
            return self._clients(store, rid, method, rest[1:], query, body)
        if kind == "roles" and len(rest) == 1:
            if method == "POST":
                check_fields("role", body)
                store.add_role(rid, body)
                return 201, None
            return 200, store.represent(name, users=False)["roles"]["realm"]
        if kind == "roles" and len(rest) == 2 and method == "DELETE":
            found = store.one("SELECT id FROM keycloak_role WHERE realm_id = :r AND client IS NULL AND name = :n",
                              r=rid, n=rest[1])
            if not found:
                raise Failure(404, {"error": "Could not find role"})
            store.run("DELETE FROM user_role_mapping WHERE role_id = :i", i=found[0])
            store.run("DELETE FROM keycloak_role WHERE id = :i", i=found[0])
            return 204, None
        if kind == "groups" and len(rest) == 2 and method == "DELETE":
            if not store.one("SELECT id FROM keycloak_group WHERE realm_id = :r AND id = :i", r=rid, i=rest[1]):
                raise Failure(404, {"error": "Could not find group by id"})
            store.delete_group(rest[1])
            return 204, None
        if kind == "groups" and len(rest) == 1:
            if method == "POST":
                check_fields("group", body)
                store.add_group(rid, body, "")
                return 201, None
            return 200, store.represent(name, users=False)["groups"]
        if kind == "partial-export" and method == "POST":
            rep = store.represent(name, users=False, mask=True)
            if query.get("exportClients") != "true":
                rep["clients"] = []
            if query.get("exportGroupsAndRoles") != "true":
                rep["groups"], rep["roles"] = [], {"realm": [], "client": {}}
            return 200, rep
        if kind == "partialImport" and method == "POST":
            check_fields("partialImport", body)
            return 200, self._partial_import(store, rid, body)
        raise Failure(404, {"error": "HTTP 404 Not Found"})

    def _realm(self, store, name):
        realm = store.realm(name)
        if not realm:
            raise Failure(404, {"error": "Realm not found."})
        return realm

    @staticmethod
    def _realm_brief(store, name):
        realm = store.realm(name)
        brief = {"id": realm["id"], "realm": name, "enabled": realm["enabled"]}
        if realm["display_name"]:
            brief["displayName"] = realm["display_name"]
        return brief

    def _users(self, store, rid, method, rest, query, body):
        if not rest:
            if method == "POST":
                check_fields("user", body)
                if store.users(rid, body.get("username", ""), exact=True):
                    raise Failure(409, {"errorMessage": "User exists with same username"})
                store.add_user(rid, dict(body, id=None))
                return 201, None
            exact = query.get("exact") == "true"
            return 200, store.users(rid, query.get("username") or query.get("search"), exact=exact,
                                    first=int(query.get("first", 0)), limit=int(query.get("max", 100)), brief=True)
        if rest == ["count"]:
            return 200, store.one("SELECT count(*) FROM user_entity WHERE realm_id = :r", r=rid)[0]
        found = [user for user in store.users(rid, brief=True) if user["id"] == rest[0]]
        if not found:
            raise Failure(404, {"error": "User not found"})
        if len(rest) == 2 and rest[1] == "reset-password" and method == "PUT":
            store.run("DELETE FROM credential WHERE user_id = :u AND type = 'password'", u=rest[0])
            user = found[0]
            store.delete_user(rest[0])
            store.add_user(rid, dict(user, credentials=[{"type": "password", "value": body["value"]}]))
            return 204, None
        if method == "DELETE":
            store.delete_user(rest[0])
            return 204, None
        return 200, found[0]

    def _clients(self, store, rid, method, rest, query, body):
        if not rest:
            if method == "POST":
                check_fields("client", body)
                if store.clients(rid, body.get("clientId", "")):
                    raise Failure(409, {"errorMessage": "Client %s already exists" % body.get("clientId")})
                store.add_client(rid, dict(body, id=None))
                return 201, None
            return 200, [self._unsecret(client) for client in store.clients(rid, query.get("clientId"))]
        found = [client for client in store.clients(rid) if client["id"] == rest[0]]
        if not found:
            raise Failure(404, {"error": "Could not find client"})
        if rest[1:] == ["client-secret"]:
            if method == "POST":
                secret = new_id()
                store.run("UPDATE client SET secret = :s WHERE id = :c", s=secret, c=rest[0])
                return 200, {"type": "secret", "value": secret}
            return 200, {"type": "secret", "value": found[0].get("secret")}
        if method == "DELETE":
            store.run("DELETE FROM keycloak_role WHERE client = :c", c=rest[0])
            store.run("DELETE FROM client WHERE id = :c", c=rest[0])
            return 204, None
        return 200, self._unsecret(found[0])

    @staticmethod
    def _unsecret(client):
        # The admin API does not return a client's secret in its representation (only client-secret does).
        return {key: value for key, value in client.items() if key != "secret"}

    def _partial_import(self, store, rid, body):
        policy = body.get("ifResourceExists", "FAIL")
        results = []
        kinds = (("USER", body.get("users") or [], "username",
                  lambda rep: store.users(rid, rep["username"], exact=True), store.add_user,
                  lambda old: store.delete_user(old["id"])),
                 ("CLIENT", body.get("clients") or [], "clientId", lambda rep: store.clients(rid, rep["clientId"]),
                  store.add_client, lambda old: store.run("DELETE FROM client WHERE id = :c", c=old["id"])),
                 ("REALM_ROLE", (body.get("roles") or {}).get("realm") or [], "name",
                  lambda rep: store.run("SELECT id FROM keycloak_role WHERE realm_id = :r AND client IS NULL AND "
                                        "name = :n", r=rid, n=rep["name"]), store.add_role,
                  lambda old: store.run("DELETE FROM keycloak_role WHERE id = :i", i=old[0])),
                 ("GROUP", body.get("groups") or [], "name",
                  lambda rep: store.run("SELECT id FROM keycloak_group WHERE realm_id = :r AND parent_group = '' AND "
                                        "name = :n", r=rid, n=rep["name"]),
                  lambda realm, rep: store.add_group(realm, rep, ""),
                  lambda old: store.run("DELETE FROM keycloak_group WHERE id = :i", i=old[0])))
        for resource, items, key, existing, add, remove in kinds:
            for rep in items:
                old = existing(rep)
                if old and policy == "FAIL":
                    raise Failure(409, {"errorMessage": "%s '%s' already exists" % (resource.title().replace(
                        "_", " "), rep[key])})
                if old and policy == "SKIP":
                    results.append({"action": "SKIPPED", "resourceType": resource, "resourceName": rep[key]})
                    continue
                if old:
                    remove(old[0])
                made = add(rid, rep)
                results.append({"action": "OVERWRITTEN" if old else "ADDED", "resourceType": resource,
                                "resourceName": rep[key], "id": made})
        count = {action: sum(1 for result in results if result["action"] == action)
                 for action in ("ADDED", "SKIPPED", "OVERWRITTEN")}
        return {"overwritten": count["OVERWRITTEN"], "added": count["ADDED"], "skipped": count["SKIPPED"],
                "results": results}

    # --- the management interface ---------------------------------------------------------------------------

    def health(self, which):
        if which in ("", "live", "started"):
            return 200, {"status": "UP", "checks": []}
        try:
            with self.store() as store:
                store.run("SELECT 1")
            status = "UP"
        except StoreError:
            status = "DOWN"
        return (200 if status == "UP" else 503), {"status": status, "checks": [
            {"name": "Keycloak database connections async health check", "status": status}]}


def check_fields(kind, body):
    """Refuses a representation with a field the emulator does not model, and checks the ones it nests."""
    if not isinstance(body, dict):
        raise Failure(400, {"error": "unknown_error",
                            "error_description": "a %s representation must be a JSON object" % kind})
    unknown = sorted(set(body) - FIELDS[kind])
    if unknown:
        raise Failure(400, {"error": "unknown_error", "error_description": 'Unrecognized field "%s" (class '
                            'org.keycloak.representations.idm.%sRepresentation)' % (unknown[0], kind[0].upper()
                                                                                    + kind[1:])})
    for client in body.get("clients") or []:
        check_fields("client", client)
    for user in body.get("users") or []:
        check_fields("user", user)
    for group in (body.get("groups") or []) + (body.get("subGroups") or []):
        check_fields("group", group)
    roles = body.get("roles") or {}
    for role in (roles.get("realm") or []) + [one for many in (roles.get("client") or {}).values() for one in many]:
        check_fields("role", role)


def handler(api, management, health_here):
    """A request handler class for the main interface (``management`` False) or the management one."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # the server's log says what matters; no per-request lines
            pass

        def _answer(self, status, body):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if status == 201:
                self.send_header("Location", self.path)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = [urllib.parse.unquote(part) for part in url.path.split("/") if part]
            try:
                if health_here and parts[:1] == ["health"] and method == "GET":
                    return self._answer(*api.health(parts[1] if len(parts) > 1 else ""))
                if management:
                    raise Failure(404, {"error": "HTTP 404 Not Found"})
                if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
                    body = dict(urllib.parse.parse_qsl(raw.decode()))
                else:
                    body = json.loads(raw) if raw else {}
                match = re.match(r"^/realms/([^/]+)/(.*)$", url.path)
                if match and match.group(2) == ".well-known/openid-configuration" and method == "GET":
                    return self._answer(*api.well_known(urllib.parse.unquote(match.group(1))))
                if match and match.group(2) == "protocol/openid-connect/token" and method == "POST":
                    return self._answer(*api.token(urllib.parse.unquote(match.group(1)), body))
                if parts[:2] == ["admin", "realms"]:
                    return self._answer(*api.admin(method, parts[2:], query, body,
                                                   self.headers.get("Authorization") or ""))
                raise Failure(404, {"error": "HTTP 404 Not Found"})
            except Failure as failure:
                return self._answer(failure.status, failure.body)
            except StoreError as exc:
                api.log("ERROR %s" % exc)
                return self._answer(500, {"error": "unknown_error"})
            except (KeyError, ValueError, TypeError) as exc:
                return self._answer(400, {"error": "invalid_request", "error_description": str(exc)})

        def do_GET(self):  # noqa: N802 (http.server's names)
            self._route("GET")

        def do_POST(self):  # noqa: N802
            self._route("POST")

        def do_PUT(self):  # noqa: N802
            self._route("PUT")

        def do_DELETE(self):  # noqa: N802
            self._route("DELETE")

    return Handler


def serve(api, host, port, management_port, health, health_on_management):
    """The main interface, and the management one when health is enabled; returns the servers, serving."""
    servers = [ThreadingHTTPServer((host, port), handler(api, False, health and not health_on_management))]
    if health and health_on_management:
        servers.append(ThreadingHTTPServer((host, management_port), handler(api, True, True)))
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers
