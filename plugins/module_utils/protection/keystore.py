# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup keys, modelled on CipherTrust Manager's.

A key has an id (UUID), an optional name, a scope (``system``, or ``domain``
with a domain name), a creation time, and may be the default for its scope.

The keystore is a root-only directory: one ``<id>.json`` per key and
``defaults.json`` naming the default key of each scope; ``captures/<id>``
holds the short-lived key that wraps the data key of a capture waiting to be
sealed (so that no data key sits in clear beside its plaintext). A key file (what
``backup_key_download`` writes) holds one key encrypted under a password
stretched with scrypt; its metadata is readable without the password and is
authenticated with the key, so it cannot be changed unseen.
"""

from __future__ import annotations

import os
import re
import uuid

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, InvalidInput, KeyNotFound, WrongPassword)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto

DEFAULT_KEYSTORE = "/var/lib/drkit/keys"
RECORD_FORMAT = "drkit-keystore-key"
KEYFILE_FORMAT = "drkit-backup-key"
KEYFILE_VERSION = 1
DEFAULTS = "defaults.json"
CAPTURE_KEYS = "captures"
MIN_PASSWORD = 8
MAX_KEYFILE_BYTES = 64 * 1024
SCOPES = ("system", "domain")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def scope_label(scope: str, domain) -> str:
    return "domain %s" % domain if scope == "domain" else "system"


def check_scope(scope: str, domain):
    if scope not in SCOPES:
        raise InvalidInput("scope must be system or domain, not %r" % (scope,))
    if scope == "domain" and not domain:
        raise InvalidInput("scope domain needs a domain name (domain)")
    if scope == "system" and domain:
        raise InvalidInput("domain %r was given with scope system: use scope domain, or drop domain" % domain)


class BackupKey:
    """One backup key; ``material`` is the 32-byte secret and never leaves the engine."""

    def __init__(self, key_id, name, scope, domain, created_at, material):
        self.id = key_id
        self.name = name
        self.scope = scope
        self.domain = domain
        self.created_at = created_at
        self.material = material

    @classmethod
    def generate(cls, name, scope, domain) -> "BackupKey":
        check_scope(scope, domain)
        return cls(str(uuid.uuid4()), name, scope, domain, rfc3339(utc_now()), crypto.random_key())

    def metadata(self) -> dict:
        """The public description (the same fields in keystore records and key files)."""
        return {"id": self.id, "name": self.name, "scope": self.scope, "domain": self.domain,
                "createdAt": self.created_at}

    def info(self, is_default: bool) -> dict:
        """What modules return: no key material, ever."""
        return {"id": self.id, "name": self.name, "scope": self.scope, "domain": self.domain,
                "created_at": self.created_at, "is_default": is_default}

    @classmethod
    def from_metadata(cls, meta: dict, material: bytes, where: str) -> "BackupKey":
        for field in ("id", "scope", "createdAt"):
            if not isinstance(meta.get(field), str):
                raise FormatError("%s: field %s is missing or malformed" % (where, field))
        if not UUID_RE.match(meta["id"]) or meta["scope"] not in SCOPES:
            raise FormatError("%s: the key id or scope is malformed" % where)
        for field in ("name", "domain"):
            if meta.get(field) is not None and not isinstance(meta[field], str):
                raise FormatError("%s: field %s is malformed" % (where, field))
        if len(material) != crypto.KEY_BYTES:
            raise FormatError("%s: the key material has the wrong length" % where)
        return cls(meta["id"], meta.get("name"), meta["scope"], meta.get("domain"), meta["createdAt"], material)


def _default_slot(scope: str, domain) -> str:
    return "domain/%s" % domain if scope == "domain" else "system"


class Keystore:
    """The backup keys on this host."""

    def __init__(self, path: str = DEFAULT_KEYSTORE):
        self.path = os.path.abspath(path)

    def __str__(self):
        return "keystore %s" % self.path

    def _record_path(self, key_id: str) -> str:
        if not UUID_RE.match(key_id or ""):
            raise InvalidInput("%r is not a backup key id (a UUID)" % (key_id,))
        return os.path.join(self.path, key_id + ".json")

    def _read_json(self, path: str):
        with open(path, "rb") as handle:
            return canonjson.loads(handle.read(MAX_KEYFILE_BYTES + 1), "%s" % path)

    def keys(self) -> list:
        if not os.path.isdir(self.path):
            return []
        found = []
        for entry in sorted(os.listdir(self.path)):
            if entry.endswith(".json") and UUID_RE.match(entry[:-5]):
                found.append(self._load(entry[:-5]))
        return sorted(found, key=lambda k: (k.created_at, k.id))

    def _load(self, key_id: str) -> BackupKey:
        path = self._record_path(key_id)
        record = self._read_json(path)
        if record.get("format") != RECORD_FORMAT or record.get("id") != key_id:
            raise FormatError("%s is not a keystore key record (or is misnamed)" % path)
        material = crypto.b64d(record.get("material"), "%s key material" % path, crypto.KEY_BYTES)
        return BackupKey.from_metadata(record, material, path)

    def get(self, key_id=None, name=None):
        """The key with this id or name, or None."""
        if key_id:
            return self._load(key_id) if os.path.exists(self._record_path(key_id)) else None
        named = [key for key in self.keys() if name is not None and key.name == name]
        if len(named) > 1:
            raise InvalidInput("several backup keys in %s are named %r (%s): name the one you mean by id"
                               % (self, name, ", ".join(key.id for key in named)))
        return named[0] if named else None

    def require(self, key_id=None, name=None) -> BackupKey:
        key = self.get(key_id, name)
        if key is None:
            raise KeyNotFound("backup key %s is not in %s" % (key_id or "named %r" % name, self))
        return key

    def material(self, key_id: str):
        """Key material by id, or None: the lookup that unlocks backups."""
        key = self.get(key_id) if UUID_RE.match(key_id or "") else None
        return key.material if key is not None else None

    def defaults(self) -> dict:
        path = os.path.join(self.path, DEFAULTS)
        if not os.path.exists(path):
            return {}
        value = self._read_json(path)
        if not all(isinstance(v, str) for v in value.values()):
            raise FormatError("%s is malformed" % path)
        return value

    def is_default(self, key: BackupKey) -> bool:
        return self.defaults().get(_default_slot(key.scope, key.domain)) == key.id

    def default_key(self, scope: str, domain):
        key_id = self.defaults().get(_default_slot(scope, domain))
        return self.get(key_id) if key_id else None

    def info(self, key: BackupKey) -> dict:
        return key.info(self.is_default(key))

    def _private(self):
        private_dir(self.path)
        os.chmod(self.path, 0o700)  # the keystore is ours: root-only whatever it was

    def add(self, key: BackupKey):
        self._private()
        record = key.metadata()
        record.update({"format": RECORD_FORMAT, "material": crypto.b64e(key.material)})
        path = self._record_path(key.id)
        if os.path.exists(path):
            raise InvalidInput("backup key %s is already in %s" % (key.id, self))
        write_atomic(path, canonjson.dumps(record))

    def set_default(self, key: BackupKey, is_default: bool):
        defaults = self.defaults()
        slot = _default_slot(key.scope, key.domain)
        if is_default:
            defaults[slot] = key.id
        elif defaults.get(slot) == key.id:
            del defaults[slot]
        self._private()
        write_atomic(os.path.join(self.path, DEFAULTS), canonjson.dumps(defaults))

    # --- capture keys: each wraps the data key of one capture waiting to be sealed ---------------

    def _capture_key_path(self, capture_id: str) -> str:
        if not UUID_RE.match(capture_id or ""):
            raise InvalidInput("%r is not a capture id (a UUID)" % (capture_id,))
        return os.path.join(self.path, CAPTURE_KEYS, capture_id)

    def new_capture_key(self, capture_id: str) -> bytes:
        """A new random key kept here (root-only) until the capture ``capture_id`` is sealed or removed."""
        self._private()
        private_dir(os.path.join(self.path, CAPTURE_KEYS))
        material = crypto.random_key()
        write_atomic(self._capture_key_path(capture_id), material)
        return material

    def capture_key(self, capture_id: str):
        """The key of capture ``capture_id``, or None when it is gone."""
        try:
            with open(self._capture_key_path(capture_id), "rb") as handle:
                material = handle.read(crypto.KEY_BYTES + 1)
        except FileNotFoundError:
            return None
        return material if len(material) == crypto.KEY_BYTES else None

    def drop_capture_key(self, capture_id: str):
        try:
            os.unlink(self._capture_key_path(capture_id))
        except FileNotFoundError:
            pass

    def remove(self, key: BackupKey):
        if self.is_default(key):
            self.set_default(key, False)
        os.unlink(self._record_path(key.id))


# --- key files ------------------------------------------------------------------

def _keyfile_meta(key: BackupKey, kdf: dict) -> dict:
    meta = {"format": KEYFILE_FORMAT, "version": KEYFILE_VERSION, "keyid": key.id, "name": key.name,
            "scope": key.scope, "domain": key.domain, "createdAt": key.created_at,
            "kdf": kdf, "cipher": "aes-256-gcm"}
    return meta


def _aad(meta: dict) -> bytes:
    return b"drkit-keyfile-v1\x00" + canonjson.dumps(meta)


def check_new_password(password):
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput("the key file password must have at least %d characters" % MIN_PASSWORD)


def key_file_bytes(key: BackupKey, password: str) -> bytes:
    """The key file for ``key``, encrypted under ``password``."""
    check_new_password(password)
    meta = _keyfile_meta(key, crypto.new_kdf())
    wrapped = crypto.wrap(crypto.password_key(password, meta["kdf"]), key.material, _aad(meta))
    doc = dict(meta)
    doc.update(wrapped)
    return canonjson.dumps(doc)


def _parse_key_file(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEYFILE_BYTES + 1)
    except IsADirectoryError:
        raise InvalidInput("%s is a directory, not a key file" % path)
    except FileNotFoundError:
        raise InvalidInput("key file %s does not exist" % path)
    where = "key file %s" % path
    if len(data) > MAX_KEYFILE_BYTES:
        raise FormatError("%s is too large to be a drkit backup key file" % where)
    doc = canonjson.loads(data, where)
    if doc.get("format") != KEYFILE_FORMAT:
        raise FormatError("%s is not a drkit backup key file" % path)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > KEYFILE_VERSION:
        raise FormatError("%s has key-file version %r; this release reads version %d: upgrade the "
                          "drkit.backup collection" % (where, version, KEYFILE_VERSION))
    if not isinstance(doc.get("kdf"), dict) or doc.get("cipher") != "aes-256-gcm":
        raise FormatError("%s names an unknown KDF or cipher" % where)
    BackupKey.from_metadata({"id": doc.get("keyid"), "name": doc.get("name"), "scope": doc.get("scope"),
                             "domain": doc.get("domain"), "createdAt": doc.get("createdAt")},
                            b"\0" * crypto.KEY_BYTES, where)
    return doc


def inspect_key_file(path: str) -> dict:
    """A key file's metadata, without the password (as ``ksctl backupkeys inspect``)."""
    doc = _parse_key_file(path)
    return {"version": doc["version"], "id": doc["keyid"], "name": doc.get("name"), "scope": doc["scope"],
            "domain": doc.get("domain"), "created_at": doc["createdAt"], "kdf": doc["kdf"].get("name")}


def read_key_file(path: str, password: str) -> BackupKey:
    """The key held in a key file; WrongPassword when it does not open."""
    doc = _parse_key_file(path)
    meta = {field: doc.get(field) for field in
            ("format", "version", "keyid", "name", "scope", "domain", "createdAt", "kdf", "cipher")}
    if set(doc) - set(meta) - {"nonce", "ciphertext"}:
        raise FormatError("key file %s has fields this release does not know" % path)
    material = crypto.unwrap(crypto.password_key(password or "", doc["kdf"]), doc, _aad(meta),
                             "key file %s" % path)
    if material is None:
        raise WrongPassword("key file %s does not open with this password: the password is wrong, or the "
                            "file was changed. Check the password the key was downloaded with." % path)
    return BackupKey.from_metadata({"id": doc["keyid"], "name": doc.get("name"), "scope": doc["scope"],
                                    "domain": doc.get("domain"), "createdAt": doc["createdAt"]},
                                   material, "key file %s" % path)
