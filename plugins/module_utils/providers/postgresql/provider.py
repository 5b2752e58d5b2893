# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``postgresql`` provider: logical backups of a PostgreSQL server (databases/provider.py says how).

One part per database, ``pg_dump --format=custom`` streamed from its standard output into the backup (the
plaintext dump never touches disk), each in a snapshot the content summary is counted in (``pg_dump
--snapshot``); and a part of roles and tablespaces (``pg_dumpall --globals-only``). A restore stages the
verified dumps in a private directory (``pg_restore --jobs`` needs a file it can seek in), restores each into a
new database under a temporary name, and puts it in place of the existing one (``replace``) only once it is
complete. pg_dump's own rule decides the releases: a dump restores into the same major release or a newer one,
never an older one.
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import postgres
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.provider import DatabaseProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.postgresql.options import OPTIONS


class PostgreSQLProvider(DatabaseProvider):
    """Logical backups of a PostgreSQL server: pg_dump per database, pg_dumpall for roles, pg_restore."""

    name = "postgresql"
    OPTIONS = OPTIONS
    product = "PostgreSQL"
    dump_kind = "pg_dump"
    globals_kind = "pg_dumpall"
    globals_description = "the roles and tablespaces"

    def connect(self):
        return postgres.Connection(
            host=self.option("host"), port=self.option("port"), user=self.option("user"),
            password=self.secrets.get("password"), sslmode=self.option("sslmode"),
            sslrootcert=self.option("sslrootcert"), bin_dir=self.option("bin_dir"), os_user=self.option("os_user"),
            jobs=self.option("jobs") or 1)

    def series(self, version_num):
        """pg_dump's rule is about major releases: a dump of 15.x restores into any 15 or newer."""
        return str(postgres.major(version_num))

    def scratch_server(self, directory=None):
        return postgres.ScratchServer(directory or self.option("host"), bin_dir=self.option("bin_dir"),
                                      os_user=self.option("os_user") or "postgres")

    def scratch_options(self, scratch_dir, header):
        return dict(super().scratch_options(scratch_dir, header), sslmode="disable")
