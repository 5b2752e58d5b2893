# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated Keycloak's data: its tables on a real PostgreSQL or MariaDB database, and realms as Keycloak
represents them.

keycloak_emulator.py names the documents followed. The tables carry Keycloak's names (realm, client,
keycloak_role, keycloak_group, user_entity, credential, user_role_mapping, user_group_membership,
migration_model) with the columns the emulator needs, not all of Keycloak's. A credential is stored as Keycloak
stores it: ``secret_data`` {"value", "salt", "additionalParameters"} and ``credential_data``
{"hashIterations", "algorithm", "additionalParameters"}, pbkdf2-sha512, with 1000 iterations where Keycloak uses
210000 (a departure, to keep the tests quick; the hash is real and checked). The SQL is written once, in
PostgreSQL's words with ``:name`` parameters; ``_MariaDB`` says it in MariaDB's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import uuid

import pg8000.native

try:  # only a Keycloak configured with db=mariadb or mysql needs it
    import pymysql
except ImportError:
    pymysql = None

ITERATIONS = 1000
# The clients Keycloak creates in every new realm (in master: no account clients, plus <realm>-realm per realm).
DEFAULT_CLIENTS = ("account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console")
MASTER_CLIENTS = ("admin-cli", "broker", "master-realm", "security-admin-console")
PUBLIC_CLIENTS = ("account-console", "admin-cli", "security-admin-console")
DEFAULT_ROLES = ("offline_access", "uma_authorization")

SCHEMA = """
CREATE TABLE realm (id varchar(36) PRIMARY KEY, name varchar(255) UNIQUE NOT NULL, enabled boolean NOT NULL,
  display_name varchar(255), token_secret varchar(255) NOT NULL);
CREATE TABLE client (id varchar(36) PRIMARY KEY, realm_id varchar(36) NOT NULL REFERENCES realm(id),
  client_id varchar(255) NOT NULL, name varchar(255), enabled boolean NOT NULL, secret varchar(255),
  public_client boolean NOT NULL, direct_access_grants_enabled boolean NOT NULL,
  service_accounts_enabled boolean NOT NULL, redirect_uris text NOT NULL, UNIQUE (realm_id, client_id));
CREATE TABLE keycloak_role (id varchar(36) PRIMARY KEY, realm_id varchar(36) NOT NULL REFERENCES realm(id),
  client varchar(36) REFERENCES client(id), name varchar(255) NOT NULL, description varchar(255));
CREATE TABLE keycloak_group (id varchar(36) PRIMARY KEY, realm_id varchar(36) NOT NULL REFERENCES realm(id),
  name varchar(255) NOT NULL, parent_group varchar(36) NOT NULL);
CREATE TABLE user_entity (id varchar(36) PRIMARY KEY, realm_id varchar(36) NOT NULL REFERENCES realm(id),
  username varchar(255) NOT NULL, email varchar(255), email_verified boolean NOT NULL, enabled boolean NOT NULL,
  first_name varchar(255), last_name varchar(255), created_timestamp bigint,
  service_account_client_link varchar(255), UNIQUE (realm_id, username));
CREATE TABLE credential (id varchar(36) PRIMARY KEY, user_id varchar(36) NOT NULL REFERENCES user_entity(id),
  type varchar(255) NOT NULL, created_date bigint, secret_data text NOT NULL, credential_data text NOT NULL);
CREATE TABLE user_role_mapping (role_id varchar(255) NOT NULL, user_id varchar(36) NOT NULL
  REFERENCES user_entity(id), PRIMARY KEY (role_id, user_id));
CREATE TABLE user_group_membership (group_id varchar(36) NOT NULL, user_id varchar(36) NOT NULL
  REFERENCES user_entity(id), PRIMARY KEY (group_id, user_id));
CREATE TABLE migration_model (id varchar(36) PRIMARY KEY, version varchar(36), update_time bigint NOT NULL);
"""


class StoreError(Exception):
    """The database refused, or holds what this release cannot run on."""


def new_id() -> str:
    return str(uuid.uuid4())


def now_ms() -> int:
    return int(time.time() * 1000)


def release(text) -> tuple:
    return tuple(int(part) for part in text.split("-")[0].split(".")[:3] if part.isdigit())


def hash_password(password, salt=None, iterations=ITERATIONS):
    salt = salt if salt is not None else os.urandom(16)
    value = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    secret = {"value": base64.b64encode(value).decode(), "salt": base64.b64encode(salt).decode(),
              "additionalParameters": {}}
    data = {"hashIterations": iterations, "algorithm": "pbkdf2-sha512", "additionalParameters": {}}
    return json.dumps(secret), json.dumps(data)


def password_matches(password, secret_data, credential_data) -> bool:
    secret, data = json.loads(secret_data), json.loads(credential_data)
    expected, _data = hash_password(password, base64.b64decode(secret["salt"]), int(data["hashIterations"]))
    return hmac.compare_digest(json.loads(expected)["value"], secret["value"])


class Store:
    """One connection to Keycloak's database (``settings``: the db-* options), opened per use."""

    def __init__(self, settings):
        self.settings = settings
        self.conn = None

    def __enter__(self):
        url = self.settings.jdbc()
        vendor = self.settings.get("db")
        self.conn = (_MariaDB if vendor in ("mariadb", "mysql") else _PostgreSQL)(self.settings, url)
        schema = self.settings.get("db-schema")
        if schema and vendor == "postgres":
            self.run('CREATE SCHEMA IF NOT EXISTS "%s"' % schema)
            self.run('SET search_path TO "%s"' % schema)
        return self

    def __exit__(self, *exc):
        self.conn.close()

    def run(self, sql, **params):
        return self.conn.run(sql, **params)

    def one(self, sql, **params):
        rows = self.run(sql, **params)
        return rows[0] if rows else None

    def transaction(self):
        return _Transaction(self)

    # --- the schema and its release (Keycloak's migration_model) ------------------------------------------

    def migrate(self, version, log):
        """Create the tables on an empty database, record a newer release, refuse to run on a newer one."""
        exists = self.one("SELECT count(*) FROM information_schema.tables WHERE table_name = 'migration_model' "
                          "AND table_schema = current_schema()")[0]
        if not exists:
            log("Initializing database schema. Using changelog META-INF/jpa-changelog-master.xml")
            with self.transaction():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.run(statement)
                self.run("INSERT INTO migration_model VALUES (:id, :v, :t)", id=new_id(), v=version, t=now_ms())
                self.create_realm("master", log)
            return
        stored = self.one("SELECT version FROM migration_model ORDER BY update_time DESC LIMIT 1")[0]
        if release(stored) > release(version):
            raise StoreError("Incorrect state of migration. You are trying to run server version '%s' but the "
                             "database is already migrated to a newer version '%s'." % (version, stored))
        if release(stored) < release(version):
            log("Migrating older model to %s" % version)
            self.run("INSERT INTO migration_model VALUES (:id, :v, :t)", id=new_id(), v=version,
                     t=now_ms() + 1)

    # --- realms ---------------------------------------------------------------------------------------------

    def realm(self, name):
        row = self.one("SELECT id, name, enabled, display_name, token_secret FROM realm WHERE name = :n", n=name)
        return dict(zip(("id", "name", "enabled", "display_name", "token_secret"), row)) if row else None

    def realm_names(self):
        return [row[0] for row in self.run("SELECT name FROM realm ORDER BY name")]

    def create_realm(self, name, log=None, representation=None):
        """A realm with Keycloak's default clients and roles, then ``representation``'s content (an import)."""
        rep = representation or {}
        realm_id = rep.get("id") or (name if name == "master" else new_id())
        self.run("INSERT INTO realm VALUES (:id, :n, :e, :d, :s)", id=realm_id, n=name, e=rep.get("enabled", True),
                 d=rep.get("displayName"), s=base64.b64encode(os.urandom(32)).decode())
        defaults = MASTER_CLIENTS if name == "master" else DEFAULT_CLIENTS
        given = {client.get("clientId") for client in rep.get("clients") or []}
        for client_id in defaults:
            if client_id not in given:
                # The default clients that are not public hold no secret here (bearer-only; UNCONFIRMED for account).
                self.add_client(realm_id, {"clientId": client_id, "publicClient": client_id in PUBLIC_CLIENTS,
                                           "bearerOnly": client_id not in PUBLIC_CLIENTS,
                                           "directAccessGrantsEnabled": client_id == "admin-cli"})
        if name != "master" and self.realm("master"):
            self.add_client(self.realm("master")["id"], {"clientId": "%s-realm" % name, "bearerOnly": True})
        roles = {role.get("name") for role in (rep.get("roles") or {}).get("realm") or []}
        extra = ("admin", "create-realm") if name == "master" else ()
        for role in DEFAULT_ROLES + ("default-roles-%s" % name,) + extra:
            if role not in roles:
                self.add_role(realm_id, {"name": role})
        for role in (rep.get("roles") or {}).get("realm") or []:
            self.add_role(realm_id, role)
        for client in rep.get("clients") or []:
            self.add_client(realm_id, client)
        for group in rep.get("groups") or []:
            self.add_group(realm_id, group, "")
        for user in rep.get("users") or []:
            self.add_user(realm_id, user)
        if log:
            log("Realm '%s' created" % name)
        return realm_id

    def delete_realm(self, name):
        realm = self.realm(name)
        if not realm:
            return False
        rid = realm["id"]
        users = "SELECT id FROM user_entity WHERE realm_id = :r"
        for table in ("credential", "user_role_mapping", "user_group_membership"):
            self.run("DELETE FROM %s WHERE user_id IN (%s)" % (table, users), r=rid)
        for table in ("user_entity", "keycloak_role", "keycloak_group", "client"):
            self.run("DELETE FROM %s WHERE realm_id = :r" % table, r=rid)
        self.run("DELETE FROM realm WHERE id = :r", r=rid)
        self.run("DELETE FROM client WHERE client_id = :c AND realm_id = (SELECT id FROM realm WHERE name = 'master')",
                 c="%s-realm" % name)
        return True

    def represent(self, name, users=True, mask=False):
        """The realm as kc.sh export writes it (``mask``: secrets as the admin console shows them)."""
        realm = self.realm(name)
        rid = realm["id"]
        rep = {"id": rid, "realm": name, "enabled": realm["enabled"]}
        if realm["display_name"]:
            rep["displayName"] = realm["display_name"]
        clients = self.clients(rid)
        rep["roles"] = {"realm": [self._role(row) for row in self.run(
            "SELECT id, name, description FROM keycloak_role WHERE realm_id = :r AND client IS NULL ORDER BY name",
            r=rid)], "client": {}}
        for client in clients:
            roles = self.run("SELECT id, name, description FROM keycloak_role WHERE client = :c ORDER BY name",
                             c=client["id"])
            if roles:
                rep["roles"]["client"][client["clientId"]] = [dict(self._role(row), clientRole=True) for row in roles]
        rep["groups"] = [self._group(rid, row) for row in self.run(
            "SELECT id, name FROM keycloak_group WHERE realm_id = :r AND parent_group = '' ORDER BY name", r=rid)]
        rep["clients"] = []
        for client in clients:
            if mask and client.get("secret"):
                client["secret"] = "**********"
            rep["clients"].append(client)
        if users:
            rep["users"] = self.users(rid)
        return rep

    @staticmethod
    def _role(row):
        role = {"id": row[0], "name": row[1], "composite": False, "clientRole": False}
        if row[2]:
            role["description"] = row[2]
        return role

    def _group(self, rid, row, path=""):
        path = "%s/%s" % (path, row[1])
        return {"id": row[0], "name": row[1], "path": path, "subGroups": [self._group(rid, child, path) for child in
                self.run("SELECT id, name FROM keycloak_group WHERE realm_id = :r AND parent_group = :p ORDER BY name",
                         r=rid, p=row[0])]}

    # --- clients, roles, groups ------------------------------------------------------------------------------

    CLIENT_COLUMNS = ("id", "client_id", "name", "enabled", "secret", "public_client", "direct_access_grants_enabled",
                      "service_accounts_enabled", "redirect_uris")

    def clients(self, rid, client_id=None):
        sql = "SELECT %s FROM client WHERE realm_id = :r" % ", ".join(self.CLIENT_COLUMNS)
        params = {"r": rid}
        if client_id is not None:
            sql += " AND client_id = :c"
            params["c"] = client_id
        found = []
        for row in self.run(sql + " ORDER BY client_id", **params):
            values = dict(zip(self.CLIENT_COLUMNS, row))
            client = {"id": values["id"], "clientId": values["client_id"], "enabled": values["enabled"],
                      "publicClient": values["public_client"], "protocol": "openid-connect",
                      "directAccessGrantsEnabled": values["direct_access_grants_enabled"],
                      "serviceAccountsEnabled": values["service_accounts_enabled"],
                      "redirectUris": json.loads(values["redirect_uris"])}
            if values["name"]:
                client["name"] = values["name"]
            if values["secret"]:
                client["secret"] = values["secret"]
            elif not values["public_client"]:
                client["bearerOnly"] = True
            found.append(client)
        return found

    def add_client(self, rid, rep):
        client = rep.get("id") or new_id()
        public = bool(rep.get("publicClient", False))
        secret = rep.get("secret")
        if not public and not secret and not rep.get("bearerOnly"):
            secret = base64.b32encode(os.urandom(20)).decode().rstrip("=")
        self.run("INSERT INTO client VALUES (:id, :r, :c, :n, :e, :s, :p, :d, :sa, :u)", id=client, r=rid,
                 c=rep["clientId"], n=rep.get("name"), e=rep.get("enabled", True), s=None if public else secret,
                 p=public, d=bool(rep.get("directAccessGrantsEnabled", False)),
                 sa=bool(rep.get("serviceAccountsEnabled", False)), u=json.dumps(rep.get("redirectUris") or []))
        return client

    def add_role(self, rid, rep, client=None):
        role = rep.get("id") or new_id()
        self.run("INSERT INTO keycloak_role VALUES (:id, :r, :c, :n, :d)", id=role, r=rid, c=client, n=rep["name"],
                 d=rep.get("description"))
        return role

    def add_group(self, rid, rep, parent):
        group = rep.get("id") or new_id()
        self.run("INSERT INTO keycloak_group VALUES (:id, :r, :n, :p)", id=group, r=rid, n=rep["name"], p=parent)
        for child in rep.get("subGroups") or []:
            self.add_group(rid, child, group)
        return group

    def delete_group(self, group):
        for (child,) in self.run("SELECT id FROM keycloak_group WHERE parent_group = :g", g=group):
            self.delete_group(child)
        self.run("DELETE FROM user_group_membership WHERE group_id = :g", g=group)
        self.run("DELETE FROM keycloak_group WHERE id = :g", g=group)

    # --- users ------------------------------------------------------------------------------------------------

    USER_COLUMNS = ("id", "username", "email", "email_verified", "enabled", "first_name", "last_name",
                    "created_timestamp", "service_account_client_link")

    def users(self, rid, username=None, exact=False, first=0, limit=None, brief=False):
        sql = "SELECT %s FROM user_entity WHERE realm_id = :r" % ", ".join(self.USER_COLUMNS)
        params = {"r": rid}
        if username is not None:
            sql += " AND username %s :u" % ("=" if exact else "LIKE")
            params["u"] = username.lower() if exact else "%%%s%%" % username.lower()
        sql += " ORDER BY username LIMIT :l OFFSET :o"
        params.update(o=first, l=limit if limit is not None else 2 ** 62)
        return [self._user(dict(zip(self.USER_COLUMNS, row)), brief) for row in self.run(sql, **params)]

    def _user(self, row, brief):
        user = {"id": row["id"], "username": row["username"], "emailVerified": row["email_verified"],
                "enabled": row["enabled"], "createdTimestamp": row["created_timestamp"]}
        for key, column in (("email", "email"), ("firstName", "first_name"), ("lastName", "last_name")):
            if row[column]:
                user[key] = row[column]
        if row["service_account_client_link"]:
            user["serviceAccountClientId"] = self.one("SELECT client_id FROM client WHERE id = :c",
                                                      c=row["service_account_client_link"])[0]
        if brief:
            return user
        user["credentials"] = [{"id": cid, "type": kind, "createdDate": created, "secretData": secret,
                                "credentialData": data} for cid, kind, created, secret, data in self.run(
            "SELECT id, type, created_date, secret_data, credential_data FROM credential WHERE user_id = :u "
            "ORDER BY created_date", u=row["id"])]
        user["realmRoles"] = [name for (name,) in self.run(
            "SELECT r.name FROM keycloak_role r JOIN user_role_mapping m ON m.role_id = r.id WHERE m.user_id = :u "
            "AND r.client IS NULL ORDER BY r.name", u=row["id"])]
        groups = {}
        for gid, name, parent in self.run("SELECT id, name, parent_group FROM keycloak_group WHERE realm_id = "
                                          "(SELECT realm_id FROM user_entity WHERE id = :u)", u=row["id"]):
            groups[gid] = (name, parent)
        user["groups"] = sorted(self._path(groups, gid) for (gid,) in self.run(
            "SELECT group_id FROM user_group_membership WHERE user_id = :u", u=row["id"]))
        return user

    @staticmethod
    def _path(groups, gid):
        names = []
        while gid in groups:
            name, gid = groups[gid]
            names.insert(0, name)
        return "/" + "/".join(names)

    def add_user(self, rid, rep):
        """A user from an export (hashed credentials) or from the admin API (``value``: a plain password)."""
        user = rep.get("id") or new_id()
        link = None
        if rep.get("serviceAccountClientId"):
            found = self.clients(rid, rep["serviceAccountClientId"])
            link = found[0]["id"] if found else None
        self.run("INSERT INTO user_entity VALUES (:id, :r, :u, :e, :ev, :en, :f, :l, :t, :s)", id=user, r=rid,
                 u=rep["username"].lower(), e=rep.get("email"), ev=bool(rep.get("emailVerified", False)),
                 en=rep.get("enabled", True), f=rep.get("firstName"), l=rep.get("lastName"),
                 t=rep.get("createdTimestamp") or now_ms(), s=link)
        for credential in rep.get("credentials") or []:
            if "value" in credential:
                secret, data = hash_password(credential["value"])
            else:
                secret, data = credential["secretData"], credential["credentialData"]
            self.run("INSERT INTO credential VALUES (:id, :u, :t, :c, :s, :d)", id=credential.get("id") or new_id(),
                     u=user, t=credential.get("type", "password"), c=credential.get("createdDate") or now_ms(),
                     s=secret, d=data)
        for name in set(rep.get("realmRoles") or []) | {"default-roles-%s" % self.one(
                "SELECT name FROM realm WHERE id = :r", r=rid)[0]}:
            role = self.one("SELECT id FROM keycloak_role WHERE realm_id = :r AND client IS NULL AND name = :n",
                            r=rid, n=name)
            if role:
                self.run("INSERT INTO user_role_mapping VALUES (:r, :u) ON CONFLICT DO NOTHING", r=role[0], u=user)
        for path in rep.get("groups") or []:
            group = self._group_by_path(rid, path)
            if group:
                self.run("INSERT INTO user_group_membership VALUES (:g, :u)", g=group, u=user)
        return user

    def _group_by_path(self, rid, path):
        parent = ""
        for name in [part for part in path.split("/") if part]:
            row = self.one("SELECT id FROM keycloak_group WHERE realm_id = :r AND parent_group = :p AND name = :n",
                           r=rid, p=parent, n=name)
            if not row:
                return None
            parent = row[0]
        return parent or None

    def delete_user(self, user):
        for table in ("credential", "user_role_mapping", "user_group_membership"):
            self.run("DELETE FROM %s WHERE user_id = :u" % table, u=user)
        self.run("DELETE FROM user_entity WHERE id = :u", u=user)

    def authenticate(self, rid, username, password):
        """The user's id when ``password`` is the user's (enabled) password, else None."""
        row = self.one("SELECT id, enabled FROM user_entity WHERE realm_id = :r AND username = :u", r=rid,
                       u=(username or "").lower())
        if not row or not row[1]:
            return None
        for secret, data in self.run("SELECT secret_data, credential_data FROM credential WHERE user_id = :u AND "
                                     "type = 'password'", u=row[0]):
            if password_matches(password or "", secret, data):
                return row[0]
        return None


class _Transaction:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        self.store.run("START TRANSACTION")

    def __exit__(self, kind, *exc):
        self.store.run("ROLLBACK" if kind else "COMMIT")


class _Connection:
    conn = None

    def close(self):
        try:
            self.conn.close()
        except Exception:  # pylint: disable=broad-except
            pass


class _PostgreSQL(_Connection):
    """A pg8000 connection."""

    def __init__(self, settings, url):
        try:
            self.conn = pg8000.native.Connection(user=settings.get("db-username") or "",
                                                 password=settings.get("db-password") or None,
                                                 host=url["host"], port=url["port"], database=url["database"],
                                                 timeout=30)
        except pg8000.exceptions.DatabaseError as exc:
            raise StoreError("FATAL: %s" % _message(exc))
        except (OSError, pg8000.exceptions.InterfaceError) as exc:
            raise StoreError("Connection to %s:%s refused. Check that the hostname and port are correct and that "
                             "the postmaster is accepting TCP/IP connections. (%s)" % (url["host"], url["port"], exc))

    def run(self, sql, **params):
        try:
            return self.conn.run(sql, **params)
        except pg8000.exceptions.DatabaseError as exc:
            raise StoreError(_message(exc))


class _MariaDB(_Connection):
    """A PyMySQL connection that takes the store's PostgreSQL SQL: ``:name`` parameters, ON CONFLICT DO NOTHING,
    current_schema(); booleans (tinyint(1)) read back as booleans."""

    def __init__(self, settings, url):
        if pymysql is None:
            raise StoreError("the emulated Keycloak needs PyMySQL (requirements-test.txt) for db=%s" % settings.get("db"))
        try:
            self.conn = pymysql.connect(user=settings.get("db-username") or "", password=settings.get("db-password")
                                        or "", host=url["host"], port=url["port"], database=url["database"],
                                        autocommit=True, connect_timeout=30, charset="utf8mb4")
        except pymysql.err.OperationalError as exc:
            raise StoreError("Could not connect to address=(host=%s)(port=%s)(type=primary) : %s"
                             % (url["host"], url["port"], _message(exc)))

    def run(self, sql, **params):
        sql = sql.replace("current_schema()", "DATABASE()")
        if params:  # PyMySQL formats the query with the parameters only when there are some
            sql = sql.replace("%", "%%")
        if "ON CONFLICT DO NOTHING" in sql:
            sql = sql.replace("INSERT INTO", "INSERT IGNORE INTO").replace(" ON CONFLICT DO NOTHING", "")
        sql = re.sub(r"(?<![:\w]):([a-z]+)\b", r"%(\1)s", sql)
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(sql, params or None)
                if cursor.description is None:
                    return []
                tiny = [column[1] == pymysql.constants.FIELD_TYPE.TINY for column in cursor.description]
                return [[bool(value) if flag and value is not None else value for value, flag in zip(row, tiny)]
                        for row in cursor.fetchall()]
        except pymysql.err.MySQLError as exc:
            raise StoreError(_message(exc))


def _message(exc) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):
        return detail.get("M", str(detail))
    if isinstance(detail, int) and len(exc.args) > 1:  # PyMySQL: (code, message)
        return "(conn=0) %s" % exc.args[1]
    return str(detail)
