# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Makes and runs the tests' emulated CipherTrust Manager appliances: a home with ``etc/appliance.json`` (the
release and the knobs), the appliance's own CA (``ca.pem``, for clients' ca_path) and a server certificate it signed
for the bind address, and a database initialised as a first boot does (admin, domadmin of dom1, a default system and
a default domain backup key).

``ciphertrust-emulator create HOME --bind HOST:PORT [--version 2.19.0] [--lts 2.14,2.16,2.18] [--hsm-root-key KEY]
[--cluster-node] [--token-seconds 300] [--operation-seconds 2] [--restart-seconds 3] [--name NAME]``; passwords from
CIPHERTRUST_EMULATOR_ADMIN_PASSWORD and CIPHERTRUST_EMULATOR_DOMADMIN_PASSWORD.
``ciphertrust-emulator --home HOME service start|stop|status|restart ciphertrust``: stands in for systemd (start
waits until the API answers). ``ciphertrust-emulator --home HOME destroy``: stops it, removes the home.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # supervisor.py, tls.py

import ct_store as store  # noqa: E402
import supervisor  # noqa: E402
import tls  # noqa: E402
from endpoints import now  # noqa: E402

UNIT = "ciphertrust"
PASSWORDS = {"admin": ("CIPHERTRUST_EMULATOR_ADMIN_PASSWORD", "Adm1n pass"),
             "domadmin": ("CIPHERTRUST_EMULATOR_DOMADMIN_PASSWORD", "Dom pass")}


def _paths(home) -> dict:
    return {"config": os.path.join(home, "etc", "appliance.json"), "pid": os.path.join(home, "run", "api.pid"),
            "log": os.path.join(home, "log", "api.log"), "ca": os.path.join(home, "ca.pem"),
            "db": os.path.join(home, "data", "ciphertrust.db")}


def _seconds(text):
    """A whole number stays an int: the token answer's duration is 300, as CipherTrust's, not 300.0."""
    value = float(text)
    return int(value) if value.is_integer() else value


def create(argv) -> int:
    parser = argparse.ArgumentParser(prog="ciphertrust-emulator create")
    parser.add_argument("home")
    parser.add_argument("--bind", default="127.0.0.1:8443", help="HOST:PORT, HOST an IPv4 address")
    parser.add_argument("--version", default="2.19.0", help="the release, as /system/info's version")
    parser.add_argument("--lts", default="2.14,2.16,2.18", help="the LTS releases, comma-separated")
    parser.add_argument("--hsm-root-key", default="", help="the HSM root key (none: no HSM)")
    parser.add_argument("--cluster-node", action="store_true", help="a cluster node: no system restores")
    parser.add_argument("--token-seconds", type=_seconds, default=300)
    parser.add_argument("--operation-seconds", type=_seconds, default=2)
    parser.add_argument("--restart-seconds", type=_seconds, default=3)
    parser.add_argument("--name", default=None, help="the appliance's name (default: ciphertrust-<port>)")
    args = parser.parse_args(argv)
    store.release(args.version)  # refuses what is not a release
    home = os.path.abspath(args.home)
    if os.path.exists(_paths(home)["config"]):
        print("%s is already an appliance's home: destroy it first" % home, file=sys.stderr)
        return 1
    for name, mode in (("etc", 0o750), ("data", 0o700), ("run", 0o755), ("log", 0o750)):
        os.makedirs(os.path.join(home, name), mode=mode, exist_ok=True)
    address, port = args.bind.rpartition(":")[0], args.bind.rpartition(":")[2]
    name = args.name or "ciphertrust-%s" % port
    config = {"bind": args.bind, "version": args.version, "lts": [item for item in args.lts.split(",") if item],
              "hsm_root_key": args.hsm_root_key, "cluster_node": args.cluster_node, "name": name,
              "token_seconds": args.token_seconds, "operation_seconds": args.operation_seconds,
              "restart_seconds": args.restart_seconds}
    tls.certificates(os.path.join(home, "etc"), _paths(home)["ca"], address, name)
    db = store.Store(_paths(home)["db"])
    try:
        db.initialise({user: os.environ.get(variable, default) for user, (variable, default) in PASSWORDS.items()},
                      now())
    finally:
        db.close()
    with open(_paths(home)["config"], "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
    return 0


def _answers(home) -> bool:
    """Any HTTP answer from /system/info (401 without a token) means the API is up; its CA verifies it."""
    with open(_paths(home)["config"], encoding="utf-8") as handle:
        bind = json.load(handle)["bind"]
    context = ssl.create_default_context(cafile=_paths(home)["ca"])
    try:
        with urllib.request.urlopen("https://%s/api/v1/system/info" % bind, timeout=2, context=context):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _unit(home) -> supervisor.Unit:
    paths = _paths(home)
    python = os.environ.get("CIPHERTRUST_EMULATOR_PYTHON") or sys.executable
    return supervisor.Unit(UNIT, paths["pid"], paths["log"], [python, os.path.join(HERE, "ct_api.py"), home],
                           lambda: _answers(home))


def main(argv) -> int:
    home = None
    if argv[:1] == ["--home"] and len(argv) > 1:
        home, argv = os.path.abspath(argv[1]), argv[2:]
    if not argv:
        print("usage: ciphertrust-emulator create HOME ... | --home HOME service start|stop|status|restart %s | "
              "--home HOME destroy" % UNIT, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "create":
        return create(rest)
    if home is None:
        print("--home HOME is needed", file=sys.stderr)
        return 2
    if command == "service" and len(rest) in (1, 2) and rest[0] in ("start", "stop", "status", "restart") and \
            rest[1:] in ([], [UNIT]):
        return _unit(home).act(rest[0])
    if command == "destroy" and not rest:
        if os.path.exists(_paths(home)["config"]):
            _unit(home).act("stop")
        shutil.rmtree(home, ignore_errors=True)
        return 0
    print("unknown command: %s" % " ".join(argv), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
