# -*- coding: utf-8 -*-
"""The freeipa provider's environment for the provider contract suite: one emulated IdM server
(tests/emulators/freeipa) on a real slapd, outside /tmp (IdM's directory server cannot read a stage there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 6))
EMULATOR = os.path.join(ROOT, "tests", "emulators", "freeipa")
WORK = "/var/lib/drkit-tests"
PASSWORD = "DM-Secret-42"


class Contract:
    backup_type = "full"
    online = False

    def __init__(self, tmp_path, monkeypatch):
        if shutil.which("slapd") is None and not os.path.exists("/usr/sbin/slapd"):
            raise RuntimeError("slapd is missing: run make deps")
        os.makedirs(WORK, mode=0o700, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="contract-freeipa-", dir=WORK)
        self.root = os.path.join(self.work, "ipa2")
        with open(os.path.join(self.work, "cluster.json"), "w") as out:
            json.dump({"domain": "example.test", "users": ["admin", "alice"],
                       "servers": [{"host": "ipa1.example.test", "roles": ["CA"]},
                                   {"host": "ipa2.example.test", "roles": ["CA"], "hidden": True}]}, out)
        with open(os.path.join(self.work, "dm"), "w") as out:
            out.write(PASSWORD)
        monkeypatch.setenv("PATH", os.path.join(EMULATOR, "bin") + os.pathsep + os.environ["PATH"])
        monkeypatch.setenv("IPA_EMULATOR_ROOT", self.root)
        self._run("ipa-emulator", "create", self.root, "ipa2.example.test", os.path.join(self.work, "cluster.json"),
                  os.path.join(self.work, "dm"))

    @staticmethod
    def _run(*argv, check=True):
        return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=check)

    def backup_options(self):
        return {"root": self.root}

    def restore_options(self):
        return {"root": self.root}

    def restore_secrets(self):
        return {"dm_password": PASSWORD}

    def damage(self):
        self._run("ipa", "user-del", "alice")

    def intact(self):
        return self._run("ipa", "user-show", "alice", check=False).returncode == 0

    def close(self):
        self._run("ipa-emulator", "destroy", self.root, check=False)
        shutil.rmtree(self.work, ignore_errors=True)
