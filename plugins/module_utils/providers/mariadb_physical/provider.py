# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``mariadb_physical`` provider: physical hot backups of a MariaDB server with mariadb-backup
(databases/mariabackup.py says which documents it follows).

One part, ``server.mbstream``: the whole server (every database, the accounts, InnoDB's log up to the moment the
copy ends) as ``mariadb-backup --backup --stream=mbstream`` writes it, streamed from its standard output into the
backup while the server runs (InnoDB is copied hot; the other engines' tables under BACKUP STAGE locks at the
end). Faster to restore than a dump for a big server (files, not statements), but bound to the release: the
header says it is physical (the product and the part's kind), and it restores into the same MariaDB major.minor
only. The content summary holds the base tables of each database, counted before the copy; not their rows, since
no query can count at the moment the copy is consistent at (its end).

A restore stages the verified stream in a private directory beside the data directory, unpacks it (``mbstream
-x``), prepares it (``mariadb-backup --prepare``), and moves it into the data directory of a stopped server
(``--move-back``), the old one moved aside until then and put back if anything fails.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import chown_tree, move_aside, private_dir, \
    put_back
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import mariabackup, mysql
from ansible_collections.drkit.backup.plugins.module_utils.providers.mariadb_physical.options import OPTIONS
from ansible_collections.drkit.backup.plugins.module_utils.providers.mysql.provider import MySQLProvider

PART = "server.mbstream"
KIND = "mariadb-backup"


class MariaDBPhysicalProvider(MySQLProvider):
    """Physical hot backups of a MariaDB server: mariadb-backup --backup streamed, --prepare and --move-back."""

    name = "mariadb_physical"
    OPTIONS = OPTIONS
    release_rule = "same_series"
    release_params = {"components": 2}
    product = "MariaDB"

    def connect(self):
        return mysql.Connection(
            host=self.option("host"), port=self.option("port"), socket=self.option("socket"),
            user=self.option("user"), password=self.secrets.get("password"), bin_dir=self.option("bin_dir"))

    def series(self, version_num):
        return "%d.%d" % (version_num // 10000, version_num // 100 % 100)

    # --- backup ----------------------------------------------------------------------------------------

    def _chosen(self):
        """Every database of the server: a physical backup holds them all."""
        if self._databases is None:
            with self.connection.environment() as env:
                if self.connection.flavour(env) != "MariaDB":
                    raise InvalidInput("%s is MySQL: mariadb-backup backs up MariaDB only; use the mysql provider (a "
                                       "logical dump)" % self.connection.describe())
                self._databases = self.connection.databases(env)
        return self._databases

    def describe(self):
        return {"method": "mariadb-backup (physical)", "services": self.options.get("services", [])}

    def parts(self, backup_type):
        return [PartSpec(PART, KIND)]

    def capture(self, part, out):
        with self.connection.environment() as env:
            datadir = self.connection.query(env, "SELECT @@datadir;")[0][0]
            self._rows = {name: dict.fromkeys(self.connection.tables(env, name)) for name in self._chosen()}
        work = tempfile.mkdtemp(prefix=".drkit-mariadb-backup-")
        try:
            with self.connection.environment(group=mariabackup.GROUP, user=_login_name()) as env:
                mariabackup.backup(self.connection, env, datadir, work, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def content_summary(self):
        """Per database: its base tables (their rows are not counted: see the module's docstring)."""
        return {"databases": {name: {"tables": len(tables)} for name, tables in sorted(self._rows.items())}}

    # --- restore ---------------------------------------------------------------------------------------

    def target_release(self):
        """The release of the server installed here, read from its binary: the server is stopped for a restore."""
        release = mariabackup.server_release(self.option("bin_dir"))
        return mysql.series(release) if release else None

    def check_release(self, header, force=False):
        return super(MySQLProvider, self).check_release(header, force)

    def _databases_of(self, header) -> list:
        return sorted(((header.manifest.get("contentSummary") or {}).get("databases") or {}))

    def _targets(self, header) -> dict:
        return {name: name for name in self._databases_of(header)}

    def _datadir(self):
        return os.path.realpath(self.option("datadir"))

    def check_restore(self, header):
        datadir = self._datadir()
        pid = mariabackup.server_on(datadir)
        if pid is not None:
            return ["a MariaDB server runs on %s (pid %d): stop it first (drkit.backup.backup_services with state "
                    "stopped, or systemctl stop mariadb); a physical backup is moved into a stopped server's data "
                    "directory" % (datadir, pid)]
        if not self.option("replace") and os.path.isdir(datadir) and os.listdir(datadir):
            return ["data directory %s holds files already: restore with provider_options.replace true to replace "
                    "it (the old one is kept aside until the restored one is prepared and in place)" % datadir]
        return []

    def restore_plan(self, header):
        return ["unpack and prepare the server's files (mbstream -x, mariadb-backup --prepare)",
                "move them into %s (mariadb-backup --move-back)%s" % (
                    self._datadir(), ", replacing the data directory there" if os.path.isdir(self._datadir()) and
                    os.listdir(self._datadir()) else "")]

    @contextlib.contextmanager
    def restore_stage(self, header):
        """Beside the data directory by default: the prepared files then move in by rename."""
        where = self.option("staging_dir") or os.path.dirname(self._datadir())
        stage = tempfile.mkdtemp(prefix=".drkit-restore-%s-" % header.id[:8], dir=where)
        try:
            private_dir(stage)
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def restore_whole(self, header, stage_dir):
        problems = self.check_restore(header)  # again: a server may have been started while the backup verified
        if problems:
            raise InvalidInput("; ".join(problems))
        staged, prepared = os.path.join(stage_dir, PART), os.path.join(stage_dir, "prepared")
        os.mkdir(prepared, 0o700)
        mariabackup.unpack(staged, prepared, self.option("bin_dir"))
        os.unlink(staged)  # room for the prepared files
        mariabackup.prepare(prepared, self.option("bin_dir"))
        datadir = self._datadir()
        aside = move_aside(datadir)
        try:
            mariabackup.move_back(prepared, datadir, self.option("bin_dir"))
            chown_tree(datadir, *self._owner(datadir, aside))
        except BaseException:
            put_back(datadir, aside)
            raise
        if aside is not None:
            shutil.rmtree(aside)
        return ["prepared the server's files and moved them into %s" % datadir]

    def _owner(self, datadir, aside):
        """(uid, gid) of the restored files: os_user's, else the replaced directory's, else mysql's, else root's."""
        for user in (self.option("os_user"), None if aside else "mysql"):
            if user:
                with contextlib.suppress(KeyError):
                    entry = pwd.getpwnam(user)
                    return entry.pw_uid, entry.pw_gid
                if user == self.option("os_user"):
                    raise InvalidInput("os_user %s is not a user on this host" % user)
        if aside:
            info = os.stat(aside)
            return info.st_uid, info.st_gid
        return 0, 0

    # --- drills (DESIGN decisions 18, 26) -----------------------------------------------------------------

    def scratch_options(self, scratch_dir, header):
        """The data directory of a server of the drill's own in the scratch directory, started on the restored
        files once they are in, on its socket there only."""
        server = self.scratch_server(os.path.join(scratch_dir, "mysql"))
        return dict(server.options(), host="localhost", datadir=server.data, replace=False, os_user="root")

    def scratch_start(self):
        os.makedirs(os.path.dirname(self.option("socket")), mode=0o700, exist_ok=True)

    def scratch_restored(self):
        self._scratch = self.scratch_server()
        self._scratch.launch()


def _login_name() -> str:
    """This process's user: mariadb-backup reads [mysqld], whose user option would otherwise be the login."""
    return pwd.getpwuid(os.geteuid()).pw_name
