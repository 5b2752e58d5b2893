# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated CipherTrust Manager's SCP transfers (reference 001, "Transfer the Backup using Secure Copy
Protocol"): the appliance's own SSH key pair (``data/scp_key``, made with ssh-keygen at first use, replaced by a
rotation), and a transfer run by OpenSSH's real ``scp`` to the destination host. The destination's host key is the
request's ``public_key`` (PS: "public key of destination host machine ... to verify the host's identity"), so a
host whose key differs is refused; ``auth_method`` key logs in with the appliance's key, password with the
request's password (given to scp through SSH_ASKPASS, never in its arguments).

UNCONFIRMED, chosen here: the file's name at the destination, ``<path_to>/<backup id>.backup``; ``failed`` and a
``message`` for a transfer that did not complete; the answer of GET /scp/public-key (a JSON string).
"""

from __future__ import annotations

import os
import subprocess
import tempfile

ASKPASS = "#!/bin/sh\nprintf '%s\\n' \"$CIPHERTRUST_SCP_PASSWORD\"\n"


def key_path(home) -> str:
    return os.path.join(home, "data", "scp_key")


def public_key(home, rotate=False) -> str:
    """The appliance's SCP public key (an OpenSSH authorized_keys line), made anew when ``rotate``."""
    path = key_path(home)
    if rotate or not os.path.exists(path):
        for stale in (path, path + ".pub"):
            if os.path.exists(stale):
                os.unlink(stale)
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "", "-C", "ciphertrust-scp", "-f",
                        path], check=True, capture_output=True)
    with open(path + ".pub", encoding="utf-8") as handle:
        return handle.read().strip()


def remote_name(backup_id) -> str:
    return "%s.backup" % backup_id


def send(home, data, backup_id, request) -> str:
    """Copies ``data`` to the request's host with scp: '' when it is there, else what went wrong."""
    public_key(home)  # the key exists before a transfer that logs in with it
    host, port = request["host"], int(request.get("port") or 22)
    with tempfile.TemporaryDirectory(dir=os.path.join(home, "data")) as scratch:
        source, known = os.path.join(scratch, remote_name(backup_id)), os.path.join(scratch, "known_hosts")
        with open(source, "wb") as out:
            out.write(data)
        with open(known, "w", encoding="utf-8") as out:
            out.write("%s %s\n" % (host if port == 22 else "[%s]:%d" % (host, port), request["public_key"].strip()))
        password = request.get("auth_method") == "password"
        env = dict(os.environ)
        if password:
            askpass = os.path.join(scratch, "askpass")
            with open(os.open(askpass, os.O_WRONLY | os.O_CREAT, 0o700), "w", encoding="utf-8") as out:
                out.write(ASKPASS)
            env.update(SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", CIPHERTRUST_SCP_PASSWORD=request["password"])
        argv = ["scp", "-P", str(port), "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + known,
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "NumberOfPasswordPrompts=1",
                "-o", "PubkeyAuthentication=%s" % ("no" if password else "yes"),
                "-o", "PasswordAuthentication=%s" % ("yes" if password else "no"),
                "-o", "KbdInteractiveAuthentication=no", "-o", "IdentitiesOnly=yes", "-i", key_path(home),
                source, "%s@%s:%s/" % (request["username"], host, request["path_to"].rstrip("/") or "/")]
        if not password:
            argv.insert(1, "-B")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                                  timeout=300, check=False)
        except subprocess.TimeoutExpired:
            return "scp to %s:%d timed out" % (host, port)
        return "" if done.returncode == 0 else (done.stderr.strip() or "scp exited %d" % done.returncode)
