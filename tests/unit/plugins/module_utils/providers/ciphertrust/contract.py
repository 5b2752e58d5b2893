# -*- coding: utf-8 -*-
"""The ciphertrust provider's environment for the provider contract suite (providers/test_contract.py): the tests'
emulated CipherTrust Manager (conftest's ciphertrust_server), its TLS verified against its own CA, with a key of
the suite's own that the damage deletes and the restore brings back.

An appliance stops nothing: the suite's stop and start commands are never asked for anything."""

from __future__ import annotations

from ciphertrust_server import ADMIN, ADMIN_PASSWORD

KEY = "contract-key"
KEY_PASSWORD = "Contract k3y:file"


class Contract:
    backup_type = "full"
    online = True
    fixtures = ("ciphertrust_server",)

    def __init__(self, tmp_path, monkeypatch, ciphertrust_server):
        self.server = ciphertrust_server
        if KEY not in self.server.key_names():
            self.server.create_key(KEY)

    def backup_options(self):
        return {"url": "https://%s:%d" % (self.server.address, self.server.port), "username": ADMIN,
                "ca_path": self.server.ca_path}

    def backup_secrets(self):
        return {"password": ADMIN_PASSWORD, "key_password": KEY_PASSWORD}

    def restore_options(self):
        return self.backup_options()

    def restore_secrets(self):
        return self.backup_secrets()

    def damage(self):
        self.server.delete_key(KEY)

    def intact(self):
        return KEY in self.server.key_names()

    def close(self):
        pass
