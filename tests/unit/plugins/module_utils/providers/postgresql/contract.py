# -*- coding: utf-8 -*-
"""The postgresql provider's environment for the provider contract suite (providers/test_contract.py): the tests'
real PostgreSQL server (conftest's postgres_server), with a database of the suite's own."""

from __future__ import annotations

from conftest import psql


class Contract:
    backup_type = "full"
    online = True
    fixtures = ("postgres_server",)

    def __init__(self, tmp_path, monkeypatch, postgres_server):
        self.server = postgres_server
        self.database = "contract_suite"
        psql(self.server, "DROP DATABASE IF EXISTS contract_suite WITH (FORCE);")
        psql(self.server, "CREATE DATABASE contract_suite;")
        psql(self.server, "CREATE TABLE notes (id int PRIMARY KEY, body text); "
                          "INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 2000) g;", self.database)

    def _connection(self):
        return {"host": self.server["host"], "port": self.server["port"], "user": "postgres"}

    def backup_options(self):
        return dict(self._connection(), databases=[self.database], globals=False)

    def restore_options(self):
        return dict(self._connection(), replace=True)

    def restore_secrets(self):
        return {}

    def damage(self):
        psql(self.server, "DELETE FROM notes WHERE id > 1000;", self.database)

    def intact(self):
        return psql(self.server, "SELECT count(*) FROM notes;", self.database) == [("2000",)]

    def close(self):
        psql(self.server, "DROP DATABASE IF EXISTS contract_suite WITH (FORCE);")
