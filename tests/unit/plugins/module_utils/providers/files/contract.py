# -*- coding: utf-8 -*-
"""The files provider's environment for the provider contract suite (providers/test_contract.py): a real tree."""

from __future__ import annotations

import os


class Contract:
    backup_type = "full"
    online = False

    def __init__(self, tmp_path, monkeypatch):
        self.data = tmp_path / "data"
        (self.data / "conf").mkdir(parents=True)
        (self.data / "conf" / "app.conf").write_text("listen = 127.0.0.1\n" * 100)
        (self.data / "blob.bin").write_bytes(os.urandom(200000))
        self.original = (self.data / "conf" / "app.conf").read_text()

    def backup_options(self):
        return {"paths": [str(self.data)], "services": ["app"]}

    def restore_options(self):
        return {"target_root": "/", "services": ["app"]}

    def restore_secrets(self):
        return {}

    def damage(self):
        (self.data / "conf" / "app.conf").unlink()

    def intact(self):
        path = self.data / "conf" / "app.conf"
        return path.exists() and path.read_text() == self.original

    def close(self):
        pass
