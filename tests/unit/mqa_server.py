# -*- coding: utf-8 -*-
"""The tests' emulated IBM MQ Appliances (tests/emulators/mq_appliance) and what the tests do to them, through the
REST management interface as an operator's client would: HTTP Basic, TLS verified against the appliance's CA."""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

EMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "emulators", "mq_appliance", "bin",
                        "mqa-emulator")
ADMIN_PASSWORD = "Adm1n mqa:pass"
os.environ.setdefault("MQA_EMULATOR_PYTHON", sys.executable)


class MQAppliance:
    """One emulated appliance under ``home``, its REST interface on https://address:port/mgmt/, its CLI over SSH
    on address:ssh_port."""

    def __init__(self, home, address, port, ssh_port):
        self.home, self.address, self.port, self.ssh_port = home, address, port, ssh_port
        self.url = "https://%s:%d" % (address, port)
        self.ca_path = os.path.join(home, "ca.pem")
        self.password = ADMIN_PASSWORD

    def emulator(self, *args, check=True) -> subprocess.CompletedProcess:
        return subprocess.run([EMULATOR, "--home", self.home, *args], capture_output=True, text=True, check=check)

    def create_afresh(self, **options):
        """A configured appliance in service in place of whatever an earlier run left, running."""
        self.emulator("destroy")
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(os.path.dirname(self.home), mode=0o755, exist_ok=True)
        argv = [EMULATOR, "create", self.home, "--bind", "%s:%d" % (self.address, self.port),
                "--ssh", "%s:%d" % (self.address, self.ssh_port), "--operation-seconds", "0.2",
                "--restart-seconds", "0.5"]
        for name, value in options.items():
            argv += ["--" + name.replace("_", "-"), str(value)]
        subprocess.run(argv, check=True, capture_output=True, text=True,
                       env=dict(os.environ, MQA_EMULATOR_ADMIN_PASSWORD=ADMIN_PASSWORD))
        self.password = ADMIN_PASSWORD
        self.emulator("service", "start", "mqa")

    def reinitialize(self, setup=True):
        """The factory reset, then (``setup``) the initial setup at the console: admin's forced password change
        (to ``password``) and the REST interface on again."""
        self.emulator("reinitialize")
        self.password = "admin"
        if setup:
            self.setup()

    def setup(self, password=ADMIN_PASSWORD):
        """The initial setup at the console after a reinitialize: admin's password, the REST interface on."""
        subprocess.run([EMULATOR, "--home", self.home, "setup"], check=True, capture_output=True,
                       env=dict(os.environ, MQA_EMULATOR_ADMIN_PASSWORD=password))
        self.password = password

    # --- the CLI over SSH ---------------------------------------------------------------------------------

    def cli_options(self) -> dict:
        """The provider's options that reach this appliance's CLI (the emulator's sshd logs in root by its key)."""
        with open(os.path.join(self.home, "ssh", "host_key.pub"), encoding="ascii") as handle:
            host_key = " ".join(handle.read().split()[:2])
        return {"cli_port": self.ssh_port, "cli_host_key": host_key,
                "cli_ssh_options": ["-i", os.path.join(self.home, "ssh", "client_key"), "-l", "root"]}

    def mqcli(self, *commands) -> str:
        """What the appliance's CLI answers to ``commands`` in mqcli, typed after admin's login, as an operator
        would (plain OpenSSH, not drkit's client)."""
        options = self.cli_options()
        typed = "admin\n%s\nmqcli\n%s\nexit\nexit\n" % (self.password, "\n".join(commands))
        known = os.path.join(self.home, "ssh", "known_hosts")
        with open(known, "w", encoding="ascii") as out:
            out.write("[%s]:%d %s\n" % (self.address, self.ssh_port, options["cli_host_key"]))
        done = subprocess.run(["ssh", "-tt", "-p", str(self.ssh_port), "-o", "BatchMode=yes", "-o",
                               "UserKnownHostsFile=" + known, *options["cli_ssh_options"], self.address],
                              input=typed, capture_output=True, text=True, timeout=60, check=False)
        return done.stdout.replace("\r", "")

    def state(self, name):
        """The appliance's own record of ``name`` (queue-managers, mq-users): what its disk holds."""
        with open(os.path.join(self.home, "state", name + ".json"), encoding="utf-8") as handle:
            return json.load(handle)

    def destroy(self):
        self.emulator("destroy", check=False)

    # --- REST ------------------------------------------------------------------------------------------

    def request(self, method, path, body=None, password=None, user="admin"):
        """(status, parsed JSON answer)."""
        token = base64.b64encode(("%s:%s" % (user, password or self.password)).encode()).decode()
        request = urllib.request.Request(self.url + path, data=None if body is None else json.dumps(body).encode(),
                                         method=method, headers={"Authorization": "Basic " + token,
                                                                 "Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=self.ca_path)
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def call(self, method, path, body=None, expect=(200, 201, 202)):
        status, answer = self.request(method, path, body)
        if status not in expect:
            raise AssertionError("%s %s: %s %s" % (method, path, status, answer))
        return answer

    def answers(self) -> bool:
        try:
            self.request("GET", "/mgmt/")
            return True
        except OSError:
            return False

    def put_file(self, top, path, data):
        self.call("PUT", "/mgmt/filestore/default/%s/%s" % (top, path),
                  {"file": {"name": os.path.basename(path), "content": base64.b64encode(data).decode()}})

    def get_file(self, top, path) -> bytes:
        return base64.b64decode(self.call("GET", "/mgmt/filestore/default/%s/%s" % (top, path))["file"])

    def act(self, action, timeout=30, **parameters) -> dict:
        """An action run to its end: its pending record (status completed or error)."""
        accepted = self.call("POST", "/mgmt/actionqueue/default", {action: parameters})
        location = accepted["_links"]["location"]["href"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, pending = self.request("GET", location)
            except OSError:  # a secure restore restarts the appliance once it has completed
                return {"status": "restarting"}
            if status == 401 and action == "SecureRestore":  # restored: admin's password is admin already
                return {"status": "restarting"}
            if status != 200:
                raise AssertionError("%s: %s %s" % (location, status, pending))
            if pending["status"] != "started":
                return pending
            time.sleep(0.05)
        raise AssertionError("%s still started after %ss" % (action, timeout))

    def wait_restarted(self, timeout=30):
        """A secure restore restarts the appliance: wait until it has gone and answers again."""
        deadline = time.monotonic() + timeout
        while self.answers() and time.monotonic() < deadline:
            time.sleep(0.05)
        while not self.answers():
            if time.monotonic() > deadline:
                raise AssertionError("the appliance did not come back after %ss" % timeout)
            time.sleep(0.05)

    # --- the crypto objects a secure backup and restore need ------------------------------------------------

    def backup_credentials(self, pem_dir, name="drkit"):
        """An RSA key pair and certificate for secure backups, made in ``pem_dir`` (as an operator keeps them)."""
        key, cert = os.path.join(pem_dir, name + "-privkey.pem"), os.path.join(pem_dir, name + "-sscert.pem")
        if not os.path.exists(cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                            "/CN=%s" % name, "-keyout", key, "-out", cert], check=True, capture_output=True)
        return key, cert

    def install_credentials(self, key, cert, name="drkit", with_key=True):
        """The certificate (and key) into cert:, and the CryptoCertificate (CryptoKey, CryptoIdentCred) objects."""
        with open(cert, "rb") as handle:
            self.put_file("cert", os.path.basename(cert), handle.read())
        self.call("POST", "/mgmt/config/default/CryptoCertificate", {"CryptoCertificate": {
            "name": name, "mAdminState": "enabled", "Filename": "cert:///" + os.path.basename(cert)}})
        if with_key:
            with open(key, "rb") as handle:
                self.put_file("cert", os.path.basename(key), handle.read())
            self.call("POST", "/mgmt/config/default/CryptoKey", {"CryptoKey": {
                "name": name, "mAdminState": "enabled", "Filename": "cert:///" + os.path.basename(key)}})
            self.call("POST", "/mgmt/config/default/CryptoIdentCred", {"CryptoIdentCred": {
                "name": name, "mAdminState": "enabled", "Certificate": {"value": name}, "Key": {"value": name}}})
