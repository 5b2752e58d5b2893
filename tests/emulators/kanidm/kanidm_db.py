# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated kanidmd's entry database: a real SQLite file at server.toml's db_path, as kanidmd's own is.

Kanidm's server/lib/src/be/idl_sqlite.rs keeps each entry as a serialised DbEntry in ``id2entry (id, data)``
beside the database's server and domain uuids, its newest change time and its key handles; indexes live in
``idx_*`` tables that a reindex rebuilds. This store keeps the same shape, simplified: the entries as DbEntry JSON
(be/dbentry.rs: {"ent": {"V3": {"changestate": {"V1Live": {"at": cid, "changes": {}}}, "attrs": {attr: {tag:
[values]}}}}}, value tags of be/dbvalue.rs: I8, N8, UU, U8, CR ...), one index (``idx_name``: name to id), and the
rest in ``db_meta``. A backup is be/mod.rs's DbBackup V5 ({"version": series, "db_s_uuid", "db_d_uuid",
"db_ts_max", "keyhandles", "repl_meta", "entries"}); a restore deletes everything, loads the entries with new ids
and refuses another series (DB0001) or a backup with no version (DB0002), all in one transaction.

Passwords are an emulator's own credential value (PBKDF2-SHA256 in the CR value set), not kanidm's DbCred.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import time
import uuid

ITERATIONS = 10000
# The classes of entries that are deleted (recycle bin) or gone (tombstones): kept, and not shown.
GONE = ("recycled", "tombstone")


class StoreError(Exception):
    """The database cannot do what was asked (kanidmd's OperationError)."""


def _cid(server_id) -> dict:
    now = time.time()
    return {"t": {"secs": int(now), "nanos": int((now % 1) * 1e9)}, "s": server_id}


def entry(server_id, classes, name, **attrs) -> dict:
    """A live DbEntry of ``classes`` named ``name`` (a uuid of its own), other attributes as {tag: values}."""
    values = {"class": {"I8": list(classes)}, "name": {"N8": [name]}, "uuid": {"UU": [str(uuid.uuid4())]}}
    values.update(attrs)
    return {"ent": {"V3": {"changestate": {"V1Live": {"at": _cid(server_id), "changes": {}}}, "attrs": values}}}


def attrs(db_entry) -> dict:
    return db_entry["ent"]["V3"]["attrs"]


def values(db_entry, attr) -> list:
    value = attrs(db_entry).get(attr) or {}
    return list(next(iter(value.values()))) if value else []


def password_value(password) -> dict:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    hashed = [ITERATIONS, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    return {"CR": [{"tag": "primary", "data": {"pbkdf2_sha256": hashed}}]}


def password_matches(db_entry, password) -> bool:
    for credential in (attrs(db_entry).get("primary_credential") or {}).get("CR", []):
        iterations, salt, digest = credential["data"]["pbkdf2_sha256"]
        tried = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), iterations)
        if hmac.compare_digest(tried, base64.b64decode(digest)):
            return True
    return False


class Store:
    """kanidmd's database at ``path``."""

    def __init__(self, path):
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS id2entry (id INTEGER PRIMARY KEY ASC, data TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS idx_name (name TEXT PRIMARY KEY, id INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS db_meta (key TEXT PRIMARY KEY, data TEXT NOT NULL);")

    def close(self):
        self.db.close()

    def meta(self, key, default=None):
        row = self.db.execute("SELECT data FROM db_meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_meta(self, key, value):
        self.db.execute("INSERT OR REPLACE INTO db_meta (key, data) VALUES (?, ?)", (key, json.dumps(value)))

    # --- entries ------------------------------------------------------------------------------------------

    def initialised(self) -> bool:
        return self.meta("db_s_uuid") is not None

    def initialise(self, domain):
        """A new database's server and domain uuids and the built-in entries a first start makes."""
        server_id = str(uuid.uuid4())
        self.db.execute("BEGIN IMMEDIATE")
        self._set_meta("db_s_uuid", server_id)
        self._set_meta("db_d_uuid", str(uuid.uuid4()))
        self._set_meta("db_ts_max", {"secs": int(time.time()), "nanos": 0})
        self._set_meta("keyhandles", {})
        self._set_meta("repl_meta", {"V1": {"ruv": []}})
        self._add(entry(server_id, ["object", "domain_info"], "domain_local", domain_name={"N8": [domain]}))
        for name in ("admin", "idm_admin"):
            self._add(entry(server_id, ["object", "account", "service_account"], name))
        for name in ("idm_admins", "idm_people_admins", "system_admins", "idm_all_persons", "idm_all_accounts"):
            self._add(entry(server_id, ["object", "group"], name))
        self.db.execute("COMMIT")

    def _add(self, db_entry):
        cursor = self.db.execute("INSERT INTO id2entry (data) VALUES (?)", (json.dumps(db_entry),))
        self.db.execute("INSERT INTO idx_name (name, id) VALUES (?, ?)", (values(db_entry, "name")[0],
                                                                          cursor.lastrowid))

    def entries(self, include_gone=False) -> list:
        found = [json.loads(row[0]) for row in self.db.execute("SELECT data FROM id2entry ORDER BY id")]
        return found if include_gone else [e for e in found if not set(GONE) & set(values(e, "class"))]

    def by_name(self, name):
        """(id, live entry) of ``name`` through the name index, or (None, None)."""
        row = self.db.execute("SELECT i.id, e.data FROM idx_name i JOIN id2entry e ON e.id = i.id WHERE i.name = ?",
                              (name,)).fetchone()
        if not row:
            return None, None
        found = json.loads(row[1])
        return (None, None) if set(GONE) & set(values(found, "class")) else (row[0], found)

    def create(self, classes, name, **extra):
        if self.by_name(name)[0] is not None:
            raise StoreError("Plugin - attrunique: duplicate value detected (name %s)" % name)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM idx_name WHERE name = ?", (name,))  # a recycled entry's name is free again
        self._add(entry(self.meta("db_s_uuid"), classes, name, **extra))
        self.db.execute("COMMIT")

    def update(self, name, **extra):
        ident, found = self.by_name(name)
        if ident is None:
            raise StoreError("NoMatchingEntries (%s)" % name)
        attrs(found).update(extra)
        self.db.execute("UPDATE id2entry SET data = ? WHERE id = ?", (json.dumps(found), ident))

    def recycle(self, name):
        """A delete: the entry goes to the recycle bin (class recycled), as kanidm's delete does."""
        ident, found = self.by_name(name)
        if ident is None:
            raise StoreError("NoMatchingEntries (%s)" % name)
        attrs(found)["class"]["I8"].append("recycled")
        self.db.execute("UPDATE id2entry SET data = ? WHERE id = ?", (json.dumps(found), ident))

    # --- kanidmd database backup | restore | verify | reindex | vacuum ------------------------------------

    def backup(self, series) -> str:
        if not self.initialised():
            raise StoreError("InvalidDbState: the database has no server uuid")
        return json.dumps({
            "version": series, "db_s_uuid": self.meta("db_s_uuid"), "db_d_uuid": self.meta("db_d_uuid"),
            "db_ts_max": self.meta("db_ts_max"), "keyhandles": self.meta("keyhandles", {}),
            "repl_meta": self.meta("repl_meta"), "entries": self.entries(include_gone=True)})

    def restore(self, text, series) -> int:
        """The backup ``text`` loaded in place of everything; the number of entries."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StoreError("serde_json error: %s" % exc)
        entries = data if isinstance(data, list) else data.get("entries")
        if not isinstance(entries, list):
            raise StoreError("serde_json error: no entries")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("id2entry", "idx_name", "db_meta"):
                self.db.execute("DELETE FROM %s" % table)
            version = data.get("version") if isinstance(data, dict) else None
            if version is None:
                raise StoreError("The provided backup data is from an older server version and is unable to be "
                                 "restored. (DB0002MismatchedRestoreVersion)")
            if version != series:
                raise StoreError("The provided backup data is from server version %s and is unable to be restored "
                                 "on this instance (%s) (DB0001MismatchedRestoreVersion)" % (version, series))
            for key in ("db_s_uuid", "db_d_uuid", "db_ts_max", "keyhandles", "repl_meta"):
                self._set_meta(key, data.get(key))
            for index, db_entry in enumerate(entries, 1):
                self.db.execute("INSERT INTO id2entry (id, data) VALUES (?, ?)", (index, json.dumps(db_entry)))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return len(entries)

    def reindex(self):
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM idx_name")
        for ident, data in self.db.execute("SELECT id, data FROM id2entry").fetchall():
            found = json.loads(data)
            if not set(GONE) & set(values(found, "class")):
                self.db.execute("INSERT OR REPLACE INTO idx_name (name, id) VALUES (?, ?)",
                                (values(found, "name")[0], ident))
        self.db.execute("COMMIT")

    def verify(self) -> list:
        """The inconsistencies found (be/mod.rs verify: every entry readable, the indexes matching)."""
        problems = []
        names = {}
        for ident, data in self.db.execute("SELECT id, data FROM id2entry").fetchall():
            try:
                found = json.loads(data)
                live = not set(GONE) & set(values(found, "class"))
                if live:
                    names[values(found, "name")[0]] = ident
            except (ValueError, KeyError, IndexError, TypeError, StopIteration):
                problems.append("EntryInvalid(%d)" % ident)
        indexed = dict(self.db.execute("SELECT name, id FROM idx_name").fetchall())
        for name, ident in names.items():
            if indexed.get(name) != ident:
                problems.append("MissingIndex(name, %s)" % name)
        return problems

    def vacuum(self):
        self.db.execute("VACUUM")
