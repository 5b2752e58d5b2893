# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated IBM MQ Appliance's REST management interface on https://HOST:PORT/mgmt/ (http.server + ssl,
threaded), as SOURCES.md (beside this file) gathers it from IBM's MQ Appliance and DataPower documentation and
from clients recorded against real appliances; mqa_store.py keeps the state, mqa_secure.py makes and restores
secure backups.

| what                                   | emulated as                                                    | SOURCES |
|----------------------------------------|----------------------------------------------------------------|---------|
| authentication                         | HTTP Basic, appliance users (admin)                            | 1       |
| errors                                 | {"error": ["text", ...]}, 400/401/403/404                      | 1       |
| GET /mgmt/status/default/FirmwareVersion3 | {FirmwareVersion3: {Serial, Version, Build, MachineType,    | 5       |
|                                        | ModelType}}                                                    |         |
| /mgmt/config/default/<Class>[/<name>]  | POST {Class: {name, ...}} "Configuration was created.", GET,   | 4       |
|                                        | PUT "... updated.", DELETE "... deleted."; refs {value: name}  |         |
| /mgmt/filestore/default/<top>[/<path>] | listing {filestore: {location: {name, file, directory, href}}} | 3       |
|                                        | (one entry an object, several a list, none left out); a file   |         |
|                                        | {file: base64}; cert: not readable (403); POST {file: {name,   |         |
|                                        | content}} "File was created." (409 when it exists), {directory:|         |
|                                        | {name}} "Directory was created."; PUT "File was updated.";     |         |
|                                        | DELETE "File was deleted." / "Directory was deleted."          |         |
| POST /mgmt/actionqueue/default         | SecureBackup {cert: {value}, destination}, SecureRestore       | 2       |
|                                        | {cred: {value}, source, validate on|off}: 202, _links.location |         |
|                                        | .../pending/<Action>-<time>-<n>, {<Action>: {status: "Action   |         |
|                                        | request accepted."}}; the pending: status started, completed,  |         |
|                                        | error (with error); ChangePassword {OldPassword, Password}: 200|         |
|                                        | {ChangePassword: "Operation completed."}                       |         |
| after a secure restore                 | the appliance restarts (nothing listens for restart_seconds);  | 2, 5    |
|                                        | admin's password is admin and must be changed first            |         |

UNCONFIRMED, chosen here: SecureBackup and SecureRestore answer 202 with a pending location (IBM documents no
answer); a restore's preconditions refused at once with 400; while admin's password must be changed every call
but ChangePassword answers 403 with a message saying so; FirmwareVersion3's field names beyond Serial; the
listing's ``modified`` in local time. After a reinitialize the REST interface is off until ``mqa-emulator setup``
(the initial setup from the serial console): nothing listens.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import http.server
import itertools
import json
import os
import shutil
import signal
import ssl
import sys
import threading
import time
import traceback
import urllib.parse

import mqa_secure as secure
from mqa_store import Home, Refused

PREFIX = "/mgmt/"
OBJECT_CLASSES = ("CryptoCertificate", "CryptoKey", "CryptoIdentCred", "PasswordAlias", "HostAlias")


def stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def one_or_many(items):
    return items[0] if len(items) == 1 else items


class Appliance:
    """What outlives a request and a restart: the home, the pending actions, the restart to come."""

    def __init__(self, home):
        self.home, self.lock, self.pending, self.counter = home, threading.RLock(), {}, itertools.count(1)
        self.restart, self.server = False, None

    def later(self, action, work):
        """A pending action run in the background after operation_seconds; its location."""
        name = "%s-%s-%d" % (action, stamp(), next(self.counter))
        self.pending[name] = {"status": "started"}

        def run():
            time.sleep(self.home.config["operation_seconds"])
            try:
                with self.lock:
                    after = work()
                self.pending[name] = {"status": "completed"}
            except Refused as exc:
                self.pending[name], after = {"status": "error", "error": [exc.message]}, None
            if after:
                after()
        threading.Thread(target=run, daemon=True).start()
        return "/mgmt/actionqueue/default/pending/" + name

    def restart_now(self):
        """A secure restore restarts the appliance half a second after it says completed: the server stops, and
        serve() starts it again later."""
        time.sleep(0.5)
        self.restart = True
        threading.Thread(target=self.server.shutdown, daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mq-appliance-emulator"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        print("%s %s %s" % (stamp(), self.address_string(), format % args), flush=True)

    def serve(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        appliance = self.server.appliance
        try:
            status, answer = self._route(appliance, raw)
        except Refused as exc:
            status, answer = exc.status, {"error": [exc.message]}
        except Exception:  # noqa: BLE001  (the emulator's own bug: said in its log)
            traceback.print_exc()
            status, answer = 500, {"error": ["Internal error: see the emulator's log."]}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = serve  # noqa: N815  (http.server's names)

    def _user(self, home, body):
        kind, _sep, token = (self.headers.get("Authorization") or "").partition(" ")
        try:
            user, _sep, password = base64.b64decode(token).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if kind != "Basic" or not user:
            raise Refused(401, "Authentication failure.")
        record = home.login(user, password)
        if record.get("must_change") and "ChangePassword" not in body:
            raise Refused(403, "The password of %s has expired and must be changed first (ChangePassword)." % user)
        return user, password

    def _route(self, appliance, raw):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise Refused(400, "The request body is not valid JSON.") from None
        home = appliance.home
        user = self._user(home, body if isinstance(body, dict) else {})
        parts = [item for item in path[len(PREFIX):].split("/") if item] if path.startswith(PREFIX) else None
        if parts is None or (parts[:1] != ["filestore"] and len(parts) > 1 and parts[1] != "default"):
            raise Refused(404, "Resource not found.")
        with appliance.lock:
            if parts[:3] == ["status", "default", "FirmwareVersion3"] and self.command == "GET":
                config = home.config
                return 200, {"FirmwareVersion3": {"Serial": config["serial"], "Version": config["firmware"],
                                                  "Build": config["build"], "MachineType": config["mtm"][:4],
                                                  "ModelType": config["mtm"][5:]}}
            if parts[:2] == ["config", "default"] and len(parts) in (3, 4) and parts[2] in OBJECT_CLASSES:
                return self._config(home, parts[2], parts[3] if len(parts) == 4 else None, body)
            if parts[:2] == ["filestore", "default"] and len(parts) >= 3:
                return self._files(home, parts[2], "/".join(parts[3:]), body)
        if parts == ["actionqueue", "default"] and self.command == "POST":
            return self._action(appliance, user, body)
        if parts[:3] == ["actionqueue", "default", "pending"] and len(parts) == 4 and self.command == "GET":
            found = appliance.pending.get(parts[3])
            if found is None:
                raise Refused(404, "Resource not found.")
            return 200, dict(found, _links={"self": {"href": path}})
        raise Refused(404, "Resource not found.")

    # --- configuration objects -----------------------------------------------------------------------------

    def _config(self, home, kind, name, body):
        objects = home.objects(kind)
        if self.command == "GET":
            if name is None:
                return 200, {kind: one_or_many(list(objects.values()))} if objects else {
                    "result": "No configuration retrieved."}
            if name not in objects:
                raise Refused(404, "Resource not found.")
            return 200, {kind: objects[name]}
        if self.command == "DELETE" and name in objects:
            home.delete_object(kind, name)
            return 200, {name: "Configuration was deleted."}
        if self.command in ("POST", "PUT"):
            given = body.get(kind) if isinstance(body, dict) else None
            if not isinstance(given, dict) or not given.get("name") or (name and given["name"] != name):
                raise Refused(400, "The body must be {\"%s\": {\"name\": ..., ...}} naming the object." % kind)
            for field in ("Filename",):
                if field in given:
                    top, path = home.url_path(given[field])
                    if not os.path.isfile(home.store_path(top, path)):
                        raise Refused(400, "%s: %s does not exist." % (given["name"], given[field]))
            for field in ("Certificate", "Key"):
                if field in given and given[field].get("value") not in home.objects("Crypto" + field):
                    raise Refused(400, "%s: Crypto%s %s does not exist." % (given["name"], field, given[field]))
            created = given["name"] not in objects
            home.put_object(kind, given)
            return (201 if created else 200), {given["name"]: "Configuration was %s." % (
                "created" if created else "updated")}
        raise Refused(404, "Resource not found.")

    # --- file stores ---------------------------------------------------------------------------------------

    def _files(self, home, top, path, body):
        full = home.store_path(top, path)
        href = "/mgmt/filestore/default/%s" % "/".join(item for item in (top, path) if item)
        if self.command == "GET":
            if os.path.isdir(full):
                return 200, {"filestore": {"location": self._listing(top, path, full, href)}}
            if not os.path.isfile(full):
                raise Refused(404, "Resource not found.")
            if top == "cert":
                raise Refused(403, "Files in cert: cannot be read.")
            with open(full, "rb") as handle:
                return 200, {"file": base64.b64encode(handle.read()).decode()}
        if self.command == "DELETE":
            if os.path.isdir(full) and path:
                shutil.rmtree(full)
                return 200, {"result": "Directory was deleted."}
            if os.path.isfile(full):
                os.unlink(full)
                return 200, {"result": "File was deleted."}
            raise Refused(404, "Resource not found.")
        if self.command == "POST" and isinstance(body.get("directory"), dict):
            target = home.store_path(top, os.path.join(path, body["directory"].get("name") or ""))
            if os.path.exists(target):
                raise Refused(409, "Directory already exists.")
            os.makedirs(target, mode=0o700)
            return 201, {"result": "Directory was created."}
        given = body.get("file") if isinstance(body, dict) else None
        if self.command in ("POST", "PUT") and isinstance(given, dict) and given.get("name"):
            target = full if self.command == "PUT" else home.store_path(top, os.path.join(path, given["name"]))
            if self.command == "POST" and os.path.exists(target):
                raise Refused(409, "File already exists.")
            try:
                content = base64.b64decode(given.get("content") or "", validate=True)
            except (binascii.Error, ValueError):
                raise Refused(400, "The file content must be base64.") from None
            existed = os.path.exists(target)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            with open(target, "wb") as out:
                out.write(content)
            return (200 if existed else 201), {"result": "File was %s." % ("updated" if existed else "created")}
        raise Refused(400, "Invalid request.")

    @staticmethod
    def _listing(top, path, full, href) -> dict:
        location = {"name": "%s:%s" % (top, "/" + path if path else "")}
        files, directories = [], []
        for entry in sorted(os.scandir(full), key=lambda item: item.name):
            link = "%s/%s" % (href, entry.name)
            if entry.is_dir():
                directories.append({"name": "%s:/%s" % (top, "/".join(item for item in (path, entry.name) if item)),
                                    "href": link})
            else:
                info = entry.stat()
                files.append({"name": entry.name, "size": info.st_size, "modified": time.strftime(
                    "%Y-%m-%d %H:%M:%S", time.localtime(info.st_mtime)), "href": link})
        if files:
            location["file"] = one_or_many(files)
        if directories:
            location["directory"] = one_or_many(directories)
        location["href"] = href
        return location

    # --- actions -------------------------------------------------------------------------------------------

    def _action(self, appliance, user, body):
        if not isinstance(body, dict) or len(body) != 1:
            raise Refused(400, "The body must name one action.")
        (action, given), home = next(iter(body.items())), appliance.home
        if not isinstance(given, dict):
            raise Refused(400, "%s takes an object of parameters." % action)
        if action == "ChangePassword":
            with appliance.lock:
                home.change_password(user[0], str(given.get("OldPassword") or ""), str(given.get("Password") or ""))
            return 200, {"ChangePassword": "Operation completed.", "script-log": ""}
        if action == "SecureBackup":
            cert, destination = (given.get("cert") or {}).get("value"), given.get("destination") or ""
            if cert not in home.objects("CryptoCertificate"):
                raise Refused(400, "CryptoCertificate %s does not exist." % cert)
            home.url_path(destination)
            location = appliance.later(action, lambda: secure.backup(home, cert, destination))
        elif action == "SecureRestore":
            if user[0] != "admin":
                raise Refused(403, "Secure restore must be run by admin.")
            validate = str(given.get("validate") or "off")
            if validate not in ("on", "off"):
                raise Refused(400, "validate is on or off.")
            with appliance.lock:
                parts, _facts = secure.check_restore(home, (given.get("cred") or {}).get("value"),
                                                     given.get("source") or "")

            def run():
                if validate == "off":
                    secure.restore(home, parts)
                    return appliance.restart_now
                return None
            location = appliance.later(action, run)
        else:
            raise Refused(400, "Unknown or unsupported action %s." % action)
        return 202, {"_links": {"self": {"href": "/mgmt/actionqueue/default"}, "location": {"href": location}},
                     action: {"status": "Action request accepted."}}


def serve(path) -> int:
    home = Home(path)
    appliance = Appliance(home)
    stopping = threading.Event()

    def finish(_signum, _frame):
        stopping.set()
        if appliance.server:
            threading.Thread(target=appliance.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    while not stopping.is_set():
        if os.path.exists(home.file("state", "rest-disabled")):  # after a reinitialize: nothing listens
            stopping.wait(0.2)
            continue
        config = home.config
        host, _sep, port = config["bind"].rpartition(":")
        server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(home.file("etc", "server.pem"), home.file("etc", "server.key"))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.appliance, appliance.server = appliance, server
        print("%s MQ Appliance %s (emulated) on https://%s%s" % (
            stamp(), config["firmware"], config["bind"], PREFIX), flush=True)
        server.serve_forever(poll_interval=0.2)
        server.server_close()
        if appliance.restart and not stopping.is_set():
            print("%s restarting after a secure restore" % stamp(), flush=True)
            stopping.wait(config["restart_seconds"])
            appliance.restart = False
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
