# -*- coding: utf-8 -*-
"""The ldap provider's environment for the provider contract suite (providers/test_contract.py): the tests' real
slapd (the ldap_server fixture), backed up online and restored online into its emptied suffix."""

from __future__ import annotations


class Contract:
    backup_type = "full"
    online = True
    fixtures = ("ldap_server",)

    def __init__(self, tmp_path, monkeypatch, ldap_server):
        self.server = ldap_server
        self.server.reset(people=500)
        self.original = self.server.fingerprint()

    def backup_options(self):
        return self.server.options(suffixes=[self.server.suffix])

    def restore_options(self):
        return self.server.options(restore_with="ldapadd", bind_dn=self.server.admin_dn)

    def restore_secrets(self):
        return {"password": self.server.admin_password}

    def damage(self):
        self.server.admin("ldapdelete", "-r", self.server.suffix)

    def intact(self):
        return self.server.fingerprint() == self.original

    def close(self):
        pass
