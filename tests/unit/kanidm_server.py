# -*- coding: utf-8 -*-
"""The tests' emulated Kanidm (tests/emulators/kanidm, started by conftest's kanidm_server) and what the tests do
to it, through its HTTPS API as an operator's kanidm client would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm import rest

EMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "emulators", "kanidm", "bin",
                        "kanidm-emulator")
IDM_ADMIN_PASSWORD = "Idm adm1n:pass"
ALICE_PASSWORD = "Al1ce kanidm"
# The emulator needs Python 3.11 (tomllib): the python running the tests.
os.environ.setdefault("KANIDM_EMULATOR_PYTHON", sys.executable)


class Kanidm:
    """One emulated kanidmd under ``home``, serving https://address:port."""

    def __init__(self, home, address, port):
        self.home = home
        self.address = address
        self.port = port
        self.config = os.path.join(home, "etc", "server.toml")
        self.program = os.path.join(home, "bin", "kanidmd")
        self.backups = os.path.join(home, "backups")

    def create_afresh(self, release="1.11.1", persons=("alice", "bob", "carol"), **extra):
        """A new home in place of whatever an earlier run left, with ``persons`` (alice's password known) and a
        group staff; running."""
        self.destroy()
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(os.path.dirname(self.home), mode=0o755, exist_ok=True)
        argv = [EMULATOR, "create", self.home, "--release", release, "--bind", "%s:%d" % (self.address, self.port)]
        for key, value in extra.items():
            argv += ["--" + key, str(value)]
        subprocess.run(argv, check=True, capture_output=True, text=True,
                       env=dict(os.environ, KANIDM_EMULATOR_IDM_ADMIN_PASSWORD=IDM_ADMIN_PASSWORD))
        self.start()
        for name in persons:
            self.add("person", name)
        self.add("group", "staff")
        if "alice" in persons:
            self.set_password("alice", ALICE_PASSWORD)

    # --- the service ------------------------------------------------------------------------------------

    def service_command(self, action) -> str:
        """A stop or start command for the backup and restore modules ({service} is the service's name)."""
        return "%s --home %s service %s {service}" % (EMULATOR, self.home, action)

    def commands(self) -> dict:
        return {"stop_command": self.service_command("stop"), "start_command": self.service_command("start")}

    def service(self, action) -> subprocess.CompletedProcess:
        return subprocess.run([EMULATOR, "--home", self.home, "service", action, "kanidmd"], capture_output=True,
                              text=True, check=False)

    def start(self):
        if self.service("start").returncode != 0:
            with open(os.path.join(self.home, "log", "kanidmd.log"), encoding="utf-8") as log:
                raise AssertionError("the emulated kanidmd did not start: %s" % log.read()[-2000:])

    def stop(self):
        self.service("stop")

    def running(self) -> bool:
        return self.service("status").returncode == 0

    def destroy(self):
        subprocess.run([EMULATOR, "--home", self.home, "destroy"], check=False, capture_output=True)

    def kanidmd(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([self.program] + list(args) + ["-c", self.config], capture_output=True, text=True,
                              check=False)

    # --- what is in it, through its API -----------------------------------------------------------------

    def api(self, username="idm_admin", password=IDM_ADMIN_PASSWORD) -> rest.KanidmAPI:
        api = rest.KanidmAPI("https://%s:%d" % (self.address, self.port))
        api.login(username, password)
        return api

    def add(self, kind, name):
        status, body, _headers = self.api()._call("POST", "/v1/%s" % kind, {"attrs": {"name": [name]}})
        assert status == 200, "POST /v1/%s %s: %s %s" % (kind, name, status, body)

    def delete(self, kind, name):
        status, body, _headers = self.api()._call("DELETE", "/v1/%s/%s" % (kind, name))
        assert status == 200, "DELETE /v1/%s/%s: %s %s" % (kind, name, status, body)

    def set_password(self, name, password):
        subprocess.run([EMULATOR, "--home", self.home, "account-password", name], input=password + "\n",
                       check=True, capture_output=True, text=True)

    def persons(self) -> list:
        return self.api().names("person")

    def groups(self) -> list:
        return self.api().names("group")

    def alice_logs_in(self) -> bool:
        try:
            self.api("alice", ALICE_PASSWORD)
        except rest.KanidmError:
            return False
        return True
