# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Makes and runs the tests' emulated Kanidm servers: a home whose ``bin/kanidmd`` is kanidmd.py at a release,
its ``etc/server.toml`` (the layout of kanidm's examples/server.toml, version "2"), a self-signed certificate
(``kanidmd cert-generate``) and a database initialised as a first start does.

``kanidm-emulator create HOME --release R --bind HOST:PORT [--domain D] [--schedule CRON] [--versions N]
[--compression gzip|none]``: the home; the password of idm_admin from ``KANIDM_EMULATOR_IDM_ADMIN_PASSWORD``.
``kanidm-emulator --home HOME service start|stop|status|restart kanidmd``: stands in for systemd (start waits for
/status). ``kanidm-emulator --home HOME account-password NAME`` (the password on standard input): stands in for
``kanidmd recover-account`` and a credential update. ``kanidm-emulator --home HOME destroy``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # supervisor.py

import kanidmd  # noqa: E402
import supervisor  # noqa: E402
from kanidm_db import Store, StoreError, password_value  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _paths(home):
    return {"config": os.path.join(home, "etc", "server.toml"), "pid": os.path.join(home, "run", "kanidmd.pid"),
            "log": os.path.join(home, "log", "kanidmd.log"), "program": os.path.join(home, "bin", "kanidmd")}


def create(argv):
    parser = argparse.ArgumentParser(prog="kanidm-emulator create")
    parser.add_argument("home")
    parser.add_argument("--release", default="1.11.1")
    parser.add_argument("--bind", default="127.0.0.1:8443")
    parser.add_argument("--domain", default="idm.example.test")
    parser.add_argument("--schedule")
    parser.add_argument("--versions", type=int, default=7)
    parser.add_argument("--compression", default="gzip")
    args = parser.parse_args(argv)
    home = os.path.abspath(args.home)
    for name, mode in (("bin", 0o755), ("etc", 0o750), ("data", 0o700), ("run", 0o755), ("log", 0o750)):
        os.makedirs(os.path.join(home, name), mode=mode, exist_ok=True)
    paths = _paths(home)
    with open(paths["program"], "w", encoding="utf-8") as handle:
        handle.write('#!/usr/bin/env bash\n# kanidmd %s, emulated (%s)\nKANIDMD_EMULATOR_RELEASE=%s exec '
                     '"${KANIDM_EMULATOR_PYTHON:-python3}" %s "$@"\n'
                     % (args.release, HERE, args.release, os.path.join(HERE, "kanidmd.py")))
    os.chmod(paths["program"], 0o755)
    port = args.bind.rpartition(":")[2]
    db_path = os.path.join(home, "data", "kanidm.db")
    lines = ['version = "2"', 'bindaddress = "%s"' % args.bind, 'db_path = "%s"' % db_path,
             'tls_chain = "chain.pem"', 'tls_key = "key.pem"', 'domain = "%s"' % args.domain,
             'origin = "https://%s:%s"' % (args.domain, port), 'log_level = "info"']
    if args.schedule:
        lines += ["", "[online_backup]", 'path = "%s"' % os.path.join(home, "backups"),
                  'schedule = "%s"' % args.schedule, "versions = %d" % args.versions,
                  'compression = "%s"' % args.compression]
    with open(os.open(paths["config"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    subprocess.run([paths["program"], "cert-generate", "-c", paths["config"]], check=True, capture_output=True)
    store = Store(os.path.join(home, "data", "kanidm.db"))
    try:
        if not store.initialised():
            store.initialise(args.domain)
        password = os.environ.get("KANIDM_EMULATOR_IDM_ADMIN_PASSWORD")
        if password:
            store.update("idm_admin", primary_credential=password_value(password))
    finally:
        store.close()
    return 0


def account_password(home, name):
    store = Store(kanidmd.Config(_paths(home)["config"]).db_path)
    try:
        store.update(name, primary_credential=password_value(sys.stdin.readline().rstrip("\n")))
    except StoreError as error:
        print("ERROR: %s" % error, file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _answers(home):
    address = kanidmd.Config(_paths(home)["config"]).values.get("bindaddress", "127.0.0.1:8443")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # its own self-signed certificate
    try:
        with urllib.request.urlopen("https://%s/status" % address, timeout=2, context=context) as answer:
            return answer.read().strip() == b"true"
    except OSError:
        return False


def _unit(home):
    paths = _paths(home)
    return supervisor.Unit("kanidmd", paths["pid"], paths["log"], [paths["program"], "server", "-c", paths["config"]],
                           lambda: _answers(home))


def service(home, action):
    return _unit(home).act(action)


def main(argv):
    home = None
    if argv[:1] == ["--home"]:
        home, argv = os.path.abspath(argv[1]), argv[2:]
    if not argv:
        print("usage: kanidm-emulator create HOME ... | --home HOME service ACTION kanidmd | --home HOME "
              "account-password NAME | --home HOME destroy", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "create":
        return create(rest)
    if home is None:
        print("--home HOME is needed", file=sys.stderr)
        return 2
    if command == "service" and rest and rest[0] in ("start", "stop", "status", "restart"):
        return service(home, rest[0])
    if command == "account-password" and len(rest) == 1:
        return account_password(home, rest[0])
    if command == "destroy":
        service(home, "stop")
        shutil.rmtree(home, ignore_errors=True)
        return 0
    print("unknown command %s" % command, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
