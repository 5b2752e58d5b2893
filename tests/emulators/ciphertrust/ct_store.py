# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated CipherTrust Manager's data: a real SQLite file (``data/ciphertrust.db``), the backup and backup key
files it writes, and the release rule. Standard library only.

Tables: ``domains``, ``users``, ``backup_keys`` (with their key material), ``backups`` (with the file's bytes),
``keys`` (the ordinary keys of /vault/keys2, the data a restore must visibly bring back), ``operation`` (the last
backup or restore, one row), ``scp_transfers`` (each backup's SCP transfers) and ``meta`` (the JWT signing secret, the appliance's own MKEK secret).

What a system backup holds follows the chapter's lists (reference 001, "Backup contents"): domains, users and keys,
but NOT backup keys; a domain backup holds that domain's keys, chosen by its filters. Restoring replaces those.

The crypto is the emulator's own, not CipherTrust's format: a stream cipher of HMAC-SHA256 in counter mode with
encrypt-then-MAC (HMAC-SHA256); keys from passwords by PBKDF2-HMAC-SHA256. It is sound enough that a wrong password
or one changed byte is detected, which is what the tests need.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import uuid

ROOT_DOMAIN = "00000000-0000-0000-0000-000000000000"
ITERATIONS = 20000
SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE domains (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE users (name TEXT PRIMARY KEY, domain_id TEXT NOT NULL, role TEXT NOT NULL, salt TEXT, hash TEXT);
CREATE TABLE backup_keys (id TEXT PRIMARY KEY, scope TEXT NOT NULL, domain_id TEXT, created_at TEXT NOT NULL,
                          is_default INTEGER NOT NULL, material BLOB NOT NULL);
CREATE TABLE backups (id TEXT PRIMARY KEY, scope TEXT NOT NULL, domain_id TEXT, created_at TEXT NOT NULL,
                      status TEXT NOT NULL, tied INTEGER NOT NULL, backup_key TEXT NOT NULL,
                      product_version TEXT NOT NULL, description TEXT NOT NULL, file BLOB);
CREATE TABLE keys (id TEXT PRIMARY KEY, domain_id TEXT NOT NULL, name TEXT NOT NULL, algorithm TEXT NOT NULL,
                   size INTEGER NOT NULL, usage_mask INTEGER NOT NULL, created_at TEXT NOT NULL, material TEXT NOT NULL,
                   UNIQUE (domain_id, name));
CREATE TABLE operation (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT, operation TEXT, scope TEXT,
                        status TEXT, started TEXT, finished TEXT, message TEXT);
CREATE TABLE scp_transfers (id TEXT PRIMARY KEY, backup_id TEXT NOT NULL, host TEXT NOT NULL,
                            connection_status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                            message TEXT);
"""
KEY_COLUMNS = ("id", "domain_id", "name", "algorithm", "size", "usage_mask", "created_at", "material")


class FileRefused(Exception):
    """A backup or backup key file that cannot be read: damaged, changed, or not one of ours."""


class WrongPassword(Exception):
    """A backup key file opened with another password than the one it was downloaded with."""


# --- crypto ----------------------------------------------------------------------------------------------------

def _mac(key, data) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _xor_stream(key, nonce, data) -> bytes:
    stream = b"".join(_mac(key, nonce + counter.to_bytes(8, "big")) for counter in range(len(data) // 32 + 1))
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:len(data)], "big")).to_bytes(len(data), "big")


def seal(key, plaintext, associated=b"") -> bytes:
    """nonce | ciphertext | tag; the tag also covers ``associated`` (a file's clear header)."""
    nonce = secrets.token_bytes(16)
    sealed = nonce + _xor_stream(_mac(key, b"encrypt"), nonce, plaintext)
    return sealed + _mac(_mac(key, b"authenticate"), associated + sealed)


def unseal(key, sealed, associated=b"") -> bytes:
    body, tag = sealed[:-32], sealed[-32:]
    if len(sealed) < 48 or not hmac.compare_digest(tag, _mac(_mac(key, b"authenticate"), associated + body)):
        raise FileRefused("its contents do not match their authentication tag (changed, or another key)")
    return _xor_stream(_mac(key, b"encrypt"), body[:16], body[16:])


def password_hash(password, salt=None) -> tuple:
    salt = salt or secrets.token_hex(16)
    return salt, hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), ITERATIONS).hex()


def _b64url(data) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(secret, claims) -> str:
    """An HS256 JWT (the emulator's own claims; CipherTrust's are signed by its own key)."""
    signed = "%s.%s" % (_b64url(b'{"alg":"HS256","typ":"JWT"}'), _b64url(json.dumps(claims).encode()))
    return signed + "." + _b64url(_mac(secret, signed.encode()))


def jwt_claims(secret, token):
    """The claims of a JWT this appliance signed, None for any other string."""
    signed, _dot, signature = token.rpartition(".")
    if signed.count(".") != 1 or not hmac.compare_digest(signature, _b64url(_mac(secret, signed.encode()))):
        return None
    return json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "=="))


def _two_lines(data) -> tuple:
    try:
        head, body = data.split(b"\n", 2)[:2]
        return json.loads(head), base64.b64decode(body, validate=True), head
    except (ValueError, TypeError) as exc:
        raise FileRefused("it is not a file this appliance wrote (%s)" % exc) from None


# --- backup key files: a clear header (what ``ksctl backupkeys inspect`` shows), then the sealed material ---------

def key_file(key, password, hint=None) -> bytes:
    header = {"version": 2, "keyid": key["id"], "createdAt": key["created_at"]}
    if hint:
        header["hint"] = hint
    head = json.dumps(header, sort_keys=True).encode()
    salt = secrets.token_bytes(16)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    # A short check value tells a wrong password (400 "incorrect password") from a changed file.
    body = salt + _mac(derived, b"password check")[:8] + seal(derived, key["material"], head)
    return head + b"\n" + base64.b64encode(body) + b"\n"


def open_key_file(data, password) -> tuple:
    """(header, key material)."""
    header, body, head = _two_lines(data)
    if not isinstance(header, dict) or not isinstance(header.get("keyid"), str) or len(body) < 72:
        raise FileRefused("it is not a backup key file")
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), body[:16], ITERATIONS)
    if not hmac.compare_digest(body[16:24], _mac(derived, b"password check")[:8]):
        raise WrongPassword(header["keyid"])
    return header, unseal(derived, body[24:], head)


# --- backup files: the metadata of ``ksctl backup inspect`` in clear, then the sealed payload --------------------

def _backup_cipher_key(material, hsm_root_key) -> bytes:
    # A backup tied to the HSM needs the HSM root key as well as the backup key to open.
    return _mac(material, b"backup" + (b"|hsm|" + hsm_root_key.encode() if hsm_root_key else b""))


def fingerprint(secret) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def backup_file(meta, payload, material, hsm_root_key=None) -> bytes:
    head = json.dumps(meta, sort_keys=True).encode()
    sealed = seal(_backup_cipher_key(material, hsm_root_key), json.dumps(payload).encode(), head)
    header = dict(meta, checksum=hashlib.sha256(sealed).hexdigest())
    return json.dumps(header, sort_keys=True).encode() + b"\n" + base64.b64encode(sealed) + b"\n"


def read_backup_header(data) -> dict:
    """The file's metadata; refused when it is not a backup file or its checksum does not match its payload."""
    header, sealed, _head = _two_lines(data)
    wanted = ("id", "scope", "productVersion", "backupKeyId", "isHSMBacked", "createdAt", "checksum")
    if not isinstance(header, dict) or any(name not in header for name in wanted):
        raise FileRefused("it is not a backup file (its metadata lacks %s)" % ", ".join(wanted))
    if header["scope"] not in ("system", "domain") or not re.match(r"^[0-9a-f-]{36}$", str(header["id"])):
        raise FileRefused("its metadata names no valid scope or id")
    if not hmac.compare_digest(header["checksum"], hashlib.sha256(sealed).hexdigest()):
        raise FileRefused("its checksum does not match its contents")
    return header


def open_backup(data, material, hsm_root_key=None) -> dict:
    header, sealed, _head = _two_lines(data)
    meta = {name: value for name, value in header.items() if name != "checksum"}
    head = json.dumps(meta, sort_keys=True).encode()
    return json.loads(unseal(_backup_cipher_key(material, hsm_root_key), sealed, head))


# --- the release rule (reference 001 "Release compatibility"; notes section 3, the latest docs) ---------------

def release(text) -> tuple:
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(text))
    if not match:
        raise ValueError("not a release: %r" % text)
    return tuple(int(part or 0) for part in match.groups())


def restore_refusal(made_on, here, lts, force) -> str | None:
    """Why a backup of product version ``made_on`` may not be restored on release ``here`` (None: it may). The
    same release or the next three minor ones; an LTS release also on the next two LTS releases; older than that
    only with force; never onto an older release, force or not."""
    made, now = release(made_on), release(here)
    if now < made:
        return ("backup of %s cannot be restored on the older release %s: downgrade is not supported, with or "
                "without force" % (made_on, here))
    if made[0] == now[0] and now[1] - made[1] <= 3:
        return None
    releases = sorted(release(item)[:2] for item in lts)
    if made[:2] in releases and now[:2] in [item for item in releases if item > made[:2]][:2]:
        return None
    if force:
        return None
    return ("backup of %s is more than three minor releases older than %s (and not one of the next two LTS "
            "releases): restore with force to skip the version check" % (made_on, here))


# --- the database ----------------------------------------------------------------------------------------------

class Store:
    """One connection to the appliance's database; the server serialises its use with one lock."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, timeout=30)
        self.db.row_factory = sqlite3.Row

    def close(self):
        self.db.close()

    def commit(self):
        self.db.commit()

    def _all(self, sql, *args) -> list:
        return [dict(row) for row in self.db.execute(sql, args)]

    def _one(self, sql, *args):
        found = self._all(sql, *args)
        return found[0] if found else None

    def initialise(self, passwords, now):
        """A first boot: the root domain and dom1, admin and domadmin, a default system and a default domain
        (root) backup key."""
        self.db.executescript(SCHEMA)
        dom1 = str(uuid.uuid4())
        self.db.executemany("INSERT INTO domains VALUES (?, ?)", [(ROOT_DOMAIN, "root"), (dom1, "dom1")])
        for name, domain, role in (("admin", ROOT_DOMAIN, "admin"), ("domadmin", dom1, "domain_admin")):
            self.db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", (name, domain, role) + password_hash(
                passwords[name]))
        for name in ("jwt_secret", "mkek"):
            self.db.execute("INSERT INTO meta VALUES (?, ?)", (name, secrets.token_hex(32)))
        self.add_backup_key("system", None, True, now)
        self.add_backup_key("domain", ROOT_DOMAIN, True, now)
        self.commit()

    def meta(self, name) -> str:
        return self._one("SELECT value FROM meta WHERE name = ?", name)["value"]

    def domain(self, id_or_name):
        return self._one("SELECT * FROM domains WHERE id = ? OR name = ?", id_or_name, id_or_name)

    def user(self, name):
        return self._one("SELECT * FROM users WHERE name = ?", name)

    # backup keys
    def add_backup_key(self, scope, domain_id, default, now, key_id=None, material=None) -> dict:
        if default:
            self.db.execute("UPDATE backup_keys SET is_default = 0 WHERE scope = ? AND domain_id IS ?",
                            (scope, domain_id))
        key_id = key_id or str(uuid.uuid4())
        self.db.execute("INSERT INTO backup_keys VALUES (?, ?, ?, ?, ?, ?)", (
            key_id, scope, domain_id, now, int(bool(default)), material or secrets.token_bytes(32)))
        return self.backup_key(key_id)

    def backup_key(self, key_id):
        return self._one("SELECT * FROM backup_keys WHERE id = ?", key_id)

    def backup_keys(self) -> list:
        return self._all("SELECT * FROM backup_keys ORDER BY rowid")

    def default_backup_key(self, scope, domain_id):
        return self._one("SELECT * FROM backup_keys WHERE scope = ? AND domain_id IS ? AND is_default = 1", scope,
                         domain_id if scope == "domain" else None)

    def make_default(self, key):
        self.db.execute("UPDATE backup_keys SET is_default = (id = ?) WHERE scope = ? AND domain_id IS ?", (
            key["id"], key["scope"], key["domain_id"]))

    # backups
    def _insert(self, table, row):
        self.db.execute("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(row), ", ".join("?" * len(row))),
                        tuple(row.values()))

    def _update(self, table, row_id, values):
        self.db.execute("UPDATE %s SET %s WHERE id = ?" % (table, ", ".join("%s = ?" % name for name in values)),
                        tuple(values.values()) + (row_id,))

    def add_backup(self, **row):
        self._insert("backups", row)

    def backup(self, backup_id):
        return self._one("SELECT * FROM backups WHERE id = ?", backup_id)

    def backups(self) -> list:
        return self._all("SELECT * FROM backups ORDER BY rowid")

    def set_backup(self, backup_id, **values):
        self._update("backups", backup_id, values)

    def delete(self, table, row_id):
        self.db.execute("DELETE FROM %s WHERE id = ?" % table, (row_id,))

    # ordinary keys
    def add_key(self, domain_id, name, algorithm, size, usage_mask, now) -> dict:
        key_id = str(uuid.uuid4())
        self.db.execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
            key_id, domain_id, name, algorithm, size, usage_mask, now, secrets.token_hex(size // 8)))
        return self.key(key_id)

    def key(self, key_id):
        return self._one("SELECT * FROM keys WHERE id = ?", key_id)

    def keys(self, domain_id=None) -> list:
        if domain_id is None:
            return self._all("SELECT * FROM keys ORDER BY rowid")
        return self._all("SELECT * FROM keys WHERE domain_id = ? ORDER BY rowid", domain_id)

    # backups' contents
    def snapshot(self, scope, domain_id, filters) -> dict:
        if scope == "system":
            return {"domains": self._all("SELECT * FROM domains ORDER BY rowid"),
                    "users": self._all("SELECT * FROM users ORDER BY rowid"), "keys": self.keys()}
        keys = self.keys(domain_id)
        if filters is not None:
            queries = [item.get("resourceQuery") or {} for item in filters if item["resourceType"] == "Keys"]
            keys = [key for key in keys if any(all(str(key.get(_column(name))) == str(value)
                                                   for name, value in query.items()) for query in queries)]
        return {"keys": keys}

    def replace(self, payload, scope, domain_id):
        """A restore: a system backup's domains, users and keys in place of all of them; a domain backup's keys in
        place of that domain's."""
        if scope == "system":
            for table in ("domains", "users", "keys"):
                self.db.execute("DELETE FROM %s" % table)
            for row in payload["domains"]:
                self.db.execute("INSERT INTO domains VALUES (?, ?)", (row["id"], row["name"]))
            for row in payload["users"]:
                self.db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", tuple(
                    row[name] for name in ("name", "domain_id", "role", "salt", "hash")))
        else:
            self.db.execute("DELETE FROM keys WHERE domain_id = ?", (domain_id,))
        for row in payload["keys"]:
            row = dict(row, domain_id=domain_id if scope == "domain" else row["domain_id"])
            if self.key(row["id"]):
                row["id"] = str(uuid.uuid4())  # the same keys restored into a second domain: ids stay unique
            self.db.execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)", tuple(row[c] for c in KEY_COLUMNS))

    # SCP transfers
    def add_transfer(self, **row):
        self._insert("scp_transfers", row)

    def transfers(self, backup_id) -> list:
        return self._all("SELECT * FROM scp_transfers WHERE backup_id = ? ORDER BY rowid", backup_id)

    def set_transfer(self, transfer_id, **values):
        self._update("scp_transfers", transfer_id, values)

    # the last operation
    def operation(self):
        return self._one("SELECT * FROM operation WHERE one = 1")

    def set_operation(self, **values):
        if values.get("status") == "In Progress":
            self.db.execute("DELETE FROM operation")
            self.db.execute("INSERT INTO operation (one, %s) VALUES (1, %s)" % (", ".join(values), ", ".join(
                "?" * len(values))), tuple(values.values()))
        else:
            self.db.execute("UPDATE operation SET %s WHERE one = 1" % ", ".join("%s = ?" % name for name in values),
                            tuple(values.values()))


def _column(name) -> str:
    """A filter's resourceQuery names the API's fields; the table's columns are snake_case."""
    return {"usageMask": "usage_mask", "createdAt": "created_at"}.get(name, name)
