# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated ``kanidmd server``: HTTPS on server.toml's bindaddress, and its scheduled online backups.

Documents followed (kanidm/kanidm v1.11.1): server/core/src/https/mod.rs and v1.rs (``GET /status`` answers
``true``; ``GET|POST /v1/person``, ``GET|DELETE /v1/person/{id}``, the same for ``/v1/group``; an entry is
{"attrs": {attr: [values]}}, a GET of one that is not there answers ``null``); proto/src/v1/auth.rs (``POST
/v1/auth`` with {"step": {"init2": {"username", "issue", "privileged"}}}, then {"begin": "password"} and {"cred":
{"password"}} under the header X-KANIDM-AUTH-SESSION-ID, answered {"sessionid", "state": {"choose"|"continue"|
"denied"|"success": ...}}); server/core/src/actors/v1_read.rs and interval.rs for the online backups (see
kanidmd.py). A delete puts the entry in the recycle bin (class recycled), as kanidm's does.

UNCONFIRMED, chosen here: the status code for an unknown account at init2 (401); only admin and idm_admin may
create and delete (kanidm's access controls are finer). Differs on purpose: the bearer token is an opaque random
string, not a signed JWS.
"""

from __future__ import annotations

import datetime
import gzip
import http.server
import json
import os
import re
import secrets
import signal
import ssl
import threading
import uuid

from kanidm_db import Store, StoreError, password_matches, values

SESSION = "X-KANIDM-AUTH-SESSION-ID"
ONLINE_FILE = re.compile(r"^backup-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z\.json")
KINDS = {"person": ["object", "account", "person"], "group": ["object", "group"]}
MAY_WRITE = ("admin", "idm_admin")


def proto_entry(db_entry, domain) -> dict:
    shown = {}
    for attr, value in db_entry["ent"]["V3"]["attrs"].items():
        if "CR" in value:
            continue  # credentials are not shown
        shown[attr] = [str(item) for item in next(iter(value.values()), [])]
    shown["spn"] = ["%s@%s" % (shown["name"][0], domain)]
    return {"attrs": shown}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "kanidmd-emulator"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        print("%s INFO  %s %s" % (datetime.datetime.now(datetime.timezone.utc).isoformat(), self.address_string(),
                                  format % args), flush=True)

    def _answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def _caller(self):
        token = (self.headers.get("Authorization") or "").partition("Bearer ")[2]
        return self.server.tokens.get(token)

    def do_GET(self):  # noqa: N802  (http.server's name)
        if self.path == "/status":
            return self._answer(200, True)
        match = re.match(r"^/v1/(person|group)(?:/([^/?]+))?$", self.path)
        if not match:
            return self._answer(404, "notfound")
        if not self._caller():
            return self._answer(401, "notauthenticated")
        kind, name = match.groups()
        store = Store(self.server.db_path)
        try:
            if name:
                found = store.by_name(name)[1]
                shown = found if found and KINDS[kind][-1] in values(found, "class") else None
                return self._answer(200, proto_entry(shown, self.server.domain) if shown else None)
            return self._answer(200, [proto_entry(e, self.server.domain) for e in store.entries()
                                      if KINDS[kind][-1] in values(e, "class")])
        finally:
            store.close()

    def do_POST(self):  # noqa: N802
        if self.path == "/v1/auth":
            return self._auth(self._body() or {})
        match = re.match(r"^/v1/(person|group)$", self.path)
        if not match:
            return self._answer(404, "notfound")
        if self._caller() not in MAY_WRITE:
            return self._answer(401 if not self._caller() else 403, "accessdenied")
        attrs = (self._body() or {}).get("attrs") or {}
        if not attrs.get("name"):
            return self._answer(400, {"schemaviolation": {"missingmustattribute": ["name"]}})
        extra = {"displayname": {"U8": attrs["displayname"]}} if attrs.get("displayname") else {}
        return self._change(lambda store: store.create(KINDS[match.group(1)], attrs["name"][0], **extra))

    def do_DELETE(self):  # noqa: N802
        match = re.match(r"^/v1/(person|group)/([^/?]+)$", self.path)
        if not match:
            return self._answer(404, "notfound")
        if self._caller() not in MAY_WRITE:
            return self._answer(401 if not self._caller() else 403, "accessdenied")
        return self._change(lambda store: store.recycle(match.group(2)))

    def _change(self, action):
        store = Store(self.server.db_path)
        try:
            action(store)
        except StoreError as exc:
            return self._answer(400, str(exc))
        finally:
            store.close()
        return self._answer(200, None)

    def _auth(self, body):
        step = body.get("step") or {}
        sessions = self.server.sessions
        if "init2" in step:
            name = step["init2"].get("username")
            store = Store(self.server.db_path)
            try:
                found = store.by_name(name)[1]
            finally:
                store.close()
            if not found or "account" not in values(found, "class"):
                return self._answer(401, "nomatchingentries")
            session = str(uuid.uuid4())
            sessions[session] = {"name": name, "entry": found, "begun": False}
            mechanisms = ["password"] if "primary_credential" in found["ent"]["V3"]["attrs"] else []
            return self._answer(200, {"sessionid": session, "state": {"choose": mechanisms}}, {SESSION: session})
        session = self.headers.get(SESSION)
        held = sessions.get(session)
        if held is None:
            return self._answer(401, "invalidsessionstate")
        if step.get("begin") == "password":
            held["begun"] = True
            return self._answer(200, {"sessionid": session, "state": {"continue": ["password"]}})
        credential = (step.get("cred") or {}).get("password")
        if held["begun"] and credential is not None:
            del sessions[session]
            if password_matches(held["entry"], credential):
                token = secrets.token_urlsafe(32)
                self.server.tokens[token] = held["name"]
                return self._answer(200, {"sessionid": session, "state": {"success": token}})
            return self._answer(200, {"sessionid": session, "state": {"denied": "incorrect password"}})
        return self._answer(400, "invalidstate")


# --- online backups ------------------------------------------------------------------------------------------

def _field_matches(field, value, low):
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step = part.split("/", 1)
            step = int(step)
        if part == "*":
            first, last = low, 10 ** 6
        elif "-" in part:
            first, last = (int(item) for item in part.split("-", 1))
        else:
            first = last = int(part)
        if first <= value <= last and (value - first) % step == 0:
            return True
    return False


def schedule_matches(schedule, moment) -> bool:
    """The cron expression kanidmd takes (interval.rs: five fields get seconds 0 prepended), in UTC."""
    schedule = {"@hourly": "0 0 * * * *", "@daily": "0 0 0 * * *", "@weekly": "0 0 0 * * 1"}.get(schedule, schedule)
    fields = schedule.split()
    if len(fields) == 5:
        fields = ["0"] + fields
    weekday = (moment.weekday() + 1) % 7 + 1  # the cron crate's 1 (Sunday) to 7
    now = (moment.second, moment.minute, moment.hour, moment.day, moment.month, weekday)
    lows = (0, 0, 0, 1, 1, 1)
    return all(_field_matches(field, value, low) for field, value, low in zip(fields, now, lows))


def online_backup(db_path, section, compressed, series):
    directory = section["path"]
    os.makedirs(directory, mode=0o700, exist_ok=True)
    moment = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    target = os.path.join(directory, "backup-%s.json%s" % (moment, ".gz" if compressed else ""))
    if os.path.exists(target):
        print("ERROR Online backup file %s already exists, will not overwrite it." % target, flush=True)
        return
    store = Store(db_path)
    try:
        data = store.backup(series).encode()
    finally:
        store.close()
    with open(target, "wb") as handle:
        handle.write(gzip.compress(data, 9) if compressed else data)
    print("INFO  Online backup created %s successfully" % target, flush=True)
    kept = sorted(name for name in os.listdir(directory) if ONLINE_FILE.match(name))
    for name in kept[:max(len(kept) - int(section["versions"]), 0)]:
        os.unlink(os.path.join(directory, name))


def _backups(stop, config, series):
    section = config.online_backup()
    if not section or not section["enabled"]:
        return
    last = None
    while not stop.wait(0.2):
        moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        if moment != last and schedule_matches(section["schedule"], moment):
            last = moment
            online_backup(config.db_path, section, config.gzip(), series)


# --- the server ----------------------------------------------------------------------------------------------

def serve(config, series) -> int:
    store = Store(config.db_path)
    if not store.initialised():
        store.initialise(config.values.get("domain") or "localhost")
    store.close()
    addresses = config.values.get("bindaddress") or "127.0.0.1:8443"
    host, _sep, port = (addresses[0] if isinstance(addresses, list) else addresses).rpartition(":")
    server = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config.path("tls_chain"), config.path("tls_key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.db_path, server.domain = config.db_path, config.values.get("domain") or "localhost"
    server.sessions, server.tokens = {}, {}
    stop = threading.Event()
    scheduler = threading.Thread(target=_backups, args=(stop, config, series), daemon=True)
    scheduler.start()

    def finish(_signum, _frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    print("INFO  Starting Kanidmd %s, listening on %s:%s" % (series, host, port), flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0
