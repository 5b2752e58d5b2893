# -*- coding: utf-8 -*-
"""The mariadb_physical provider's environment for the provider contract suite (providers/test_contract.py): the
tests' second real MariaDB server, backed up hot; restored into a data directory of the suite's own, which a
server of the suite's own then serves (a physical restore needs a stopped server: the shared one keeps running)."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import mysql

from conftest import mariadb


class Contract:
    backup_type = "full"
    online = True
    fixtures = ("mariadb_physical_server",)

    def __init__(self, tmp_path, monkeypatch, mariadb_physical_server):
        self.server = mariadb_physical_server
        self.restored = mysql.ScratchServer(str(tmp_path / "restored"))
        os.makedirs(self.restored.directory, mode=0o700)
        mariadb(self.server, "DROP DATABASE IF EXISTS contract_suite; CREATE DATABASE contract_suite;")
        mariadb(self.server, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes "
                             "SELECT seq, CONCAT('note ', seq) FROM seq_1_to_2000;", "contract_suite")

    def backup_options(self):
        return {"socket": self.server["socket"], "user": "root"}

    def restore_options(self):
        return {"socket": self.restored.socket, "user": "root", "datadir": self.restored.data}

    def restore_secrets(self):
        return {}

    def damage(self):
        mariadb(self.server, "DELETE FROM notes WHERE id > 1000;", "contract_suite")

    def intact(self):
        """The rows are all there: in the restored data directory once there is one (served from then on)."""
        where = self.server
        if os.path.isdir(self.restored.data) and os.listdir(self.restored.data):
            if self.restored.process is None:
                self.restored.launch()
            where = {"socket": self.restored.socket}
        return mariadb(where, "SELECT count(*) FROM notes;", "contract_suite") == [("2000",)]

    def close(self):
        self.restored.stop()
        mariadb(self.server, "DROP DATABASE IF EXISTS contract_suite;")
