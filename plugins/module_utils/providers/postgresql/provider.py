# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``postgresql`` provider: logical backups of a PostgreSQL server.

One part per database, ``pg_dump --format=custom`` streamed from its standard output into the backup (the
plaintext dump never touches disk), each in a snapshot the content summary is counted in (rows per table); and a
part of roles and tablespaces (``pg_dumpall --globals-only``), restored first so that a restore onto a fresh
server works. A restore stages the verified dumps in a private directory (``pg_restore --jobs`` needs a file it
can seek in), restores each into a new database under a temporary name, and puts it in place of the existing one
(``replace``) only once it is complete. pg_dump's own rule decides the releases: a dump restores into the same
major release or a newer one, never an older one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import tempfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import DumpProvider, PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import postgres
from ansible_collections.drkit.backup.plugins.module_utils.providers.postgresql.options import OPTIONS

GLOBALS_PART = "globals.sql"
DUMP_KIND = "pg_dump"
GLOBALS_KIND = "pg_dumpall"


def part_name(database: str) -> str:
    """A valid, stable part name for a database: ``keycloak`` -> ``db-keycloak.dump``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", database)[:60]
    if safe != database:  # two names that differ only in what was replaced must not meet
        safe += "-" + hashlib.sha256(database.encode()).hexdigest()[:8]
    return "db-%s.dump" % safe


class PostgreSQLProvider(DumpProvider):
    """Logical backups of a PostgreSQL server: pg_dump per database, pg_dumpall for roles, pg_restore."""

    name = "postgresql"
    OPTIONS = OPTIONS
    supports = (("full", True), ("full", False))
    release_rule = "same_or_newer"
    drill_check_name = "databases"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        self.connection = postgres.Connection(
            host=self.option("host"), port=self.option("port"), user=self.option("user"),
            password=self.secrets.get("password"), sslmode=self.option("sslmode"),
            sslrootcert=self.option("sslrootcert"), bin_dir=self.option("bin_dir"), os_user=self.option("os_user"))
        self._version = None
        self._databases = None
        self._facts = {}
        self._rows = {}

    # --- the server ------------------------------------------------------------------------------------

    def _server(self):
        """(server_version_num, server_version), read once."""
        if self._version is None:
            with self.connection.environment() as env:
                self._version = self.connection.server_version(env)
        return self._version

    def product_version(self):
        return self._server()[1]

    def restorable_to(self, version) -> dict:
        """pg_dump's rule is about major releases: a dump of 15.x restores into any 15 or newer."""
        return super().restorable_to(str(postgres.major(self._server()[0])) if version else version)

    def target_release(self):
        return str(postgres.major(self._server()[0]))

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
        parts = [PartSpec(GLOBALS_PART, GLOBALS_KIND)] if self.option("globals") else []
        return parts + [PartSpec(part_name(name), DUMP_KIND, database=name) for name in self._chosen()]

    def estimate_size(self, backup_type):
        with self.connection.environment() as env:
            self._facts = self.connection.database_facts(env, self._chosen())
        return sum(facts["bytes"] for facts in self._facts.values())

    def capture(self, part, out):
        with self.connection.environment() as env:
            if part.kind == GLOBALS_KIND:
                self.connection.dump_globals(env, out)
                return
            database = part.extra["database"]
            # The rows are counted in the snapshot the dump reads, after it: they are the rows dumped.
            with self.connection.snapshot(env, database) as session:
                # Uncompressed: drkit's own compression (zstd, on the worker threads) is both faster than
                # pg_dump's (zlib, on its one process) and smaller.
                self.connection.dump(env, database, out, snapshot_id=session.id,
                                     schema_only=self.option("schema_only"), compress=0)
                self._rows[database] = self.connection.count_rows(env, database, session)

    def content_summary(self):
        """Per database: its tables, and (unless schema only) the rows of each."""
        if not self._rows:
            return {}
        return {"databases": {name: _summary(rows, self.option("schema_only")) for name, rows in sorted(self._rows.items())}}

    def captured(self):
        fields = super().captured()
        if not self._facts:
            with self.connection.environment() as env:
                self._facts = self.connection.database_facts(env, self._chosen())
        fields["database"] = {"server": "PostgreSQL", "version": self.product_version(),
                              "versionNum": self._server()[0],
                              "databases": {name: dict(self._facts.get(name, {}), tables=len(rows))
                                            for name, rows in sorted(self._rows.items())}}
        return fields

    # --- restore ---------------------------------------------------------------------------------------

    def _targets(self, header) -> dict:
        """Backed-up database -> the name it is restored as."""
        mapping = self.option("target_databases") or {}
        backed_up = _databases_of(header)
        unknown = sorted(set(mapping) - set(backed_up))
        if unknown:
            raise InvalidInput("target_databases names %s, which backup %s does not hold (it holds: %s)"
                               % (", ".join(unknown), header.name, ", ".join(backed_up) or "none"))
        return {name: str(mapping.get(name, name)) for name in backed_up}

    def check_restore(self, header):
        """Refuses, before anything is touched, a database that is there already (unless ``replace``)."""
        targets = self._targets(header)
        with self.connection.environment() as env:
            present = set(self.connection.databases(env))
        if self.option("replace"):
            return []
        there = sorted(target for target in targets.values() if target in present)
        if there:
            return ["%s has database %s already: restore with provider_options.replace true to replace it (the "
                    "backup's copy takes its place only once complete), or under another name with "
                    "target_databases" % (self.connection.describe(), ", ".join(there))]
        return []

    @contextlib.contextmanager
    def restore_stage(self, header):
        stage = tempfile.mkdtemp(prefix=".drkit-restore-%s-" % header.id[:8], dir=self.option("staging_dir"))
        try:
            private_dir(stage)
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def restore_plan(self, header):
        targets = self._targets(header)
        plan = ["restore the roles and tablespaces"] if self._restores_globals(header) else []
        for name, target in targets.items():
            plan.append("restore database %s%s%s with pg_restore (%d job(s))" % (
                name, " as %s" % target if target != name else "",
                ", replacing the one there once complete" if self.option("replace") else "", self.option("jobs")))
        return plan

    def _restores_globals(self, header) -> bool:
        return self.option("globals") and any(part["name"] == GLOBALS_PART for part in header.parts)

    def restore_whole(self, header, stage_dir):
        facts = (header.manifest.get("database") or {}).get("databases") or {}
        if self.connection.os_user:  # the tools read the staged dumps as that user
            _give(stage_dir, self.connection.os_user)
        done = []
        with self.connection.environment() as env:
            if self._restores_globals(header):
                self.connection.restore_globals(env, os.path.join(stage_dir, GLOBALS_PART))
                done.append("restored the roles and tablespaces")
            for part in header.parts:
                if part.get("kind") != DUMP_KIND:
                    continue
                name = part["database"]
                target = self._targets(header)[name]
                self._restore_one(env, os.path.join(stage_dir, part["name"]), target, facts.get(name, {}))
                done.append("restored database %s%s" % (name, " as %s" % target if target != name else ""))
        return done

    def _restore_one(self, env, path, target, facts):
        """Into a new database under a temporary name, which takes ``target``'s place once complete."""
        temporary = "%s_drkit_%s" % (target[:40], secrets.token_hex(4))
        connection = self.connection
        connection.create(env, temporary, facts)
        try:
            connection.restore(env, path, temporary, jobs=self.option("jobs"))
            if connection.exists(env, target) and not self.option("replace"):
                raise InvalidInput("database %s appeared on %s during the restore: it was left alone; restore "
                                   "again with replace true" % (target, connection.describe()))
            connection.replace(env, temporary, target, owner=facts.get("owner"))
        except BaseException:
            with contextlib.suppress(Exception):
                connection.drop(env, temporary)
            raise

    # --- health and content ----------------------------------------------------------------------------

    def health(self, header):
        try:
            with self.connection.environment() as env:
                present = set(self.connection.databases(env))
        except postgres.PostgresError as exc:
            return [str(exc)]
        return ["database %s is not on %s" % (target, self.connection.describe())
                for target in self._targets(header).values() if target not in present]

    def count(self, summary=None):
        """The same counts on the server the options name, for the databases of ``summary`` (by their backed-up
        names, under target_databases' names)."""
        mapping = self.option("target_databases") or {}
        backed_up = (summary or {}).get("databases") or {name: {"rows": {}} for name in self._chosen()}
        counted = {}
        with self.connection.environment() as env:
            for name, held in sorted(backed_up.items()):
                rows = self.connection.count_rows(env, str(mapping.get(name, name)))
                counted[name] = _summary(rows, schema_only="rows" not in held)
        return {"databases": counted}


def _summary(rows: dict, schema_only: bool) -> dict:
    return {"tables": len(rows)} if schema_only else {"tables": len(rows), "rows": dict(sorted(rows.items()))}


def _databases_of(header) -> list:
    return [part["database"] for part in header.parts if part.get("kind") == DUMP_KIND]


def _give(stage_dir, user):
    import pwd
    entry = pwd.getpwnam(user)
    for path in [stage_dir] + [os.path.join(stage_dir, name) for name in os.listdir(stage_dir)]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
