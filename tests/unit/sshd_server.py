# -*- coding: utf-8 -*-
"""A real OpenSSH sshd on a loopback address for the tests that send files to a host (CipherTrust's SCP): its own
host key and authorized_keys file, root logins by key only, password logins for the system user drkit-scp (no
shell: SFTP only, which OpenSSH 9's scp speaks), whose password each session sets anew."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import signal
import subprocess
import time

CONFIG = """Port %(port)d
ListenAddress %(address)s
HostKey %(home)s/host_key
PidFile %(home)s/sshd.pid
AuthorizedKeysFile %(home)s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
Subsystem sftp internal-sftp
Match User %(user)s
    ForceCommand internal-sftp
"""
PASSWORD_USER = "drkit-scp"


class Sshd:
    """sshd under ``home`` on address:port; ``host_key`` is the public host key a client must expect."""

    def __init__(self, home, address, port):
        self.home, self.address, self.port = home, address, port
        self.authorized_keys = os.path.join(home, "authorized_keys")

    @property
    def host_key(self) -> str:
        with open(os.path.join(self.home, "host_key.pub"), encoding="utf-8") as handle:
            return " ".join(handle.read().split()[:2])

    def authorize(self, *public_keys):
        """The keys that may log in as root (none: nobody)."""
        with open(self.authorized_keys, "w", encoding="utf-8") as out:
            out.write("".join(key.strip() + "\n" for key in public_keys))

    def password_login(self, dest) -> tuple:
        """(user, password) of the system user drkit-scp, made when missing and given a new password, and the
        directory ``dest`` made its own."""
        try:
            pwd.getpwnam(PASSWORD_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            PASSWORD_USER], check=True)
        password = secrets.token_urlsafe(18)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (PASSWORD_USER, password), text=True, check=True)
        os.makedirs(dest, exist_ok=True)
        os.chown(dest, pwd.getpwnam(PASSWORD_USER).pw_uid, -1)
        return PASSWORD_USER, password

    def start(self):
        self.stop()
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        if not os.path.exists(os.path.join(self.home, "host_key")):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.home, "host_key")],
                           check=True)
        self.authorize()
        with open(os.path.join(self.home, "sshd_config"), "w", encoding="utf-8") as out:
            out.write(CONFIG % {"port": self.port, "address": self.address, "home": self.home, "user": PASSWORD_USER})
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        subprocess.run(["/usr/sbin/sshd", "-f", os.path.join(self.home, "sshd_config")], check=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.home, "sshd.pid")):
            if time.monotonic() > deadline:
                raise AssertionError("sshd on %s:%d did not start" % (self.address, self.port))
            time.sleep(0.05)

    def stop(self):
        try:
            with open(os.path.join(self.home, "sshd.pid"), encoding="utf-8") as handle:
                os.kill(int(handle.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        with contextlib.suppress(FileNotFoundError):  # sshd removes it itself as it exits
            os.unlink(os.path.join(self.home, "sshd.pid"))
