# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated MQ Appliance's state, in its home directory (standard library only):

- ``etc/appliance.json``: what a reinitialize keeps: firmware (V.R.M.F, build), machine type and model, serial,
  the bind address, the knobs; ``etc/device.*``: the appliance's own signing key (it signs secure backup
  manifests); ``etc/server.*``, ``ca.pem``: its HTTPS certificate and CA.
- ``fs/<top>/``: the file stores (local, temporary, cert, sharedcert, config, mqbackup), as ``local:///x``.
- ``state/*.json``: the appliance users (admin's password, and whether it must be changed), the configuration
  objects (CryptoCertificate, CryptoKey, CryptoIdentCred, PasswordAlias, ...), the password map, the messaging
  users, the queue managers, and ``reset`` (reinitialized and not restored since).

What a secure backup holds (reference 003): root.tgz (appliance users, objects), config.tgz (config:),
cert.tgz (cert:), local.tgz (local:), password-map.tgz, sharedcert.tgz (sharedcert:), mq-users.tgz; never
temporary:, mqbackup: or the queue managers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil

TOPS = ("local", "temporary", "cert", "sharedcert", "config", "mqbackup")
# What each part of a secure backup holds: file stores (fs/...) and state files (state/...).
PARTS = {"root.tgz": ("state/users.json", "state/objects.json"), "config.tgz": ("fs/config",),
         "cert.tgz": ("fs/cert",), "local.tgz": ("fs/local",), "password-map.tgz": ("state/password-map.json",),
         "sharedcert.tgz": ("fs/sharedcert",), "mq-users.tgz": ("state/mq-users.json",)}
SYSTEM_MQ_USERS = ("root", "mqm", "mqsystem", "hacluster", "sshd")


class Refused(Exception):
    """What the appliance answers with an error (status, message)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def password_hash(password, salt=None) -> dict:
    salt = salt or secrets.token_hex(16)
    return {"salt": salt, "hash": hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20000).hex()}


def password_matches(record, password) -> bool:
    return hmac.compare_digest(password_hash(password, record["salt"])["hash"], record["hash"])


class Home:
    """One appliance's home."""

    def __init__(self, path):
        self.path = os.path.abspath(path)

    def file(self, *names) -> str:
        return os.path.join(self.path, *names)

    # --- the identity a reinitialize keeps -------------------------------------------------------------------

    @property
    def config(self) -> dict:
        with open(self.file("etc", "appliance.json"), encoding="utf-8") as handle:
            return json.load(handle)

    # --- state files ---------------------------------------------------------------------------------------

    def read(self, name, default=None):
        try:
            with open(self.file("state", name + ".json"), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return default

    def write(self, name, value):
        path = self.file("state", name + ".json")
        with open(path + ".new", "w", encoding="utf-8") as out:
            json.dump(value, out, indent=1, sort_keys=True)
        os.replace(path + ".new", path)

    def initialise(self, admin_password, reset=False):
        """A first boot, or what a reinitialize leaves: empty stores, admin only (its password ``admin``, to be
        changed at the first login, after a reinitialize), no objects, no messaging users or queue managers."""
        for top in TOPS:
            shutil.rmtree(self.file("fs", top), ignore_errors=True)
            os.makedirs(self.file("fs", top), mode=0o700)
        os.makedirs(self.file("state"), mode=0o700, exist_ok=True)
        self.write("users", {"admin": dict(password_hash(admin_password), must_change=reset)})
        self.write("objects", {})
        self.write("password-map", {})
        self.write("mq-users", {})
        self.write("queue-managers", {})
        self.write("reset", reset)

    # --- appliance users -----------------------------------------------------------------------------------

    def login(self, user, password) -> dict:
        record = self.read("users", {}).get(user)
        if not record or not password_matches(record, password):
            raise Refused(401, "Authentication failure.")
        return record

    def change_password(self, user, old, new):
        users = self.read("users", {})
        if not password_matches(users[user], old):
            raise Refused(400, "The old password is not correct.")
        if new == old or len(new) < 6:
            raise Refused(400, "The new password must differ from the old one and have at least 6 characters.")
        users[user] = dict(password_hash(new), must_change=False)
        self.write("users", users)

    # --- file stores ---------------------------------------------------------------------------------------

    def store_path(self, top, path="") -> str:
        """fs/<top>/<path>, refused when it leaves the store."""
        if top not in TOPS:
            raise Refused(404, "Resource not found.")
        root = self.file("fs", top)
        full = os.path.normpath(os.path.join(root, path.strip("/")))
        if full != root and not full.startswith(root + os.sep):
            raise Refused(400, "Invalid file path.")
        return full

    @staticmethod
    def url_path(url) -> tuple:
        """``temporary:///dir/`` as (top, path)."""
        top, sep, rest = url.partition(":")
        if not sep or top not in TOPS or not rest.startswith("//"):
            raise Refused(400, "%s is not a local file store URL (local:///..., temporary:///...)" % url)
        return top, rest.lstrip("/")

    # --- configuration objects -----------------------------------------------------------------------------

    def objects(self, kind) -> dict:
        return self.read("objects", {}).get(kind, {})

    def put_object(self, kind, body):
        objects = self.read("objects", {})
        objects.setdefault(kind, {})[body["name"]] = body
        self.write("objects", objects)

    def delete_object(self, kind, name):
        objects = self.read("objects", {})
        objects.get(kind, {}).pop(name, None)
        self.write("objects", objects)
