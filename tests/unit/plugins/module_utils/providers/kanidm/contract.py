# -*- coding: utf-8 -*-
"""The kanidm provider's environment for the provider contract suite (providers/test_contract.py): the tests'
emulated kanidmd (conftest's kanidm_server), made afresh with three persons.

The suite's stop and start commands only write down what they were asked, and kanidmd's offline commands need it
stopped (its exclusive lock): so kanidmd stays stopped between the checks, each of which starts it, asks it
through its API and stops it again, and the options name no service. The restored database is then counted from
kanidmd's own offline backup of it (the provider's count with kanidmd stopped)."""

from __future__ import annotations


class Contract:
    backup_type = "full"
    online = False
    fixtures = ("kanidm_server",)

    def __init__(self, tmp_path, monkeypatch, kanidm_server):
        self.server = kanidm_server
        self.server.create_afresh()
        self.server.stop()

    def backup_options(self):
        return {"config": self.server.config, "kanidmd": self.server.program, "service": ""}

    def restore_options(self):
        return self.backup_options()

    def restore_secrets(self):
        return {}

    def _while_running(self, action):
        self.server.start()
        try:
            return action()
        finally:
            self.server.stop()

    def damage(self):
        self._while_running(lambda: self.server.delete("person", "alice"))

    def intact(self):
        return self._while_running(lambda: self.server.alice_logs_in() and len(self.server.persons()) == 3)

    def close(self):
        self.server.stop()
