# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Makes and runs the tests' emulated IBM MQ Appliances (mqa_api.py is the appliance; SOURCES.md the contract):

``mqa-emulator create HOME --bind HOST:PORT [--firmware 9.4.1.0] [--build 123456] [--mtm 5900-AC1]
[--serial S] [--name NAME] [--operation-seconds 1] [--restart-seconds 2]``: a configured appliance in service
(REST enabled), admin's password from MQA_EMULATOR_ADMIN_PASSWORD.
``mqa-emulator --home HOME service start|stop|status|restart mqa``: stands in for the appliance's power.
``mqa-emulator --home HOME reinitialize``: the factory reset (``reinitialize`` in flash mode): every file,
object, user and queue manager gone, admin's password ``admin`` to be changed, the REST interface off.
``mqa-emulator --home HOME setup``: the initial setup from the serial console after it (admin's forced password
change, to MQA_EMULATOR_ADMIN_PASSWORD, the network and ``rest-mgmt; admin-state enabled``): the REST interface
answers again.
``mqa-emulator --home HOME destroy``: stops it, removes the home.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import ssl
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # supervisor.py, tls.py

import supervisor  # noqa: E402
import tls  # noqa: E402
from mqa_store import Home  # noqa: E402

UNIT = "mqa"


def _seconds(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def create(argv) -> int:
    parser = argparse.ArgumentParser(prog="mqa-emulator create")
    parser.add_argument("home")
    parser.add_argument("--bind", default="127.0.0.1:5554", help="HOST:PORT, HOST an IPv4 address")
    parser.add_argument("--firmware", default="9.4.1.0", help="V.R.M.F")
    parser.add_argument("--build", default="375213")
    parser.add_argument("--mtm", default="5900-AC1", help="machine type and model")
    parser.add_argument("--serial", default=None, help="default: random")
    parser.add_argument("--name", default=None, help="the appliance's name (default: mqa-<port>)")
    parser.add_argument("--operation-seconds", type=_seconds, default=1)
    parser.add_argument("--restart-seconds", type=_seconds, default=2)
    args = parser.parse_args(argv)
    home = Home(args.home)
    if os.path.exists(home.file("etc", "appliance.json")):
        print("%s is already an appliance's home: destroy it first" % home.path, file=sys.stderr)
        return 1
    for name in ("etc", "run", "log", "state"):
        os.makedirs(home.file(name), mode=0o700, exist_ok=True)
    address, _sep, port = args.bind.rpartition(":")
    name = args.name or "mqa-%s" % port
    tls.certificates(home.file("etc"), home.file("ca.pem"), address, name)
    tls.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=%s device" % name,
                "-keyout", home.file("etc", "device.key"), "-out", home.file("etc", "device.pem"))
    config = {"bind": args.bind, "name": name, "firmware": args.firmware, "build": args.build, "mtm": args.mtm,
              "serial": args.serial or secrets.token_hex(4).upper(), "operation_seconds": args.operation_seconds,
              "restart_seconds": args.restart_seconds}
    with open(home.file("etc", "appliance.json"), "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
    home.initialise(os.environ.get("MQA_EMULATOR_ADMIN_PASSWORD", "Adm1n mqa"))
    return 0


def _answers(home) -> bool:
    """The REST interface answers (any HTTP status), or it is off after a reinitialize and the process runs."""
    if os.path.exists(home.file("state", "rest-disabled")):
        return True
    context = ssl.create_default_context(cafile=home.file("ca.pem"))
    try:
        with urllib.request.urlopen("https://%s/mgmt/" % home.config["bind"], timeout=2, context=context):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _unit(home) -> supervisor.Unit:
    python = os.environ.get("MQA_EMULATOR_PYTHON") or sys.executable
    return supervisor.Unit(UNIT, home.file("run", "api.pid"), home.file("log", "api.log"),
                           [python, os.path.join(HERE, "mqa_api.py"), home.path], lambda: _answers(home))


def main(argv) -> int:
    home = None
    if argv[:1] == ["--home"] and len(argv) > 1:
        home, argv = Home(argv[1]), argv[2:]
    if not argv:
        print("usage: mqa-emulator create HOME ... | --home HOME service start|stop|status|restart %s | --home HOME "
              "reinitialize|setup|destroy" % UNIT, file=sys.stderr)
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
    if command == "reinitialize" and not rest:
        unit = _unit(home)
        unit.act("stop")
        home.initialise("admin", reset=True)
        open(home.file("state", "rest-disabled"), "w", encoding="utf-8").close()
        return unit.act("start")
    if command == "setup" and not rest:
        if os.path.exists(home.file("state", "rest-disabled")):
            os.unlink(home.file("state", "rest-disabled"))
            home.change_password("admin", "admin", os.environ.get("MQA_EMULATOR_ADMIN_PASSWORD", "Adm1n mqa"))
        return _unit(home).act("restart")
    if command == "destroy" and not rest:
        if os.path.exists(home.file("etc", "appliance.json")):
            _unit(home).act("stop")
        shutil.rmtree(home.path, ignore_errors=True)
        return 0
    print("unknown command: %s" % " ".join(argv), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
