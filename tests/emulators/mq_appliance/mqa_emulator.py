# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Makes and runs the tests' emulated IBM MQ Appliances (mqa_api.py is the appliance; SOURCES.md the contract):

``mqa-emulator create HOME --bind HOST:PORT [--ssh HOST:PORT] [--firmware 9.4.1.0] [--build 123456]
[--mtm 5900-AC1] [--serial S] [--name NAME] [--operation-seconds 1] [--restart-seconds 2]``: a configured
appliance in service (REST enabled), admin's password from MQA_EMULATOR_ADMIN_PASSWORD. With ``--ssh``, its command
line (mqa_cli.py) is reached over SSH there: a real sshd whose only login is root by the key ``ssh/client_key``
(the forced command is the CLI, which asks for the appliance login itself; ``ssh/host_key.pub`` is its host key).
``mqa-emulator --home HOME service start|stop|status|restart mqa``: stands in for the appliance's power (the REST
interface, and the sshd).
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
import socket
import ssl
import subprocess
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
    parser.add_argument("--ssh", default=None, help="HOST:PORT of the command line over SSH (default: none)")
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
    if args.ssh:
        os.makedirs(home.file("ssh"), mode=0o700)
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mqa-emulator " + key, "-f",
                            home.file("ssh", key)], check=True)
    config = {"bind": args.bind, "ssh": args.ssh, "name": name, "firmware": args.firmware, "build": args.build,
              "mtm": args.mtm, "serial": args.serial or secrets.token_hex(4).upper(), "operation_seconds": args.operation_seconds,
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


SSHD_CONFIG = """Port %(port)s
ListenAddress %(address)s
HostKey %(home)s/ssh/host_key
PidFile none
AuthorizedKeysFile %(home)s/ssh/authorized_keys
PermitRootLogin forced-commands-only
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
"""


def _ssh_unit(home):
    """The sshd of the appliance's command line (None without --ssh): its only login runs mqa_cli.py."""
    where = home.config.get("ssh")
    if not where:
        return None
    address, _sep, port = where.rpartition(":")
    python = os.environ.get("MQA_EMULATOR_PYTHON") or sys.executable
    with open(home.file("ssh", "client_key.pub"), encoding="utf-8") as handle:
        key = handle.read().strip()
    with open(home.file("ssh", "authorized_keys"), "w", encoding="utf-8") as out:
        out.write('command="%s %s %s",no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n'
                  % (python, os.path.join(HERE, "mqa_cli.py"), home.path, key))
    with open(home.file("ssh", "sshd_config"), "w", encoding="utf-8") as out:
        out.write(SSHD_CONFIG % {"port": port, "address": address, "home": home.path})
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory

    def answers():
        try:
            socket.create_connection((address, int(port)), timeout=1).close()
            return True
        except OSError:
            return False

    return supervisor.Unit(UNIT + "-ssh", home.file("run", "sshd.pid"), home.file("log", "sshd.log"),
                           ["/usr/sbin/sshd", "-D", "-e", "-f", home.file("ssh", "sshd_config")], answers)


def _power(home, action) -> int:
    """``action`` on the REST interface and (after it) the sshd."""
    units = [unit for unit in (_unit(home), _ssh_unit(home)) if unit]
    codes = [unit.act(action) for unit in units]
    return max(codes)


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
        return _power(home, rest[0])
    if command == "reinitialize" and not rest:
        _power(home, "stop")
        home.initialise("admin", reset=True)
        open(home.file("state", "rest-disabled"), "w", encoding="utf-8").close()
        return _power(home, "start")
    if command == "setup" and not rest:
        if os.path.exists(home.file("state", "rest-disabled")):
            os.unlink(home.file("state", "rest-disabled"))
            home.change_password("admin", "admin", os.environ.get("MQA_EMULATOR_ADMIN_PASSWORD", "Adm1n mqa"))
        return _power(home, "restart")
    if command == "destroy" and not rest:
        if os.path.exists(home.file("etc", "appliance.json")):
            _power(home, "stop")
        shutil.rmtree(home.path, ignore_errors=True)
        return 0
    print("unknown command: %s" % " ".join(argv), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
