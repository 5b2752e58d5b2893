# -*- coding: utf-8 -*-
"""The mysql provider's environment for the provider contract suite (providers/test_contract.py): the tests'
real MariaDB server (conftest's mariadb_server), with a database of the suite's own."""

from __future__ import annotations

from conftest import mariadb


class Contract:
    backup_type = "full"
    online = True
    fixtures = ("mariadb_server",)

    def __init__(self, tmp_path, monkeypatch, mariadb_server):
        self.server = mariadb_server
        self.database = "contract_suite"
        mariadb(self.server, "DROP DATABASE IF EXISTS contract_suite; CREATE DATABASE contract_suite;")
        mariadb(self.server, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes "
                             "SELECT seq, CONCAT('note ', seq) FROM seq_1_to_2000;", self.database)

    def _connection(self):
        return {"socket": self.server["socket"], "user": "root"}

    def backup_options(self):
        return dict(self._connection(), databases=[self.database], globals=False)

    def restore_options(self):
        return dict(self._connection(), replace=True)

    def restore_secrets(self):
        return {}

    def damage(self):
        mariadb(self.server, "DELETE FROM notes WHERE id > 1000;", self.database)

    def intact(self):
        return mariadb(self.server, "SELECT count(*) FROM notes;", self.database) == [("2000",)]

    def close(self):
        mariadb(self.server, "DROP DATABASE IF EXISTS contract_suite;")
