# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the database providers share (``postgresql``, ``mysql``): one part per database, dumped by the server's
own tool from its standard output into the backup, in a snapshot the content summary is counted in (rows per
table); a part of the server's accounts, restored first so that a restore onto a fresh server works; a restore
from the verified dumps staged in a private directory, onto a database that is not there, or replacing one only
when asked.

A product's module (databases/postgres.py, databases/mysql.py) gives the :class:`Connection` this drives:
``describe``, ``environment``, ``server_version``, ``databases``, ``database_facts``, ``tables``, ``count_rows``,
``snapshot``, ``dump``, ``dump_globals``, ``restore_globals``, ``restore_method`` and ``restore_database``; its ``error`` is the
exception its tools raise.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import DumpProvider, PartSpec


class DatabaseProvider(DumpProvider):
    """Logical backups of a database server; a subclass names its tools' kinds and makes the connection."""

    supports = (("full", True), ("full", False))
    release_rule = "same_or_newer"
    drill_check_name = "databases"
    product = "the server"      # its name in the manifest and in messages
    dump_kind = "dump"          # the part kind of a database's dump, and of the accounts' one
    globals_kind = "globals"
    globals_part = "globals.sql"
    dump_suffix = ".dump"
    globals_description = "the accounts"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        self.connection = self.connect()
        self._version = None
        self._databases = None
        self._facts = {}
        self._rows = {}
        # A caller's own count in each dump's snapshot (session -> anything), e.g. an application's records.
        self.count_also = None
        self.counted = {}

    def connect(self):
        """The :class:`Connection` the options describe."""
        raise NotImplementedError

    def series(self, version_num: int) -> str:
        """The part of a release the release rule compares (PostgreSQL 15.4 -> "15")."""
        raise NotImplementedError

    # --- the server ------------------------------------------------------------------------------------

    def _server(self):
        """(version number, version), read once."""
        if self._version is None:
            with self.connection.environment() as env:
                self._version = self.connection.server_version(env)
        return self._version

    def product_version(self):
        return self._server()[1]

    def restorable_to(self, version) -> dict:
        return super().restorable_to(self.series(self._server()[0]) if version else version)

    def target_release(self):
        return self.series(self._server()[0])

    def _chosen(self) -> list:
        """The databases to back up, read once: the ones given (each must exist), else all."""
        if self._databases is None:
            with self.connection.environment() as env:
                present = self.connection.databases(env)
            given = self.option("databases") or []
            missing = [name for name in given if name not in present]
            if missing:
                raise InvalidInput("%s has no database %s (it has: %s): nothing was backed up"
                                   % (self.connection.describe(), ", ".join(missing), ", ".join(present) or "none"))
            self._databases = list(given) or present
        return self._databases

    # --- backup ----------------------------------------------------------------------------------------

    def check_backup(self, backup_type, online):
        super().check_backup(backup_type, online)
        self._chosen()  # the server is reachable with these credentials, and has these databases

    def services(self) -> list:
        return list(self.option("services") or [])

    def describe(self):
        return {name: self.options[name] for name in ("databases", "globals", "schema_only", "services")
                if name in self.options}

    def parts(self, backup_type):
        parts = [PartSpec(self.globals_part, self.globals_kind)] if self.option("globals") else []
        return parts + [PartSpec(part_name(name, self.dump_suffix), self.dump_kind, database=name)
                        for name in self._chosen()]

    def _read_facts(self):
        with self.connection.environment() as env:
            self._facts = self.connection.database_facts(env, self._chosen())

    def estimate_size(self, backup_type):
        self._read_facts()
        return sum(facts["bytes"] for facts in self._facts.values())

    def capture(self, part, out):
        with self.connection.environment() as env:
            if part.kind == self.globals_kind:
                self.connection.dump_globals(env, out)
                return
            database = part.extra["database"]
            # The rows are counted in the snapshot the dump reads, after it: they are the rows dumped.
            with self.connection.snapshot(env, database) as session:
                self.connection.dump(env, database, out, session, schema_only=self.option("schema_only"))
                self._rows[database] = self.connection.count_rows(env, database, session)
                if self.count_also is not None:
                    self.counted[database] = self.count_also(session)

    def content_summary(self):
        """Per database: its tables, and (unless schema only) the rows of each."""
        if not self._rows:
            return {}
        schema_only = self.option("schema_only")
        return {"databases": {name: _summary(rows, schema_only) for name, rows in sorted(self._rows.items())}}

    def captured(self):
        fields = super().captured()
        if not self._facts:
            self._read_facts()
        fields["database"] = {"server": self.product, "version": self.product_version(),
                              "versionNum": self._server()[0],
                              "databases": {name: dict(self._facts.get(name, {}), tables=len(rows))
                                            for name, rows in sorted(self._rows.items())}}
        return fields

    # --- restore ---------------------------------------------------------------------------------------

    def _targets(self, header) -> dict:
        """Backed-up database -> the name it is restored as."""
        mapping = self.option("target_databases") or {}
        backed_up = self._databases_of(header)
        unknown = sorted(set(mapping) - set(backed_up))
        if unknown:
            raise InvalidInput("target_databases names %s, which backup %s does not hold (it holds: %s)"
                               % (", ".join(unknown), header.name, ", ".join(backed_up) or "none"))
        return {name: str(mapping.get(name, name)) for name in backed_up}

    def _databases_of(self, header) -> list:
        return [part["database"] for part in header.parts if part.get("kind") == self.dump_kind]

    def check_restore(self, header):
        """Refuses, before anything is touched, a database that is there already (unless ``replace``)."""
        targets = self._targets(header)
        with self.connection.environment() as env:
            present = set(self.connection.databases(env))
        if self.option("replace"):
            return []
        there = sorted(target for target in targets.values() if target in present)
        if there:
            return ["%s has database %s already: restore with provider_options.replace true to replace it, or "
                    "under another name with target_databases" % (self.connection.describe(), ", ".join(there))]
        return []

    def _restores_globals(self, header) -> bool:
        return self.option("globals") and any(part["name"] == self.globals_part for part in header.parts)

    def restore_plan(self, header):
        plan = ["restore %s" % self.globals_description] if self._restores_globals(header) else []
        for name, target in self._targets(header).items():
            plan.append("restore database %s%s%s" % (name, " as %s" % target if target != name else "",
                                                     self.connection.restore_method(self.option("replace"))))
        return plan

    def restore_whole(self, header, stage_dir):
        facts = (header.manifest.get("database") or {}).get("databases") or {}
        if self.connection.os_user:  # the tools read the staged dumps as that user
            _give(stage_dir, self.connection.os_user)
        targets = self._targets(header)
        done = []
        with self.connection.environment() as env:
            if self._restores_globals(header):
                self.connection.restore_globals(env, os.path.join(stage_dir, self.globals_part))
                done.append("restored %s" % self.globals_description)
            for part in header.parts:
                if part.get("kind") != self.dump_kind:
                    continue
                name, target = part["database"], targets[part["database"]]
                self.connection.restore_database(env, os.path.join(stage_dir, part["name"]), target,
                                                 facts.get(name, {}), replace=self.option("replace"),
                                                 stage_dir=stage_dir)
                self._check_tables(env, target, facts.get(name, {}))
                done.append("restored database %s%s" % (name, " as %s" % target if target != name else ""))
        return done

    def _check_tables(self, env, target, facts):
        """The restore tool said it succeeded: the database has the tables the backup counted (tools lie)."""
        expected = facts.get("tables")
        if expected is None:
            return
        found = len(self.connection.tables(env, target))
        if found != expected:
            raise self.connection.error("database %s on %s has %d table(s) after the restore, the backup %d: the "
                                        "restore tool reported success but did not restore it all"
                                        % (target, self.connection.describe(), found, expected))

    # --- drills (DESIGN decisions 18, 26) -----------------------------------------------------------------

    def scratch_server(self, directory=None):
        """The drill's own server in ``directory`` (default: the one these options, a scratch target's, name)."""
        raise NotImplementedError

    def scratch_options(self, scratch_dir, header):
        """A server of the drill's own in the scratch directory, reachable on its socket only: never the live one,
        and nothing in a dump names a peer to rewrite."""
        return dict(self.scratch_server(os.path.join(scratch_dir, self.name)).options(), replace=False,
                    target_databases={})

    def scratch_start(self):
        self._scratch = self.scratch_server()
        self._scratch.start()

    def scratch_end(self):
        # The server this provider started, or one a killed drill left in the scratch directory.
        return (getattr(self, "_scratch", None) or self.scratch_server()).stop()

    # --- health and content ----------------------------------------------------------------------------

    def health(self, header):
        try:
            with self.connection.environment() as env:
                present = set(self.connection.databases(env))
        except self.connection.error as exc:
            return [str(exc)]
        return ["database %s is not on %s" % (target, self.connection.describe())
                for target in self._targets(header).values() if target not in present]

    def count(self, summary=None):
        """The same counts on the server the options name, for the databases of ``summary`` (by their backed-up
        names, under target_databases' names)."""
        mapping = self.options.get("target_databases") or {}  # a provider without the option keeps the names
        backed_up = (summary or {}).get("databases") or {name: {"rows": {}} for name in self._chosen()}
        counted = {}
        with self.connection.environment() as env:
            for name, held in sorted(backed_up.items()):
                rows = self.connection.count_rows(env, str(mapping.get(name, name)))
                counted[name] = _summary(rows, schema_only="rows" not in held)
        return {"databases": counted}


def part_name(database: str, suffix: str) -> str:
    """A valid, stable part name for a database: ``keycloak`` -> ``db-keycloak.dump``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", database)[:60]
    if safe != database:  # two names that differ only in what was replaced must not meet
        safe += "-" + hashlib.sha256(database.encode()).hexdigest()[:8]
    return "db-%s%s" % (safe, suffix)


def _summary(rows: dict, schema_only: bool) -> dict:
    return {"tables": len(rows)} if schema_only else {"tables": len(rows), "rows": dict(sorted(rows.items()))}


def _give(stage_dir, user):
    entry = pwd.getpwnam(user)
    for path in [stage_dir] + [os.path.join(stage_dir, name) for name in os.listdir(stage_dir)]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
