# -*- coding: utf-8 -*-
"""The mq_appliance provider's environment for the provider contract suite (providers/test_contract.py): the tests'
emulated MQ Appliance (conftest's mqa_server), its TLS verified against its own CA, backed up with a certificate
object whose private key stays with the test; the damage is a factory reset (and the console's initial setup),
after which the restore brings the configuration back.

An appliance stops nothing: the suite's stop and start commands are never asked for anything."""

from __future__ import annotations


from mqa_server import ADMIN_PASSWORD

PEM = "/var/tmp/drkit-tests-mqa"
MARKER = ("local", "contract/marker.cfg", b"contract=1\n")


class Contract:
    backup_type = "full"
    online = True
    fixtures = ("mqa_server",)

    def __init__(self, tmp_path, monkeypatch, mqa_server):
        self.server = mqa_server
        self.server.create_afresh()
        self.key, self.cert = self.server.backup_credentials(PEM)
        self.server.install_credentials(self.key, self.cert, with_key=False)
        self.server.put_file(*MARKER)

    def backup_options(self):
        return {"url": self.server.url, "ca_path": self.server.ca_path, "certificate": "drkit"}

    def backup_secrets(self):
        return {"password": ADMIN_PASSWORD}

    def restore_options(self):
        return {"url": self.server.url, "ca_path": self.server.ca_path, "certificate_file": self.cert,
                "private_key_file": self.key}

    def restore_secrets(self):
        return self.backup_secrets()

    def damage(self):
        self.server.reinitialize()

    def intact(self):
        status, answer = self.server.request("GET", "/mgmt/filestore/default/local/contract/marker.cfg")
        return status == 200 and "file" in answer

    def close(self):
        self.server.create_afresh()
