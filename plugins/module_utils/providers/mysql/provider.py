# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``mysql`` provider: logical backups of a MariaDB or MySQL server (databases/provider.py says how).

One part per database, ``mariadb-dump --single-transaction --routines --events --triggers`` streamed from its
standard output into the backup, its rows counted in a snapshot taken with it (databases/mysql.py); and a part
of the accounts and grants (``mariadb-dump --system=users``). A restore loads each verified dump with the
``mariadb`` client into the database created empty. The release rule: a dump restores into the same major.minor
release or a newer one of the same server (MariaDB into MariaDB, MySQL into MySQL). Tested on MariaDB only.
"""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import mysql
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.provider import DatabaseProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.mysql.options import OPTIONS


class MySQLProvider(DatabaseProvider):
    """Logical backups of a MariaDB or MySQL server: mariadb-dump per database and for the accounts."""

    name = "mysql"
    OPTIONS = OPTIONS
    dump_kind = "mariadb-dump"
    globals_kind = "accounts"
    globals_part = "accounts.sql"
    dump_suffix = ".sql"
    globals_description = "the accounts and their grants"

    def connect(self):
        return mysql.Connection(
            host=self.option("host"), port=self.option("port"), socket=self.option("socket"),
            user=self.option("user"), password=self.secrets.get("password"), bin_dir=self.option("bin_dir"),
            os_user=self.option("os_user"))

    @property
    def product(self):
        return "MariaDB" if "mariadb" in self.product_version().lower() else "MySQL"

    def series(self, version_num):
        return "%d.%d" % (version_num // 10000, version_num // 100 % 100)

    def check_release(self, header, force=False):
        """MariaDB and MySQL parted ways at 5.5: a dump of one is not restored into the other."""
        made = (header.manifest.get("database") or {}).get("server")
        if made and made != self.product:
            return ["backup %s was made by %s %s and this host runs %s %s: a dump of one is not restored into the "
                    "other" % (header.name, made, (header.manifest.get("database") or {}).get("version"),
                               self.product, self.product_version())]
        return super().check_release(header, force)

    def scratch_server(self, directory=None):
        return mysql.ScratchServer(directory or os.path.dirname(self.option("socket")), bin_dir=self.option("bin_dir"))

    def scratch_options(self, scratch_dir, header):
        # host localhost: the client then takes the socket, whatever the live options said.
        return dict(super().scratch_options(scratch_dir, header), host="localhost")
