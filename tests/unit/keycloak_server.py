# -*- coding: utf-8 -*-
"""The tests' emulated Keycloak (tests/emulators/keycloak, on conftest's real PostgreSQL, started by conftest's
keycloak_server) and what the tests do to it, through its admin REST API as an operator would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

EMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "emulators", "keycloak", "bin",
                        "kc-emulator")
ADMIN, ADMIN_PASSWORD = "admin", "Adm1n kc:pass"
DB_PASSWORD = "Kc db pass:word"
CLIENT_SECRET = "portal-s3cret-value"
USER_PASSWORD = "Al1ce pass"
# The emulator needs pg8000: the python running the tests has it.
os.environ.setdefault("KC_EMULATOR_PYTHON", sys.executable)


class Keycloak:
    """One emulated Keycloak under ``home``, its database ``database`` on ``server`` (conftest's postgres_server,
    or its mariadb_server with ``vendor`` mariadb)."""

    def __init__(self, home, server, database, address, port, management_port, vendor="postgres"):
        self.home = home
        self.server = server
        self.vendor = vendor
        self.database = database
        self.address = address
        self.port = port
        self.management_port = management_port
        self.url = "http://%s:%d" % (address, port)

    # --- the service ------------------------------------------------------------------------------------

    def create(self, version="26.0.5", **extra):
        argv = [EMULATOR, "create", self.home, "--version", version, "--db", self.vendor, "--db-url-host", "127.0.0.1",
                "--db-url-port", str(self.server["port"]), "--db-url-database", self.database, "--db-username", "keycloak",
                "--http-host", self.address, "--http-port", str(self.port), "--management-port",
                str(self.management_port)]
        for key, value in extra.items():
            argv += ["--" + key.replace("_", "-"), value]
        subprocess.run(argv, check=True, capture_output=True, text=True,
                       env=dict(os.environ, KC_DB_PASSWORD=DB_PASSWORD))

    def create_afresh(self):
        """A new home in place of whatever an earlier run left, created and started."""
        self.destroy()
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(os.path.dirname(self.home), mode=0o755, exist_ok=True)
        self.create()
        self.start()

    def service_command(self, action) -> str:
        """A stop or start command for the backup and restore modules ({service} is the service's name)."""
        return "%s --home %s service %s {service}" % (EMULATOR, self.home, action)

    def service(self, action) -> int:
        env = dict(os.environ, KC_BOOTSTRAP_ADMIN_USERNAME=ADMIN, KC_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD)
        return subprocess.run([EMULATOR, "--home", self.home, "service", action, "keycloak"], env=env,
                              capture_output=True, text=True, check=False).returncode

    def start(self):
        if self.service("start") != 0:
            with open(os.path.join(self.home, "data", "log", "keycloak.log"), encoding="utf-8") as log:
                raise AssertionError("the emulated Keycloak did not start: %s" % log.read()[-2000:])

    def running(self) -> bool:
        return self.service("status") == 0

    def destroy(self):
        subprocess.run([EMULATOR, "--home", self.home, "destroy"], check=False, capture_output=True)

    # --- REST ---------------------------------------------------------------------------------------------

    def request(self, method, path, body=None, token=None, form=None):
        """(status, parsed JSON or None)."""
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                text = answer.read()
                return answer.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text) if text else None
            except ValueError:
                return exc.code, text.decode("utf-8", "replace")

    def token(self, realm="master", username=ADMIN, password=ADMIN_PASSWORD, client_id="admin-cli",
              client_secret=None):
        """An access token (None when refused)."""
        form = {"grant_type": "password", "client_id": client_id, "username": username, "password": password}
        if client_secret:
            form["client_secret"] = client_secret
        status, answer = self.request("POST", "/realms/%s/protocol/openid-connect/token" % realm, form=form)
        return answer["access_token"] if status == 200 else None

    def admin(self, method, path, body=None):
        status, answer = self.request(method, "/admin/realms" + path, body, token=self.token())
        if status >= 300:
            raise AssertionError("%s /admin/realms%s: %s %s" % (method, path, status, answer))
        return answer

    def realms(self) -> list:
        return sorted(realm["realm"] for realm in self.admin("GET", ""))

    def seed(self, realm="corp", users=7):
        """A realm with a confidential client, a role auditor, a group staff and ``users`` users, each with a password
        (alice's is known)."""
        if realm in self.realms():
            self.admin("DELETE", "/" + realm)
        self.admin("POST", "", {"realm": realm, "enabled": True})
        portal = {"clientId": "portal", "secret": CLIENT_SECRET, "publicClient": False,
                  "directAccessGrantsEnabled": True}
        self.admin("POST", "/%s/clients" % realm, portal)
        self.admin("POST", "/%s/roles" % realm, {"name": "auditor", "description": "reads the audit log"})
        self.admin("POST", "/%s/groups" % realm, {"name": "staff"})
        for index in range(users):
            name = "alice" if index == 0 else "user%02d" % index
            self.admin("POST", "/%s/users" % realm, {
                "username": name, "email": "%s@corp.example" % name, "enabled": True,
                "credentials": [{"type": "password", "value": USER_PASSWORD if index == 0 else "pw-%d" % index,
                                 "temporary": False}]})

    def user_id(self, realm, username):
        found = self.admin("GET", "/%s/users?username=%s&exact=true" % (realm, username))
        return found[0]["id"] if found else None

    def delete_user(self, realm, username):
        self.admin("DELETE", "/%s/users/%s" % (realm, self.user_id(realm, username)))

    def client(self, realm, client_id="portal"):
        """The client's id, None when the realm has no such client."""
        found = self.admin("GET", "/%s/clients?clientId=%s" % (realm, client_id))
        return found[0]["id"] if found else None

    def client_secret(self, realm, client_id="portal"):
        client = self.admin("GET", "/%s/clients?clientId=%s" % (realm, client_id))[0]
        return self.admin("GET", "/%s/clients/%s/client-secret" % (realm, client["id"]))["value"]

    def alice_logs_in(self, realm="corp") -> bool:
        return self.token(realm, "alice", USER_PASSWORD, "portal", CLIENT_SECRET) is not None

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://%s:%d/health/ready" % (self.address, self.management_port),
                                            timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("the emulated Keycloak is not ready")
