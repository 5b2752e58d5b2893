# -*- coding: utf-8 -*-
"""The keycloak provider's environment for the provider contract suite (providers/test_contract.py): the tests'
emulated Keycloak (conftest's keycloak_server) on their real PostgreSQL, with a realm of the suite's own.

The suite's stop and start commands only write down what they were asked: the emulated server keeps running
while its database is restored beneath it, which it survives (a connection per request)."""

from __future__ import annotations


class Contract:
    backup_type = "full"
    online = False
    fixtures = ("keycloak_server",)

    def __init__(self, tmp_path, monkeypatch, keycloak_server):
        self.server = keycloak_server
        self.server.start()
        self.server.seed("contract", users=5)

    def backup_options(self):
        return {"home": self.server.home}

    def restore_options(self):
        return {"home": self.server.home}

    def restore_secrets(self):
        return {}

    def damage(self):
        self.server.delete_user("contract", "alice")

    def intact(self):
        return self.server.alice_logs_in("contract") and self.server.admin("GET", "/contract/users/count") == 5

    def close(self):
        if "contract" in self.server.realms():
            self.server.admin("DELETE", "/contract")
