# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL through its own client tools: ``psql``, ``pg_dump``, ``pg_dumpall``, ``pg_restore``.

Follows the PostgreSQL 15 documentation of those tools and of libpq's environment variables (PGHOST, PGPORT,
PGUSER, PGPASSFILE, PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT). The password only ever reaches them in a
password file readable by the user they run as (libpq refuses one that others can read), never in argv.

A database is dumped in a snapshot of its own that this side holds open (``pg_export_snapshot`` in a
repeatable-read transaction, ``pg_dump --snapshot``), so the rows counted for the content summary are the
rows dumped. A restore goes into a new database under a temporary name, which replaces the target (when asked)
only once it is complete: a failed restore leaves the existing database as it was.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets

from ansible_collections.drkit.backup.plugins.module_utils.common.process import ToolError, find_tool, run, secret_file, \
    stream
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.session import END, ClientSession

APPLICATION = "drkit.backup"
# Field separator of psql's unaligned output: never in a name or a number.
SEPARATOR = "\x1f"
# Tables counted for the content summary: ordinary tables and partitions (a partitioned table holds no rows of
# its own), outside the system schemas.
USER_TABLES = ("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
               "AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1, 2")
# Roles and tablespaces a fresh server has already, or this server too: pg_dumpall creates them again.
ALREADY_THERE = re.compile(r'^psql:[^\n]*ERROR:\s+(role|tablespace) "[^"]+" already exists$', re.M)
MISSING = "install PostgreSQL's client tools (Debian: postgresql-client), or set bin_dir to where they are"


class PostgresError(ToolError):
    """A PostgreSQL tool failed, or the server said no."""


def ident(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"%s"' % name.replace('"', '""')


def literal(text: str) -> str:
    """``text`` as an SQL string literal (standard_conforming_strings, on since PostgreSQL 9.1)."""
    return "'%s'" % text.replace("'", "''")


def major(version_num: int) -> int:
    """The major release of ``server_version_num`` (150018 -> 15)."""
    return version_num // 10000


class Connection:
    """How to reach one PostgreSQL server, and the tools that talk to it."""

    # Where the password comes from, as a message names it (an application's provider has its own name for it).
    password_source = "provider_secrets.password"

    error = PostgresError

    def __init__(self, host=None, port=None, user=None, password=None, sslmode=None, sslrootcert=None,
                 bin_dir=None, os_user=None, jobs=1, maintenance_db="postgres"):
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.sslmode = sslmode
        self.sslrootcert = sslrootcert
        self.bin_dir = bin_dir
        self.os_user = os_user
        self.jobs = jobs
        self.maintenance_db = maintenance_db

    def describe(self) -> str:
        where = self.host or "the local socket"
        return "PostgreSQL at %s%s%s" % (where, ":%s" % self.port if self.port else "",
                                         " as %s" % self.user if self.user else "")

    def tool(self, name: str) -> str:
        found = find_tool(name, self.bin_dir)
        if found is None:
            raise PostgresError("%s is not %s: %s" % (name, "in bin_dir %s" % self.bin_dir if self.bin_dir
                                                      else "installed on this host (not on PATH)", MISSING))
        return found

    @contextlib.contextmanager
    def environment(self):
        """The libpq environment of one operation (a password file of its own while it lasts)."""
        # No password of the caller's environment: the options give it, or libpq's own files (~/.pgpass).
        env = {"PGAPPNAME": APPLICATION, "PGCONNECT_TIMEOUT": "10", "PGDATABASE": self.maintenance_db,
               "PGPASSWORD": ""}
        for name, value in (("PGHOST", self.host), ("PGPORT", self.port), ("PGUSER", self.user),
                            ("PGSSLMODE", self.sslmode), ("PGSSLROOTCERT", self.sslrootcert)):
            if value not in (None, ""):
                env[name] = str(value)
        with contextlib.ExitStack() as stack:
            if self.password:
                # hostname:port:database:username:password, ':' and '\' escaped; '*' matches any.
                escaped = self.password.replace("\\", "\\\\").replace(":", "\\:")
                env["PGPASSFILE"] = stack.enter_context(secret_file("*:*:*:*:%s\n" % escaped, owner=self.os_user))
            yield env

    def run(self, argv, env, what, **kwargs):
        try:
            return run(argv, what=what, env=env, secrets=[self.password], error=PostgresError, missing=MISSING,
                       user=self.os_user or None, **kwargs)
        except PostgresError as exc:
            raise PostgresError(explain(str(exc), self))

    def query(self, env, sql: str, database=None) -> list:
        """The rows of ``sql`` (one statement, or several ending in one query), each a list of strings."""
        result = self.run([self.tool("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", SEPARATOR,
                           "-d", database or self.maintenance_db, "-f", "-"], env,
                          "psql on %s" % (database or self.maintenance_db), input=sql, errors_apart=True)
        return [line.split(SEPARATOR) for line in result.output.splitlines() if line]

    def server_version(self, env) -> tuple:
        """(server_version_num, server_version)."""
        rows = self.query(env, "SELECT current_setting('server_version_num'), current_setting('server_version');")
        return int(rows[0][0]), rows[0][1].split()[0]

    def databases(self, env) -> list:
        """Every database a client can connect to, but the templates."""
        return [row[0] for row in self.query(
            env, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1;")]

    def database_facts(self, env, names) -> dict:
        """Per database: its size in bytes, owner, encoding and locale (what a restore recreates it with)."""
        rows = self.query(env, "SELECT datname, pg_database_size(oid), pg_get_userbyid(datdba), "
                               "pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                               "WHERE datname IN (%s);" % ", ".join(literal(name) for name in names))
        return {row[0]: {"bytes": int(row[1]), "owner": row[2], "encoding": row[3], "collate": row[4],
                         "ctype": row[5]} for row in rows}

    def tables(self, env, database) -> list:
        """The user tables of ``database``, as ``schema.table``."""
        return ["%s.%s" % (schema, table) for schema, table in self.query(env, USER_TABLES + ";", database)]

    def count_rows(self, env, database, session=None) -> dict:
        """Rows per table (``schema.table``) of ``database``, in ``session``'s snapshot when given."""
        ask = session.query if session is not None else (lambda sql: self.query(env, sql, database))
        tables = ask(USER_TABLES + ";")
        if not tables:
            return {}
        counts = ask(" UNION ALL ".join("SELECT %s, count(*) FROM %s.%s" % (
            literal("%s.%s" % (schema, table)), ident(schema), ident(table)) for schema, table in tables) + ";")
        return {name: int(count) for name, count in counts}

    @contextlib.contextmanager
    def snapshot(self, env, database):
        """A session holding a repeatable-read snapshot of ``database`` open; yields it (``.id`` for pg_dump)."""
        session = Session(self, env, database)
        try:
            session.id = session.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                                       "SELECT pg_export_snapshot();")[0][0]
            yield session
        finally:
            session.close()

    def dump(self, env, database, out, session=None, schema_only=False) -> int:
        """``pg_dump`` of ``database`` in custom format into ``out`` as it comes, in ``session``'s snapshot;
        returns the bytes."""
        # Uncompressed: drkit's own compression (zstd, on the worker threads) is both faster than pg_dump's
        # (zlib, on its one process) and smaller.
        argv = [self.tool("pg_dump"), "--format=custom", "--no-password", "--compress=0"]
        if session is not None:
            argv.append("--snapshot=%s" % session.id)
        if schema_only:
            argv.append("--schema-only")
        argv += ["--dbname", database]
        return self.stream(argv, env, out, "pg_dump of database %s" % database)

    def dump_globals(self, env, out) -> int:
        """``pg_dumpall --globals-only`` (roles with their passwords, tablespaces) into ``out``."""
        return self.stream([self.tool("pg_dumpall"), "--globals-only", "--no-password"], env, out,
                           "pg_dumpall --globals-only")

    def stream(self, argv, env, out, what) -> int:
        try:
            return stream(argv, out, what=what, env=env, secrets=[self.password], error=PostgresError,
                          missing=MISSING, user=self.os_user or None)
        except PostgresError as exc:
            raise PostgresError(explain(str(exc), self))

    def restore_globals(self, env, path):
        """Runs the globals script; a role or tablespace the server has already is no error (it is altered to
        what the backup says), any other error is."""
        result = self.run([self.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d", self.maintenance_db,
                           "-f", path], env, "psql of the roles and tablespaces", check=False)
        errors = [line for line in result.output.splitlines() if "ERROR:" in line and not ALREADY_THERE.match(line)]
        if result.code != 0 or errors:
            raise PostgresError("restoring the roles and tablespaces failed: %s"
                                % " / ".join(errors[-3:] or [result.tail()]))

    def exists(self, env, database) -> bool:
        return bool(self.query(env, "SELECT 1 FROM pg_database WHERE datname = %s;" % literal(database)))

    def create(self, env, database, facts):
        """An empty database from template0 with the backup's encoding and locale (owner set after the restore:
        the role may come with the restore's globals)."""
        clauses = ["TEMPLATE template0"]
        for clause, key in (("ENCODING", "encoding"), ("LC_COLLATE", "collate"), ("LC_CTYPE", "ctype")):
            if facts.get(key):
                clauses.append("%s %s" % (clause, literal(facts[key])))
        self.query(env, "CREATE DATABASE %s %s;" % (ident(database), " ".join(clauses)))

    def drop(self, env, database):
        self.query(env, "DROP DATABASE IF EXISTS %s WITH (FORCE);" % ident(database))

    def restore(self, env, path, database, jobs=1):
        """``pg_restore`` of the custom-format file ``path`` into the existing, empty ``database``."""
        argv = [self.tool("pg_restore"), "--exit-on-error", "--no-password", "--dbname", database]
        if jobs > 1:
            argv.append("--jobs=%d" % jobs)
        self.run(argv + [path], env, "pg_restore into database %s" % database, timeout=None)

    def restore_method(self, replace) -> str:
        """How :meth:`restore_database` goes about it, for a restore's plan."""
        return "%s with pg_restore (%d job(s))" % (", replacing the one there once complete" if replace else "",
                                                   self.jobs)

    def restore_database(self, env, path, target, facts, replace=False, stage_dir=None):
        """Restores the dump at ``path`` as ``target``: into a new database under a temporary name, which takes
        ``target``'s place (when ``replace``) only once complete; a failed restore leaves the one there alone."""
        temporary = "%s_drkit_%s" % (target[:40], secrets.token_hex(4))
        self.create(env, temporary, facts)
        try:
            self.restore(env, path, temporary, jobs=self.jobs)
            if self.exists(env, target) and not replace:
                raise PostgresError("database %s appeared on %s during the restore: it was left alone; restore "
                                    "again with replace true" % (target, self.describe()))
            self.replace(env, temporary, target, owner=facts.get("owner"))
        except BaseException:
            with contextlib.suppress(Exception):
                self.drop(env, temporary)
            raise

    def replace(self, env, temporary, database, owner=None):
        """``temporary`` (complete) becomes ``database``, in place of the one there, if any."""
        self.drop(env, database)
        self.query(env, "ALTER DATABASE %s RENAME TO %s;" % (ident(temporary), ident(database)))
        if owner:
            self.query(env, "ALTER DATABASE %s OWNER TO %s;" % (ident(database), ident(owner)))


class Session(ClientSession):
    """One psql process kept open (a transaction that holds a snapshot), fed statement by statement."""

    def __init__(self, connection, env, database):
        super().__init__([connection.tool("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", SEPARATOR,
                          "-d", database], env, connection.os_user or None, PostgresError,
                         lambda message: explain(message, connection), "psql on database %s" % database,
                         SEPARATOR, "\\echo %s" % END)
        self.id = None


def explain(message: str, connection) -> str:
    """A libpq failure in words an operator acts on (the server's own words kept)."""
    if "password authentication failed" in message or "no password supplied" in message:
        return ("%s refused the login (wrong or missing password): check %s and the role; %s"
                % (connection.describe(), connection.password_source, message))
    if "Connection refused" in message or "No such file or directory" in message and "socket" in message:
        return "%s is not reachable (is it running, and are host and port right?): %s" % (
            connection.describe(), message)
    return message


class ScratchServer:
    """A PostgreSQL server of a drill's own in ``directory`` (DESIGN decision 18): a new cluster (initdb), reachable
    only on its Unix socket there (no TCP at all: no client and no peer can reach it; in a drill's network namespace
    ``netns``, on 127.0.0.1 there too), run as ``os_user`` (PostgreSQL refuses root), which trusts every role. Removed
    with its directory."""

    PORT = 5432  # names the socket file only: the server listens on no TCP address

    def __init__(self, directory, bin_dir=None, os_user="postgres", netns=None):
        self.directory = directory
        self.data = os.path.join(directory, "data")
        self.bin_dir = bin_dir or server_bin_dir()
        self.os_user = os_user
        # In a drill's network namespace (common/netns.py) it also listens on 127.0.0.1 there, for an application
        # of the drill's own that connects over TCP (Keycloak's JDBC); its socket still serves the tools outside.
        self.netns = netns

    def options(self) -> dict:
        return {"host": self.directory, "port": self.PORT, "user": "postgres", "os_user": self.os_user}

    def _run(self, argv, what):
        argv, user = [os.path.join(self.bin_dir, argv[0])] + argv[1:], self.os_user
        if self.netns:  # nsenter needs root: it takes on os_user itself, inside the namespace
            entry = pwd.getpwnam(self.os_user)
            argv = ["nsenter", "--net=%s" % self.netns, "--setgid", str(entry.pw_gid), "--setuid", str(entry.pw_uid),
                    "--"] + argv
            user = None
        return run(argv, what=what, user=user, error=PostgresError, missing=SERVER_MISSING, timeout=300)

    def start(self):
        os.makedirs(self.directory, mode=0o700)
        _chown(self.directory, self.os_user)
        # The server runs as os_user, which must pass through the drill's scratch directory (root's, 0700).
        os.chmod(os.path.dirname(self.directory), 0o711)
        self._run(["initdb", "--no-sync", "--auth=trust", "--username=postgres", "--encoding=UTF8", "-D", self.data],
                  "initdb of the drill's scratch server")
        self._run(["pg_ctl", "-D", self.data, "-l", os.path.join(self.directory, "server.log"), "-w", "-o",
                   "-c listen_addresses='%s' -c unix_socket_directories=%s -p %d -c fsync=off"
                   % ("127.0.0.1" if self.netns else "", self.directory, self.PORT), "start"], "start of the drill's scratch server")

    def stop(self) -> list:
        if not os.path.exists(os.path.join(self.data, "postmaster.pid")):
            return []
        try:
            self._run(["pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                      "stop of the drill's scratch server")
        except PostgresError as exc:
            return [str(exc)]
        return []


SERVER_MISSING = ("install the PostgreSQL server (Debian: postgresql) to drill a backup: the drill restores into a "
                  "server of its own; or set bin_dir to where initdb and pg_ctl are")


def server_bin_dir() -> str:
    """Where initdb and pg_ctl are: Debian keeps them out of PATH, per major release (the newest)."""
    found = sorted((os.path.join("/usr/lib/postgresql", name, "bin") for name in os.listdir("/usr/lib/postgresql")
                    if os.path.exists(os.path.join("/usr/lib/postgresql", name, "bin", "initdb"))),
                   key=lambda path: [int(part) for part in re.findall(r"\d+", path)]) \
        if os.path.isdir("/usr/lib/postgresql") else []
    if found:
        return found[-1]
    initdb = find_tool("initdb")
    if initdb is None:
        raise PostgresError("initdb is not installed on this host: %s" % SERVER_MISSING)
    return os.path.dirname(initdb)


def _chown(path, user):
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
