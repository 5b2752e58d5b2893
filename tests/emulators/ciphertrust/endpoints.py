# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated CipherTrust Manager's endpoints, one method each, and the errors and views they answer with. The
source of every field and message is in the table at the top of ct_api.py, which routes requests here."""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import secrets
import time
import uuid

import ct_scp
import ct_store as store
from ct_store import ROOT_DOMAIN, FileRefused, WrongPassword

ACCOUNT, BACKUP_FORMAT, REFRESH_SECONDS = "kylo:kylo:admin:accounts:kylo", "v1.1.4", 1800
RESOURCE_TYPES = ("Keys", "cte_policies", "customer_fragments", "users_groups")
KINDS = {400: "NCERRInvalidParamValue", 401: "NCERRUnauthorized", 403: "NCERRForbidden", 404: "NCERRResourceNotFound",
         405: "NCERRNotFound", 409: "NCERRConflict", 500: "NCERRInternal"}
TOKEN_FIELDS = {"grant_type": str, "username": str, "password": str, "domain": str, "auth_domain": str,
                "refresh_token": str, "renew_refresh_token": bool, "refresh_token_lifetime": int, "labels": list,
                "connection": str, "cookies": bool, "client_id": str, "refresh_token_revoke_unused_in": int}
SCP_FIELDS = {"connection": str, "host": str, "port": int, "username": str, "auth_method": str, "password": str,
              "public_key": str, "path_to": str}


class ApiError(Exception):
    def __init__(self, status, message, kind=None):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind or KINDS[status]

    def body(self) -> dict:
        return {"code": self.status, "codeDesc": "%s: %s" % (self.kind, self.message), "message": self.message}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fields(body, allowed, required=()) -> dict:
    """The body, refused (400) when a field is unknown, of the wrong type, or required and missing."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, "unknown field(s) in the request body: %s" % ", ".join(unknown))
    for name, kind in allowed.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise ApiError(400, "%s must be of type %s" % (name, kind.__name__))
        if name in required and value in (None, ""):
            raise ApiError(400, "%s is required" % name)
    return body


def decoded(text) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "file must be base64") from None


def page(items, query) -> dict:
    try:
        skip, limit = int(query.get("skip", 0)), int(query.get("limit", 10))
    except ValueError:
        raise ApiError(400, "skip and limit must be integers") from None
    if skip < 0 or limit < 0:
        raise ApiError(400, "skip and limit must not be negative")
    return {"skip": skip, "limit": limit, "total": len(items), "resources": items[skip:skip + limit]}


def view(row, kind) -> dict:
    """A row as the API shows it: kind is backupkey, backup or key."""
    if kind == "key":
        return {"id": row["id"], "uri": "kylo:kylo:vault:keys:%s-v0" % row["name"], "account": ACCOUNT,
                "name": row["name"], "algorithm": row["algorithm"], "size": row["size"],
                "usageMask": row["usage_mask"], "state": "Active", "version": 0, "objectType": "Symmetric Key",
                "createdAt": row["created_at"], "updatedAt": row["created_at"]}
    shown = {"scope": row["scope"], "account": ACCOUNT}
    if row["scope"] == "domain":
        shown["domainID"] = row["domain_id"]
    if kind == "backupkey":
        return dict(shown, version="2", id=row["id"], createdAt=row["created_at"], isDefault=bool(row["is_default"]))
    return dict(shown, version=BACKUP_FORMAT, id=row["id"], createdAt=row["created_at"], status=row["status"],
                tiedToHSM=bool(row["tied"]), backupKey=row["backup_key"], productVersion=row["product_version"],
                description=row["description"])


def transfer_view(row) -> dict:
    shown = {"id": row["id"], "host": row["host"], "connection_status": row["connection_status"],
             "createdAt": row["created_at"], "updatedAt": row["updated_at"]}
    return dict(shown, message=row["message"]) if row["message"] else shown


class Endpoints:
    """One request: ``caller`` is whom its token names (None for /auth/tokens)."""

    def __init__(self, appliance, caller, query, body):
        self.appliance, self.caller, self.query, self.body = appliance, caller, query, body
        self.config, self.store = appliance.config, appliance.store

    def _may_system(self, what="system backups"):
        if self.caller["role"] != "admin" or self.caller["domain_id"] != ROOT_DOMAIN:
            raise ApiError(403, "Domain administrators are not authorized to perform %s" % what)

    def _scope(self, scope):
        """The domain a scope's resource belongs to (None: system, which domain administrators may not touch)."""
        if scope not in ("system", "domain"):
            raise ApiError(400, "scope must be system or domain, not %r" % scope)
        if scope == "system":
            self._may_system()
        return None if scope == "system" else self.caller["domain_id"]

    def _visible(self, row) -> bool:
        if row["scope"] == "system":
            return self.caller["role"] == "admin" and self.caller["domain_id"] == ROOT_DOMAIN
        return row["domain_id"] == self.caller["domain_id"]

    def _found(self, row, what, row_id):
        if not row or not self._visible(row):
            raise ApiError(404, "%s %s not found" % (what, row_id))
        return row

    @staticmethod
    def _busy(db):
        operation = db.operation()
        if operation and operation["status"] == "In Progress":
            raise ApiError(409, "a backup or restore operation is in progress (%s %s): only one runs at a time" % (
                operation["operation"], operation["id"]))

    def _listed(self, rows, kind):
        scope = self.query.get("scope")
        if scope == "system":
            self._may_system()
        return 200, page([view(row, kind) for row in rows if self._visible(row) and scope in (None, row["scope"])],
                         self.query)

    def _hsm_matches(self, header) -> bool:
        ours = self.config["hsm_root_key"]
        return bool(ours) and hmac.compare_digest(store.fingerprint(ours), str(header.get("mkekChecksum")))

    # --- auth and system -------------------------------------------------------------------------------------

    def tokens(self):
        body = fields(self.body, TOKEN_FIELDS, ("grant_type",))
        if body["grant_type"] == "refresh_token":
            held = self.appliance.refresh_tokens.get(fields(body, TOKEN_FIELDS, ("refresh_token",))["refresh_token"])
            if not held or held[2] < time.time():
                raise ApiError(401, "Unauthorized: invalid or expired refresh token")
            user, domain_id = held[:2]
        elif body["grant_type"] == "password":
            fields(body, TOKEN_FIELDS, ("username", "password"))
            with self.store() as db:
                user = db.user(body["username"])
                auth = db.domain(body["auth_domain"]) if body.get("auth_domain") else None
                # No domain: the auth domain, else the user's own (lenient where CipherTrust's default is unclear).
                domain = db.domain(body["domain"]) if body.get("domain") else auth or (
                    db.domain(user["domain_id"]) if user else None)
            good = user and hmac.compare_digest(store.password_hash(body["password"], user["salt"])[1], user["hash"])
            if not good or not domain or (body.get("auth_domain") and (not auth or auth["id"] != user["domain_id"])) \
                    or user["domain_id"] not in (ROOT_DOMAIN, domain["id"]):
                raise ApiError(401, "Unauthorized: invalid user credentials or domain")
            domain_id = domain["id"]
        else:
            raise ApiError(400, "grant_type %r is not supported (password or refresh_token)" % body["grant_type"])
        refresh = body.get("refresh_token") or secrets.token_urlsafe(48)
        self.appliance.refresh_tokens[refresh] = (user, domain_id, time.time() + REFRESH_SECONDS)
        return 200, dict(self.appliance.jwt(user, domain_id), client_id=str(uuid.uuid5(uuid.NAMESPACE_URL, user[
            "name"])), refresh_token=refresh, refresh_token_expires_in=REFRESH_SECONDS)

    def system_info(self):
        return 200, {"name": self.config["name"], "model": "CipherTrust Manager k170v", "vendor": "Thales Group",
                     "version": self.config["version"]}

    # --- backup keys -----------------------------------------------------------------------------------------

    def list_backup_keys(self):
        with self.store() as db:
            return self._listed(db.backup_keys(), "backupkey")

    def create_backup_key(self):
        body = fields(self.body, {"scope": str, "default": bool})
        domain_id = self._scope(body.get("scope") or "system")
        with self.store() as db:
            return 201, view(db.add_backup_key(body.get("scope") or "system", domain_id, body.get("default"), now()),
                             "backupkey")

    def get_backup_key(self, id):  # noqa: A002  (the path's name)
        with self.store() as db:
            return 200, view(self._found(db.backup_key(id), "backup key", id), "backupkey")

    def delete_backup_key(self, id):  # noqa: A002
        with self.store() as db:
            db.delete("backup_keys", self._found(db.backup_key(id), "backup key", id)["id"])
        return 204, None

    def default_backup_key(self, id):  # noqa: A002
        fields(self.body, {})
        with self.store() as db:
            db.make_default(self._found(db.backup_key(id), "backup key", id))
            return 200, view(db.backup_key(id), "backupkey")

    def download_backup_key(self, id):  # noqa: A002
        body = fields(self.body, {"password": str, "hint": str}, ("password",))
        with self.store() as db:
            key = self._found(db.backup_key(id), "backup key", id)
        return 200, store.key_file(key, body["password"], body.get("hint"))

    def upload_backup_key(self):
        body = fields(self.body, {"file": str, "password": str, "scope": str}, ("file", "password"))
        domain_id = self._scope(body.get("scope") or "system")
        try:
            header, material = store.open_key_file(decoded(body["file"]), body["password"])
        except WrongPassword as exc:
            raise ApiError(400, "incorrect password for backup key %s: the password is wrong" % exc) from None
        except FileRefused as exc:
            raise ApiError(400, "backup key file refused: %s" % exc) from None
        with self.store() as db:
            if db.backup_key(header["keyid"]):
                raise ApiError(409, "backup key %s already exists on this appliance" % header["keyid"])
            return 201, view(db.add_backup_key(body.get("scope") or "system", domain_id, False, header.get(
                "createdAt") or now(), header["keyid"], material), "backupkey")

    # --- backups ---------------------------------------------------------------------------------------------

    def list_backups(self):
        with self.store() as db:
            return self._listed(db.backups(), "backup")

    def create_backup(self):
        body = fields(self.body, {"scope": str, "backupKey": str, "description": str, "tiedToHSM": bool,
                                  "filters": list})
        scope, tied, filters = body.get("scope") or "system", bool(body.get("tiedToHSM")), body.get("filters")
        domain_id = self._scope(scope)
        if tied and scope == "domain":
            raise ApiError(400, "tiedToHSM is invalid for domain scoped backups: they cannot be tied to an HSM")
        if tied and not self.config["hsm_root_key"]:
            raise ApiError(400, "tiedToHSM needs an HSM root of trust, and this appliance has none")
        if filters is not None and scope == "system":
            raise ApiError(400, "filters apply to domain scoped backups only")
        for item in filters or ():
            if not isinstance(item, dict) or set(item) - {"resourceType", "resourceQuery"} or item.get(
                    "resourceType") not in RESOURCE_TYPES or not isinstance(item.get("resourceQuery", {}), dict):
                raise ApiError(400, "a filter is {resourceType: %s, resourceQuery: {...}}" % "|".join(RESOURCE_TYPES))
        with self.store() as db:
            named = body.get("backupKey")
            key = db.backup_key(named) if named else db.default_backup_key(scope, domain_id)
            if not key or not self._visible(key):
                raise ApiError(400, "backup key %s not found" % named if named else
                               "there is no default %s backup key here: create one or name backupKey" % scope)
            if key["scope"] != scope:
                raise ApiError(400, "backup key %s is a %s key: a %s backup needs a %s scoped key" % (
                    key["id"], key["scope"], scope, scope))
            self._busy(db)
            domain = db.domain(domain_id) if domain_id else None
            meta = {"version": BACKUP_FORMAT, "createdAt": now(), "scope": scope, "domainID": domain_id or "",
                    "domain": domain["name"] if domain else "", "backupKeyId": key["id"], "isEncrypted": True,
                    "creatorAccount": ACCOUNT, "isHSMBacked": tied, "description": body.get("description") or "",
                    "mkekChecksum": store.fingerprint(self.config["hsm_root_key"] if tied else self.appliance.mkek),
                    "productVersion": "v" + self.config["version"], "id": str(uuid.uuid4())}
            data = store.backup_file(meta, db.snapshot(scope, domain_id, filters), key["material"],
                                     self.config["hsm_root_key"] if tied else None)
            db.add_backup(id=meta["id"], scope=scope, domain_id=domain_id, created_at=meta["createdAt"],
                          status="In Progress", tied=int(tied), backup_key=key["id"],
                          product_version=meta["productVersion"], description=meta["description"], file=data)
            db.set_operation(id=meta["id"], operation="Backup create", scope=scope, status="In Progress",
                             started=meta["createdAt"])
            created = view(db.backup(meta["id"]), "backup")
        self.appliance.later(self.config["operation_seconds"], lambda: self.appliance.finish(backup_id=meta["id"]))
        return 201, created

    def get_backup(self, id):  # noqa: A002
        with self.store() as db:
            return 200, view(self._found(db.backup(id), "backup", id), "backup")

    def delete_backup(self, id):  # noqa: A002
        with self.store() as db:
            if self._found(db.backup(id), "backup", id)["status"] == "In Progress":
                raise ApiError(409, "backup %s is in progress" % id)
            db.delete("backups", id)
        return 204, None

    def download_backup(self, id):  # noqa: A002
        with self.store() as db:
            backup = self._found(db.backup(id), "backup", id)
        if backup["status"] != "Completed":
            raise ApiError(409, "backup %s is not completed (status %s)" % (id, backup["status"]))
        return 200, backup["file"]

    def upload_backup(self):
        body = fields(self.body, {"file": str, "scope": str}, ("file",))
        data = decoded(body["file"])
        try:
            header = store.read_backup_header(data)
        except FileRefused as exc:
            raise ApiError(400, "backup file refused: %s" % exc) from None
        if body.get("scope") not in (None, header["scope"]):
            raise ApiError(400, "scope %s is not the file's scope %s" % (body["scope"], header["scope"]))
        domain_id = self._scope(header["scope"])  # a domain backup is uploaded into the caller's domain
        with self.store() as db:
            if db.backup(header["id"]):
                raise ApiError(409, "backup %s already exists on this appliance" % header["id"])
            key = db.backup_key(header["backupKeyId"])
            if key and (not header["isHSMBacked"] or self._hsm_matches(header)):
                try:  # the key is here: a changed file is refused now, not only at restore
                    store.open_backup(data, key["material"], self.config["hsm_root_key"] if header[
                        "isHSMBacked"] else None)
                except FileRefused as exc:
                    raise ApiError(400, "backup file refused: %s" % exc) from None
            db.add_backup(id=header["id"], scope=header["scope"], domain_id=domain_id, created_at=header["createdAt"],
                          status="Completed", tied=int(bool(header["isHSMBacked"])), backup_key=header["backupKeyId"],
                          product_version=header["productVersion"], description=header.get("description") or "",
                          file=data)
            return 201, view(db.backup(header["id"]), "backup")

    def restore(self, id):  # noqa: A002
        force = bool(fields(self.body, {"force": bool}).get("force"))
        with self.store() as db:
            backup = self._found(db.backup(id), "backup", id)
            if backup["status"] != "Completed":
                raise ApiError(409, "backup %s is not completed (status %s)" % (id, backup["status"]))
            if backup["scope"] == "system":
                self._may_system("system restores")
                if self.config["cluster_node"]:
                    raise ApiError(400, "System backups cannot be restored on a cluster node: use the cluster "
                                        "Remove/Rebuild method")
            self._busy(db)
            refusal = store.restore_refusal(backup["product_version"], self.config["version"], self.config["lts"],
                                            force)
            if refusal:
                raise ApiError(400, refusal)
            key = db.backup_key(backup["backup_key"])
            if not key or key["scope"] != backup["scope"] or key["domain_id"] != backup["domain_id"]:
                raise ApiError(400, "backup key %s, which backup %s is encrypted with, is not on this appliance (in "
                                    "its scope and domain): upload it first" % (backup["backup_key"], id))
            if backup["tied"] and not self._hsm_matches(store.read_backup_header(backup["file"])):
                raise ApiError(400, "backup %s is tied to an HSM, and this appliance has not the same HSM root key"
                               % id)
            try:
                payload = store.open_backup(backup["file"], key["material"],
                                            self.config["hsm_root_key"] if backup["tied"] else None)
            except FileRefused as exc:
                raise ApiError(400, "backup file refused: %s" % exc) from None
            db.set_operation(id=id, operation="Backup restore", scope=backup["scope"], status="In Progress",
                             started=now())
        self.appliance.later(self.config["operation_seconds"], lambda: self.appliance.finish(restore=(
            payload, backup["scope"], backup["domain_id"])))
        return 202, view(backup, "backup")

    def backup_status(self):
        with self.store() as db:
            operation = db.operation()
        if not operation:
            raise ApiError(404, "no backup or restore operation has run on this appliance yet")
        shown = {"scope": operation["scope"], "account": ACCOUNT, "operation": operation["operation"],
                 "id": operation["id"], "started": operation["started"], "status": operation["status"]}
        return 200, dict(shown, **{name: operation[name] for name in ("finished", "message") if operation[name]})

    # --- SCP: system backups sent to a host (ct_scp.py) ----------------------------------------------------------

    def scp(self, id):  # noqa: A002
        body = fields(self.body, SCP_FIELDS)
        if body.get("connection"):
            raise ApiError(400, "the emulator keeps no SCP connections: name host, port, username, auth_method, "
                                "public_key and path_to")
        fields(body, SCP_FIELDS, ("host", "username", "auth_method", "public_key", "path_to"))
        if body["auth_method"] not in ("key", "password"):
            raise ApiError(400, "auth_method must be key or password")
        if body["auth_method"] == "password" and not body.get("password"):
            raise ApiError(400, "password is required with auth_method password")
        if not body["path_to"].startswith("/"):
            raise ApiError(400, "path_to must be a complete path, not one relative to the user's home")
        self._may_system("SCP transfers")
        with self.store() as db:
            backup = self._found(db.backup(id), "backup", id)
            if backup["scope"] != "system":
                raise ApiError(400, "SCP transfers system backups only: backup %s is a %s backup" % (
                    id, backup["scope"]))
            if backup["status"] != "Completed":
                raise ApiError(409, "backup %s is not completed (status %s)" % (id, backup["status"]))
            stamp = now()
            row = {"id": str(uuid.uuid4()), "backup_id": id, "host": body["host"], "connection_status": "in_progress",
                   "created_at": stamp, "updated_at": stamp, "message": None}
            db.add_transfer(**row)
        self.appliance.later(0, lambda: self.appliance.send(row["id"], backup, body))
        return 201, transfer_view(row)

    def scp_status(self, id, scp_id=None):  # noqa: A002
        with self.store() as db:
            self._found(db.backup(id), "backup", id)
            transfers = [transfer_view(row) for row in db.transfers(id) if scp_id in (None, row["id"])]
        if scp_id is None:
            return 200, transfers
        if not transfers:
            raise ApiError(404, "SCP transfer %s of backup %s not found" % (scp_id, id))
        return 200, transfers[0]

    def scp_public_key(self):
        self._may_system("SCP transfers")
        return 200, ct_scp.public_key(self.appliance.home)

    def rotate_scp_key(self):
        fields(self.body, {})
        self._may_system("SCP transfers")
        ct_scp.public_key(self.appliance.home, rotate=True)
        return 200, {"success": True}

    # --- ordinary keys, in the token's domain ------------------------------------------------------------------

    def list_keys(self):
        with self.store() as db:
            keys = db.keys(self.caller["domain_id"])
        name = self.query.get("name")
        return 200, page([view(key, "key") for key in keys if name in (None, key["name"])], self.query)

    def create_key(self):
        body = fields(self.body, {"name": str, "algorithm": str, "size": int, "usageMask": int}, ("name",))
        algorithm, size = (body.get("algorithm") or "aes").lower(), body.get("size") or 256
        if algorithm != "aes" or size not in (128, 192, 256):
            raise ApiError(400, "the emulator makes AES keys of 128, 192 or 256 bits only")
        with self.store() as db:
            if any(key["name"] == body["name"] for key in db.keys(self.caller["domain_id"])):
                raise ApiError(409, "Key already exists", "NCERRKeyAlreadyExists")
            return 201, view(db.add_key(self.caller["domain_id"], body["name"], algorithm, size,
                                        body.get("usageMask") or 12, now()), "key")

    def _key(self, db, key_id):
        key = db.key(key_id)
        if not key or key["domain_id"] != self.caller["domain_id"]:
            raise ApiError(404, "Resource not found: key %s" % key_id)
        return key

    def get_key(self, id):  # noqa: A002
        with self.store() as db:
            return 200, view(self._key(db, id), "key")

    def delete_key(self, id):  # noqa: A002
        with self.store() as db:
            db.delete("keys", self._key(db, id)["id"])
        return 204, None
