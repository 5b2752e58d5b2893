# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated CipherTrust Manager: its backup REST API under https://HOST:PORT/api/v1 (http.server + ssl, threaded).
This module serves and routes (ROUTES); endpoints.py answers, ct_store.py keeps the data and writes the files.

Sources: R = /work/shared/reference/001_47021737e7ba0bff.txt (the Backups chapter with ksctl's JSON); N1, N3 = notes-
ciphertrust-mq-awx.md sections 1 and 3; ANS = ThalesGroup/CDSP-Orchestration Ansible/thalesgroup/ciphertrust/plugins/
module_utils/cm_api.py; PS = the same repository's PowerShell/CipherTrustManager/{Keys,Info,Tokens}/*.psm1; TF =
ThalesGroup/terraform-provider-ciphertrust (branch 1.0.1); TD = thalesdocs.com ctp/cm/2.18/admin/cdp/cdp-interfaces
(a token answer) and ctp/cm/latest/admin/cte-us/cte-us-response-codes (401 messages).

| what                                        | emulated as                                                   | source |
|---------------------------------------------|---------------------------------------------------------------|--------|
| the endpoints and their paths               | ROUTES (SCP connections, browse, scheduler left out)          | N1     |
| POST /auth/tokens                           | grant_type password|refresh_token, username, password, domain,| N1, PS,|
|                                             | auth_domain, refresh_token (N1's other fields taken, ignored) | TF     |
| its answer                                  | jwt, duration (300), token_type Bearer, client_id,            | TD     |
|                                             | refresh_token, refresh_token_expires_in                       |        |
| Authorization: Bearer <jwt>; expired        | 401 "Bearer token malformed: Token is expired by Ns"          | N1, TD |
| error body                                  | {code, codeDesc "NCERR<Kind>: text", message}; NCERRConflict, | ANS, TF|
|                                             | NCERRKeyAlreadyExists, NCERRResourceNotFound                  |        |
| lists                                       | {skip, limit, total, resources}, skip 0, limit 10             | R      |
| a backup key                                | scope, account, domainID (domain only), version "2", id,      | R      |
|                                             | createdAt, isDefault; POST takes scope (system), default      |        |
| a backup key file's clear header            | {version: 2, keyid, createdAt}                                | R      |
| a backup                                    | scope, account, domainID, version "v1.1.4", id, createdAt,    | R      |
|                                             | status "In Progress" then "Completed", tiedToHSM, backupKey,  |        |
|                                             | productVersion "v<release>" (R: "v1.10.0-beta4.4388")         |        |
| POST /backups                               | scope, backupKey, description, tiedToHSM, filters             | N1 (TF)|
| resourceType                                | Keys, cte_policies, customer_fragments, users_groups          | N1     |
| filters domain only, tiedToHSM system only  | 400                                                           | R      |
| one operation at a time                     | 409                                                           | R      |
| no system backups for domain administrators | 403, the chapter's sentence                                   | R      |
| no system restore on a cluster node         | 400                                                           | R      |
| a backup file's clear header                | ksctl backup inspect's fields (domainID, backupKeyId,         | R      |
|                                             | isHSMBacked, checksum, mkekChecksum, ...) and "domain"        | (brief)|
| a system backup holds                       | domains, users, keys; never backup keys                       | R      |
| the release rule                            | same or next 3 minor; LTS also next 2 LTS; force; no downgrade| R, N3  |
| tiedToHSM                                   | restores only where the HSM root key is the same              | R      |
| a system restore                            | services restart: HTTP 500 everywhere, then Completed         | R      |
| a domain restore                            | that domain's keys only, no restart                           | R      |
| GET /backupStatus (the last operation)      | scope, account, operation "Backup create", id, started,       | R      |
|                                             | status; finished                                              | N1     |
| /vault/keys2                                | name, algorithm, size, usageMask; 409 NCERRKeyAlreadyExists   | TF, PS,|
|                                             |                                                               | ANS    |
| GET /system/info                            | name, model, vendor, version "major.minor.patch[-build]"      | PS     |
| POST /backups/{id}/scp                      | host, port, username, auth_method key|password, password,     | N1 (PS,|
|                                             | public_key (the host's), path_to (complete); system only      | R)     |
| its answer, scp-status[/{scp_id}]           | id, host, connection_status in_progress then completed,       | R      |
|                                             | createdAt, updatedAt; scp-status lists every transfer         |        |
| /scp/public-key, .../rotate                 | the appliance's OpenSSH key; rotate answers {success: true}   | R      |

UNCONFIRMED, chosen here: the numeric ``code`` (the HTTP status) and the kinds NCERRInvalidParamValue,
NCERRUnauthorized, NCERRForbidden, NCERRNotFound and NCERRInternal; the status codes 409/403/400 above; backup key
download {password, hint} (ksctl has --bkpassword, --hint) and upload {file (base64), password, scope}; POST
/uploadBackup {file (base64), scope?}; restore {force} (ksctl --force) and its 202; "Backup restore" and ``message``
in backupStatus, 404 before any operation; an unknown backupKey in a body (400); tiedToHSM with no HSM (400); the
restart's 500 page (nginx's HTML); key fields beyond N1/PS's; /system/info's model and vendor; a default domain key
for the root domain only at first boot; auth_domain, when omitted, is the user's own domain. Differs on purpose:
the JWT is HS256 with the emulator's claims; refresh tokens live in memory; AES keys only; keys2 lists take name,
skip and limit only.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import signal
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

import ct_scp
import ct_store as store
from endpoints import ApiError, Endpoints, now
from ct_store import Store

PREFIX = "/api/v1"
RESTARTING = (b"<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server "
              b"Error</h1></center><hr><center>nginx</center></body></html>\n")
ID = r"(?P<id>[^/]+)"
PAGED = ("skip", "limit")
ROUTES = (  # method, path under /api/v1, endpoint, the query parameters it takes
    ("POST", r"/auth/tokens/?", "tokens", ()), ("GET", r"/system/info", "system_info", ()),
    ("GET", r"/backupkeys", "list_backup_keys", PAGED + ("scope",)),
    ("POST", r"/backupkeys", "create_backup_key", ()), ("POST", r"/backupkeys/upload", "upload_backup_key", ()),
    ("GET", r"/backupkeys/" + ID, "get_backup_key", ()), ("DELETE", r"/backupkeys/" + ID, "delete_backup_key", ()),
    ("POST", r"/backupkeys/%s/default" % ID, "default_backup_key", ()),
    ("POST", r"/backupkeys/%s/download" % ID, "download_backup_key", ()),
    ("GET", r"/backups", "list_backups", PAGED + ("scope",)), ("POST", r"/backups", "create_backup", ()),
    ("GET", r"/backups/" + ID, "get_backup", ()), ("DELETE", r"/backups/" + ID, "delete_backup", ()),
    ("GET", r"/backups/%s/download" % ID, "download_backup", ()),
    ("POST", r"/backups/%s/restore" % ID, "restore", ()), ("POST", r"/uploadBackup", "upload_backup", ()),
    ("GET", r"/backupStatus", "backup_status", ()),
    ("POST", r"/backups/%s/scp" % ID, "scp", ()), ("GET", r"/backups/%s/scp-status" % ID, "scp_status", ()),
    ("GET", r"/backups/%s/scp-status/(?P<scp_id>[^/]+)" % ID, "scp_status", ()),
    ("GET", r"/scp/public-key", "scp_public_key", ()), ("POST", r"/scp/public-key/rotate", "rotate_scp_key", ()),
    ("GET", r"/vault/keys2", "list_keys", PAGED + ("name",)), ("POST", r"/vault/keys2", "create_key", ()),
    ("GET", r"/vault/keys2/" + ID, "get_key", ()), ("DELETE", r"/vault/keys2/" + ID, "delete_key", ()),
)


class Appliance:
    """What outlives a request: the configuration, the one lock on the database, the refresh tokens, the restart
    window and the timers that finish operations."""

    def __init__(self, home, config):
        self.home, self.config, self.db_path = home, config, "%s/data/ciphertrust.db" % home
        self.lock, self.refresh_tokens, self.restart_until = threading.RLock(), {}, 0.0
        with self.store() as db:
            self.secret, self.mkek = db.meta("jwt_secret").encode(), db.meta("mkek")
            interrupted = db.operation()
            if interrupted and interrupted["status"] == "In Progress":  # the service was stopped under it
                db.set_operation(status="Failed", finished=now(), message="interrupted: the appliance stopped")
                if interrupted["operation"] == "Backup create":
                    db.set_backup(interrupted["id"], status="Failed")

    @contextlib.contextmanager
    def store(self):
        with self.lock:
            db = Store(self.db_path)
            try:
                yield db
                db.commit()  # not on an ApiError: a refused request changes nothing
            finally:
                db.close()

    def restarting(self) -> bool:
        return time.monotonic() < self.restart_until

    def later(self, seconds, action):
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()

    def jwt(self, user, domain_id) -> dict:
        issued = time.time()
        claims = {"iss": "kylo", "acc": "kylo", "sub": "local|" + user["name"], "preferred_username": user["name"],
                  "cust": {"domain_id": domain_id, "groups": [user["role"]]}, "jwtid": str(uuid.uuid4()),
                  # RFC 7519 lets exp be a fraction: a 2 s token expires after 2 s, not up to 3
                  "iat": int(issued), "exp": round(issued + self.config["token_seconds"], 3)}
        return {"jwt": store.sign_jwt(self.secret, claims), "duration": self.config["token_seconds"],
                "token_type": "Bearer"}

    def caller(self, header) -> dict:
        token = (header or "").partition("Bearer ")[2].strip()
        if not token:
            raise ApiError(401, "Unauthorized: no bearer token in the Authorization header")
        claims = store.jwt_claims(self.secret, token)
        if claims is None:
            raise ApiError(401, "Bearer token malformed: signature is invalid")
        if time.time() >= claims["exp"]:
            raise ApiError(401, "Bearer token malformed: Token is expired by %ds" % (time.time() - claims["exp"]))
        return {"user": claims["preferred_username"], "role": claims["cust"]["groups"][0],
                "domain_id": claims["cust"]["domain_id"]}

    def finish(self, backup_id=None, restore=None):
        """The second half of an operation, on a timer: a backup completes; a restore replaces the data and, for a
        system backup, restarts the services (R): every endpoint answers 500 until they are back."""
        with self.store() as db:
            if backup_id:
                db.set_backup(backup_id, status="Completed")
            if restore:
                db.replace(*restore)
            if restore and restore[1] == "system":
                self.restart_until = time.monotonic() + self.config["restart_seconds"]
            else:
                db.set_operation(status="Completed", finished=now())
        if restore and restore[1] == "system":
            self.later(self.config["restart_seconds"], self.finish)

    def send(self, transfer_id, backup, request):
        """An SCP transfer, on a timer: in_progress until scp has sent the backup's file, then completed or failed."""
        problem = ct_scp.send(self.home, backup["file"], backup["id"], request)
        with self.store() as db:
            db.set_transfer(transfer_id, connection_status="failed" if problem else "completed", updated_at=now(),
                            message=problem or None)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "ciphertrust-emulator"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        print("%s %s %s" % (now(), self.address_string(), format % args), flush=True)

    def serve(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # first: the connection is kept alive
        if self.server.appliance.restarting():
            return self._send(500, RESTARTING, "text/html")
        try:
            status, answer = self._route(self.server.appliance, raw)
        except ApiError as exc:
            status, answer = exc.status, exc.body()
        except Exception:  # noqa: BLE001  (the emulator's own bug: said in its log, not hidden)
            traceback.print_exc()
            status, answer = 500, ApiError(500, "the emulator failed: see its log").body()
        if isinstance(answer, bytes):
            return self._send(status, answer, "application/octet-stream")
        return self._send(status, b"" if answer is None else json.dumps(answer).encode(), "application/json")

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = serve  # noqa: N815  (http.server's names)

    def _route(self, appliance, raw):
        url = urllib.parse.urlsplit(self.path)
        path, methods = url.path[len(PREFIX):] if url.path.startswith(PREFIX + "/") else "", []
        for verb, pattern, name, parameters in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and verb == self.command:
                break
            if match:
                methods.append(verb)
        else:
            raise ApiError(405 if methods else 404, "%s %s: no such endpoint" % (self.command, url.path))
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if set(query) - set(parameters):
            raise ApiError(400, "unknown query parameter(s): %s" % ", ".join(sorted(set(query) - set(parameters))))
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ApiError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        caller = None if name == "tokens" else appliance.caller(self.headers.get("Authorization"))
        endpoint = Endpoints(appliance, caller, {key: values[-1] for key, values in query.items()}, body)
        return getattr(endpoint, name)(**match.groupdict())

    def _send(self, status, data, content_type):
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(home) -> int:
    with open("%s/etc/appliance.json" % home, encoding="utf-8") as handle:
        config = json.load(handle)
    host, _sep, port = config["bind"].rpartition(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain("%s/etc/server.pem" % home, "%s/etc/server.key" % home)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.appliance = Appliance(home, config)

    def finish(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    print("%s CipherTrust Manager %s (emulated) on https://%s%s" % (now(), config["version"], config["bind"], PREFIX),
          flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
