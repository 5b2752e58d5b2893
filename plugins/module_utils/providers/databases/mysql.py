# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MariaDB and MySQL through their own client tools: ``mariadb``/``mysql`` and ``mariadb-dump``/``mysqldump``.

Follows the MariaDB 10.11 documentation of mariadb-dump (--single-transaction, --routines, --events,
--triggers, --system=users, --insert-ignore) and of option files (--defaults-extra-file must come first; values
in double quotes, backslash escapes). The login (user, password, host, port, socket) reaches the tools only in
an option file readable by the user they run as, never in argv.

A database is dumped in a snapshot this side holds too: a session takes FLUSH TABLES WITH READ LOCK, opens its
own consistent snapshot, and releases the lock as soon as the dump's own transaction has begun (its first
table or routine appears in the stream); no write can fall between the two snapshots, so the rows counted for
the content summary in this side's snapshot are the rows dumped (InnoDB tables: a MyISAM table has no
snapshot). The lock needs the RELOAD privilege.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time

from ansible_collections.drkit.backup.plugins.module_utils.common.process import ToolError, find_tool, run, secret_file, \
    stop_server, stream, tail
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.session import END, ClientSession

# Databases of the server itself, never backed up as a database.
SYSTEM_DATABASES = ("information_schema", "mysql", "performance_schema", "sys")
# mariadb-dump's comments that it writes only once its transaction has begun, and its last line.
DUMP_STARTED = re.compile(rb"\n-- (Table structure|Temporary table structure|Dumping events|Dumping routines) ")
DUMP_COMPLETED = re.compile(rb"\n-- Dump completed(?: on [^\n]*)?\n?$")
# An account in a statement of mariadb-dump --system=users: `user`@`host` or 'user'@'host'.
ACCOUNT = re.compile(r"(`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*')@(`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*')")
MISSING = "install the MariaDB client tools (Debian: mariadb-client), or set bin_dir to where they are"
# The tools of each flavour, newest names first.
TOOLS = {"client": ("mariadb", "mysql"), "dump": ("mariadb-dump", "mysqldump")}


class MySQLError(ToolError):
    """A MariaDB/MySQL tool failed, or the server said no."""


def ident(name: str) -> str:
    """``name`` as an SQL identifier."""
    return "`%s`" % name.replace("`", "``")


def literal(text: str) -> str:
    """``text`` as an SQL string literal (backslash escapes: NO_BACKSLASH_ESCAPES is off in the sessions)."""
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")


def series(version: str) -> str:
    """The release a dump is compared by: major.minor (``10.11.6-MariaDB`` -> ``10.11``)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return "%s.%s" % match.groups() if match else version


def option_value(text: str) -> str:
    """``text`` as a value in an option file: in double quotes, with the escapes the parser reads."""
    return '"%s"' % text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


class Connection:
    """How to reach one MariaDB or MySQL server, and the tools that talk to it."""

    # Where the password comes from, as a message names it (an application's provider has its own name for it).
    password_source = "provider_secrets.password"

    error = MySQLError

    def __init__(self, host=None, port=None, socket=None, user=None, password=None, bin_dir=None, os_user=None):
        self.host = host
        self.port = port
        self.socket = socket
        self.user = user
        self.password = password
        self.bin_dir = bin_dir
        self.os_user = os_user

    def describe(self) -> str:
        where = self.socket or self.host or "the local socket"
        return "MariaDB/MySQL at %s%s%s" % (where, ":%s" % self.port if self.port and not self.socket else "",
                                            " as %s" % self.user if self.user else "")

    def tool(self, role: str) -> str:
        """The client (``client``) or the dump tool (``dump``): MariaDB's name, else MySQL's."""
        for name in TOOLS[role]:
            path = find_tool(name, self.bin_dir)
            if path:
                return path
        raise MySQLError("none of %s is %s: %s" % (", ".join(TOOLS[role]), "in bin_dir %s" % self.bin_dir
                                                   if self.bin_dir else "installed on this host", MISSING))

    @contextlib.contextmanager
    def environment(self, group="client", user=None):
        """The option file of one operation (the login), while it lasts; yields its path. ``group``: the option
        group the tool reads (mariadb-backup reads no [client]); ``user``: the login when the options name none."""
        lines = ["[%s]" % group]
        for name, value in (("user", self.user or user), ("password", self.password), ("host", self.host),
                            ("port", self.port), ("socket", self.socket)):
            if value not in (None, ""):
                lines.append("%s=%s" % (name, option_value(str(value))))
        # One login of ours only: the caller's MYSQL_PWD or MYSQL_HOST would otherwise win over it.
        with secret_file("\n".join(lines) + "\n", owner=self.os_user) as path:
            yield path

    def argv(self, role, login, *words) -> list:
        # --defaults-extra-file must be the first option; the server's own option files are read after it.
        return [self.tool(role), "--defaults-extra-file=%s" % login] + list(words)

    def run(self, argv, what, **kwargs):
        try:
            return run(argv, what=what, env=clean_environment(), secrets=[self.password], error=MySQLError,
                       missing=MISSING, user=self.os_user or None, **kwargs)
        except MySQLError as exc:
            raise MySQLError(explain(str(exc), self))

    def query(self, login, sql: str, database=None) -> list:
        """The rows of ``sql`` (statements ending in one query), each a list of strings (NULL as "NULL")."""
        words = ["--batch", "--skip-column-names", "--raw"] + (["--database=%s" % database] if database else [])
        result = self.run(self.argv("client", login, *words), "%s on %s" % (
            os.path.basename(self.tool("client")), database or "the server"), input=sql, errors_apart=True)
        return [line.split("\t") for line in result.output.splitlines() if line]

    def server_version(self, login) -> tuple:
        """(version number as major*10000+minor*100+patch, version)."""
        version = self.query(login, "SELECT VERSION();")[0][0]
        numbers = [int(part) for part in re.findall(r"\d+", version)[:3]] + [0, 0, 0]
        return numbers[0] * 10000 + numbers[1] * 100 + numbers[2], version

    def flavour(self, login) -> str:
        return "MariaDB" if "mariadb" in self.server_version(login)[1].lower() else "MySQL"

    def databases(self, login) -> list:
        """Every database but the server's own."""
        return [row[0] for row in self.query(login, "SHOW DATABASES;") if row[0] not in SYSTEM_DATABASES]

    def database_facts(self, login, names) -> dict:
        """Per database: its size in bytes, character set and collation (what a restore recreates it with)."""
        if not names:
            return {}
        listed = ", ".join(literal(name) for name in names)
        rows = self.query(login, "SELECT s.schema_name, COALESCE(SUM(t.data_length + t.index_length), 0), "
                                 "s.default_character_set_name, s.default_collation_name FROM "
                                 "information_schema.schemata s LEFT JOIN information_schema.tables t ON "
                                 "t.table_schema = s.schema_name WHERE s.schema_name IN (%s) GROUP BY 1, 3, 4;"
                          % listed)
        return {row[0]: {"bytes": int(row[1]), "charset": row[2], "collation": row[3]} for row in rows}

    def tables(self, login, database, session=None) -> list:
        """The base tables of ``database`` (no views)."""
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = "
               "'BASE TABLE' ORDER BY 1;" % literal(database))
        return [row[0] for row in (session.query(sql) if session is not None else self.query(login, sql))]

    def count_rows(self, login, database, session=None) -> dict:
        """Rows per table of ``database``, in ``session``'s snapshot when given."""
        tables = self.tables(login, database, session)
        if not tables:
            return {}
        sql = " UNION ALL ".join("SELECT %s, COUNT(*) FROM %s.%s" % (literal(table), ident(database), ident(table))
                                 for table in tables) + ";"
        rows = session.query(sql) if session is not None else self.query(login, sql)
        return {name: int(count) for name, count in rows}

    @contextlib.contextmanager
    def snapshot(self, login, database):
        """A session with a consistent snapshot open, writes locked out until :meth:`Session.release`."""
        session = Session(self, login, database)
        try:
            session.query("FLUSH TABLES WITH READ LOCK; START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY;")
            yield session
        finally:
            session.close()

    def dump(self, login, database, out, session=None, schema_only=False) -> int:
        """``mariadb-dump`` of ``database`` (no CREATE DATABASE: it restores under any name) into ``out`` as it
        comes; ``session``'s lock is released once the dump's own transaction has begun. Returns the bytes."""
        words = ["--single-transaction", "--routines", "--events", "--triggers", "--hex-blob", "--quick",
                 "--default-character-set=utf8mb4"]
        if schema_only:
            words.append("--no-data")
        watched = _Watched(out, session.release if session is not None else None)
        try:
            copied = self.stream(self.argv("dump", login, *words + [database]), watched,
                                 "%s of database %s" % (os.path.basename(self.tool("dump")), database))
        finally:
            if session is not None:
                session.release()
        if not watched.completed():  # tools lie: a dump without its last line is not a dump
            raise MySQLError("the dump of database %s ended without its '-- Dump completed' line after %d bytes: "
                             "it is incomplete" % (database, copied))
        return copied

    def dump_globals(self, login, out) -> int:
        """The accounts and their grants (``mariadb-dump --system=users``, as CREATE USER IF NOT EXISTS)."""
        if self.flavour(login) != "MariaDB":
            raise MySQLError("%s is MySQL, whose mysqldump cannot dump the accounts (--system=users is MariaDB's): "
                             "set provider_options.globals false and keep the accounts another way"
                             % self.describe())
        return self.stream(self.argv("dump", login, "--system=users", "--insert-ignore"), out,
                           "%s --system=users" % os.path.basename(self.tool("dump")))

    def stream(self, argv, out, what) -> int:
        try:
            return stream(argv, out, what=what, env=clean_environment(), secrets=[self.password],
                          error=MySQLError, missing=MISSING, user=self.os_user or None)
        except MySQLError as exc:
            raise MySQLError(explain(str(exc), self))

    def restore_globals(self, login, path):
        """Creates the backup's accounts the server does not have, with their passwords and grants; the accounts
        it has already are left as they are (root among them: a restore never changes how one logs in)."""
        present = {tuple(row) for row in self.query(login, "SELECT user, host FROM mysql.user;")}
        kept = []
        with open(path, encoding="utf-8", errors="surrogateescape") as dump:
            for line in dump:
                accounts = [(_unquote(user), _unquote(host)) for user, host in ACCOUNT.findall(line)]
                if not any(account in present for account in accounts):
                    kept.append(line)
        self.run(self.argv("client", login, "--batch"), "restoring the accounts", input="".join(kept))

    def restore_method(self, replace) -> str:
        return ", its current content dumped first and loaded again if the restore fails" if replace else ""

    def restore_database(self, login, path, target, facts, replace=False, stage_dir=None):
        """Loads the dump at ``path`` into ``target``, created empty with the backup's character set. With
        ``replace``, the database there is dumped first (into ``stage_dir``) and loaded again if the restore
        fails: MariaDB cannot rename a database, so it is gone between the drop and the end of the load."""
        safety = None
        if replace and target in self.databases(login):
            safety = os.path.join(stage_dir or tempfile.gettempdir(), ".drkit-before-%s.sql" % _safe(target))
            with open(safety, "wb") as out:
                os.chmod(safety, 0o600)
                self.dump(login, target, out)
        if safety is None:
            self._create(login, target, facts, drop=False)  # one that appeared meanwhile is an error, left alone
            try:
                self._load(login, path, target)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.query(login, "DROP DATABASE IF EXISTS %s;" % ident(target))
                raise
            return
        try:
            self._create(login, target, facts, drop=True)
            self._load(login, path, target)
        except BaseException as exc:
            try:
                self._create(login, target, facts, drop=True)
                self._load(login, safety, target)
            except Exception as again:
                kept = os.path.join(os.path.dirname(os.path.dirname(safety)), os.path.basename(safety))
                os.replace(safety, kept)
                raise MySQLError("restoring database %s failed (%s), and so did loading its former content again "
                                 "(%s): that content is kept in %s (readable by root only); load it with mariadb "
                                 "%s < %s" % (target, exc, again, kept, target, kept))
            raise MySQLError("restoring database %s failed, and its former content was loaded again: %s"
                             % (target, exc))

    def _create(self, login, target, facts, drop):
        """``target``, empty, with the backup's character set (dropped first when ``drop``)."""
        create = "CREATE DATABASE %s" % ident(target)
        if facts.get("charset"):
            create += " CHARACTER SET %s" % facts["charset"]
        if facts.get("collation"):
            create += " COLLATE %s" % facts["collation"]
        self.query(login, "%s%s; SELECT 1;" % ("DROP DATABASE IF EXISTS %s; " % ident(target) if drop else "", create))

    def _load(self, login, path, target):
        self.run(self.argv("client", login, "--batch", "--database=%s" % target), "loading database %s" % target,
                 stdin_path=path, timeout=None)


class Session(ClientSession):
    """One client process kept open (the lock and the snapshot), fed statement by statement."""

    def __init__(self, connection, login, database):
        super().__init__(connection.argv("client", login, "--batch", "--skip-column-names", "--raw", "--unbuffered",
                                         "--database=%s" % database), clean_environment(),
                         connection.os_user or None, MySQLError, lambda message: explain(message, connection),
                         "the session on database %s" % database, "\t", "SELECT '%s';" % END)
        self.locked = True

    def release(self):
        """Lets writes in again (the snapshot stays)."""
        if self.locked:
            self.locked = False
            self.query("UNLOCK TABLES;")


class _Watched:
    """A file object passing a dump through: calls ``started`` when the dump's transaction has begun, and keeps
    the dump's end to check its last line."""

    def __init__(self, out, started):
        self.out = out
        self.started = started
        self.tail = b""

    def write(self, data):
        self.out.write(data)
        self.tail = (self.tail + data)[-256:]
        if self.started is not None and DUMP_STARTED.search(self.tail):
            started, self.started = self.started, None
            started()
        return len(data)

    def completed(self) -> bool:
        return bool(DUMP_COMPLETED.search(self.tail))


def clean_environment() -> dict:
    # The client reads MYSQL_PWD and MYSQL_HOST before the option file: the caller's must not count.
    return {"MYSQL_PWD": "", "MYSQL_HOST": ""}


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    return body.replace("``", "`") if quoted[0] == "`" else re.sub(r"\\(.)", r"\1", body)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60]


def explain(message: str, connection) -> str:
    """A client failure in words an operator acts on (the server's own words kept)."""
    if "Access denied for user" in message and "using password" in message:
        return ("%s refused the login (wrong or missing password): check %s and the account; %s"
                % (connection.describe(), connection.password_source, message))
    if "Can't connect to" in message:
        return "%s is not reachable (is it running, and are host, port and socket right?): %s" % (
            connection.describe(), message)
    if "RELOAD privilege" in message or "FLUSH TABLES" in message and "denied" in message:
        return ("the account needs the RELOAD privilege (FLUSH TABLES WITH READ LOCK, held a moment so that the "
                "rows counted are the rows dumped): GRANT RELOAD ON *.* to it; %s" % message)
    return message


class ScratchServer:
    """A MariaDB server of a drill's own in ``directory`` (DESIGN decision 18): a new data directory
    (mariadb-install-db), reachable only on its Unix socket there (--skip-networking: no client and no peer can
    reach it), where root logs in as the OS user root. Removed with its directory."""

    def __init__(self, directory, bin_dir=None):
        self.directory = directory
        self.data = os.path.join(directory, "data")
        self.socket = os.path.join(directory, "mysqld.sock")
        self.pidfile = os.path.join(directory, "mysqld.pid")
        self.bin_dir = bin_dir
        self.process = None

    def options(self) -> dict:
        return {"socket": self.socket, "user": "root"}

    def _tool(self, name):
        path = find_tool(name, self.bin_dir, also=("/usr/sbin",))
        if not path:
            raise MySQLError("%s is not installed on this host: install the MariaDB server (Debian: mariadb-server) "
                             "to drill a backup (the drill restores into a server of its own)" % name)
        return path

    def start(self):
        """A new data directory, and the server on it."""
        os.makedirs(self.directory, mode=0o700)
        run([self._tool("mariadb-install-db"), "--no-defaults", "--user=root", "--datadir=%s" % self.data,
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            what="mariadb-install-db of the drill's scratch server", error=MySQLError, timeout=300)
        self.launch()

    def launch(self):
        """The server on the data directory there (a new one, or one a physical backup was restored into)."""
        with open(os.path.join(self.directory, "error.log"), "ab") as log:
            argv = [self._tool("mariadbd"), "--no-defaults", "--user=root", "--datadir=%s" % self.data,
                    "--socket=%s" % self.socket, "--skip-networking", "--pid-file=%s" % self.pidfile,
                    "--log-error=%s" % os.path.join(self.directory, "error.log"), "--innodb-flush-log-at-trx-commit=0"]
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)
        deadline = time.monotonic() + 120
        while not self._answers():
            if self.process.poll() is not None:
                with open(os.path.join(self.directory, "error.log"), encoding="utf-8", errors="replace") as log:
                    raise MySQLError("the drill's scratch server stopped at its start (exit %d): %s"
                                     % (self.process.returncode, tail(log.read())))
            if time.monotonic() > deadline:
                raise MySQLError("the drill's scratch server did not start within 120 s: see %s"
                                 % os.path.join(self.directory, "error.log"))
            time.sleep(0.2)

    def _answers(self) -> bool:
        done = run([self._tool("mariadb-admin"), "--no-defaults", "--socket=%s" % self.socket, "-u", "root", "ping"],
                   what="mariadb-admin ping", error=MySQLError, check=False, timeout=10)
        return done.code == 0

    def stop(self) -> list:
        return stop_server(self.process, self.pidfile, "mariadbd", "the drill's scratch server")
