# -*- coding: utf-8 -*-
"""The tests' emulated CipherTrust Manager appliances (tests/emulators/ciphertrust, started by conftest's
ciphertrust_server and ciphertrust_second) and what the tests do to them, through the REST API as an operator's
client would, TLS verified against the appliance's own CA."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

EMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "emulators", "ciphertrust", "bin",
                        "ciphertrust-emulator")
ADMIN, ADMIN_PASSWORD = "admin", "Adm1n ct:pass"
DOMADMIN, DOMADMIN_PASSWORD, DOMAIN = "domadmin", "D0m ct:pass", "dom1"
# What the tests' appliances are: the release and LTS releases, and operations fast enough for unit tests.
DEFAULTS = {"version": "2.19.0", "lts": "2.14,2.16,2.18", "token-seconds": 300, "operation-seconds": 0.3,
            "restart-seconds": 0.5}
# The emulator runs on the python running the tests (any python3 >= 3.9 would do).
os.environ.setdefault("CIPHERTRUST_EMULATOR_PYTHON", sys.executable)


class CipherTrust:
    """One emulated appliance under ``home``, serving https://address:port/api/v1."""

    def __init__(self, home, address, port):
        self.home, self.address, self.port = home, address, port
        self.url = "https://%s:%d/api/v1" % (address, port)
        self.ca_path = os.path.join(home, "ca.pem")
        self._tokens = {}

    # --- the service ------------------------------------------------------------------------------------

    def create(self, **options):
        """``options`` are create's (hsm_root_key="k", cluster_node=True, version="2.23.0", ...) over DEFAULTS."""
        argv = [EMULATOR, "create", self.home, "--bind", "%s:%d" % (self.address, self.port)]
        for name, value in dict(DEFAULTS, **{key.replace("_", "-"): value for key, value in options.items()}).items():
            if value is True:
                argv.append("--" + name)
            elif value not in (False, None):
                argv += ["--" + name, str(value)]
        subprocess.run(argv, check=True, capture_output=True, text=True, env=dict(
            os.environ, CIPHERTRUST_EMULATOR_ADMIN_PASSWORD=ADMIN_PASSWORD,
            CIPHERTRUST_EMULATOR_DOMADMIN_PASSWORD=DOMADMIN_PASSWORD))
        self._tokens.clear()

    def create_afresh(self, **options):
        """A new appliance in place of whatever an earlier run left, created and started."""
        self.destroy()
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(os.path.dirname(self.home), mode=0o755, exist_ok=True)
        self.create(**options)
        self.start()

    def service_command(self, action) -> str:
        """A stop or start command for modules that drive the service ({service} is the service's name)."""
        return "%s --home %s service %s {service}" % (EMULATOR, self.home, action)

    def service(self, action) -> subprocess.CompletedProcess:
        return subprocess.run([EMULATOR, "--home", self.home, "service", action, "ciphertrust"], capture_output=True,
                              text=True, check=False)

    def start(self):
        if self.service("start").returncode != 0:
            with open(os.path.join(self.home, "log", "api.log"), encoding="utf-8") as log:
                raise AssertionError("the emulated CipherTrust Manager did not start: %s" % log.read()[-2000:])

    def stop(self):
        self.service("stop")

    def running(self) -> bool:
        return self.service("status").returncode == 0

    def destroy(self):
        subprocess.run([EMULATOR, "--home", self.home, "destroy"], check=False, capture_output=True)

    # --- REST ---------------------------------------------------------------------------------------------

    def context(self) -> ssl.SSLContext:
        """Python's default context, trusting this appliance's CA only."""
        return ssl.create_default_context(cafile=self.ca_path)

    def request(self, method, path, body=None, token=None, query=None):
        """(status, answer): parsed JSON, bytes for a download, text for anything else (the 500 of a restart)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = "Bearer " + token
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context()) as answer:
                return answer.status, self._parsed(answer.headers.get("Content-Type"), answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, self._parsed(exc.headers.get("Content-Type"), exc.read())

    @staticmethod
    def _parsed(content_type, data):
        if content_type == "application/json":
            return json.loads(data) if data else None
        return data if content_type == "application/octet-stream" else data.decode("utf-8", "replace")

    def token(self, username=ADMIN, password=ADMIN_PASSWORD, domain=None, fresh=False):
        """A jwt (None when refused), kept per user and domain until it is about to expire."""
        held = self._tokens.get((username, domain))
        if held and not fresh and held[1] > time.monotonic() + 1:
            return held[0]
        body = {"grant_type": "password", "username": username, "password": password}
        if domain:
            body["domain"] = domain
        status, answer = self.request("POST", "/auth/tokens", body)
        if status != 200:
            return None
        self._tokens[(username, domain)] = (answer["jwt"], time.monotonic() + answer["duration"])
        return answer["jwt"]

    def domain_token(self):
        return self.token(DOMADMIN, DOMADMIN_PASSWORD, DOMAIN)

    def call(self, method, path, body=None, token=None, query=None, expect=(200, 201, 202, 204)):
        """The answer of a call that must succeed (as admin unless ``token``)."""
        status, answer = self.request(method, path, body, token or self.token(), query)
        if status not in expect:
            raise AssertionError("%s %s: %s %s" % (method, path, status, answer))
        return answer

    # --- ordinary keys (what a restore must bring back) -----------------------------------------------------

    def create_key(self, name, token=None, **extra) -> dict:
        return self.call("POST", "/vault/keys2", dict(extra, name=name), token)

    def keys(self, name=None, token=None) -> list:
        query = {"limit": 1000}
        if name:
            query["name"] = name
        return self.call("GET", "/vault/keys2", token=token, query=query)["resources"]

    def key_names(self, token=None) -> list:
        return sorted(key["name"] for key in self.keys(token=token))

    def delete_key(self, name, token=None):
        for key in self.keys(name, token):
            self.call("DELETE", "/vault/keys2/" + key["id"], token=token)

    # --- backups ------------------------------------------------------------------------------------------

    def wait_operation(self, token=None, timeout=20) -> dict:
        """backupStatus once the last operation is no longer In Progress; a restart's 500s are waited out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, answer = self.request("GET", "/backupStatus", token=token or self.token())
            if status == 200 and answer["status"] != "In Progress":
                return answer
            time.sleep(0.05)
        raise AssertionError("the last backup or restore is still in progress after %ss" % timeout)

    def backup(self, token=None, **body) -> dict:
        """A completed backup (body: scope, backupKey, filters, ...)."""
        created = self.call("POST", "/backups", body, token)
        self.wait_operation(token)
        return self.call("GET", "/backups/" + created["id"], token=token)
