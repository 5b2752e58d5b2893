# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CipherTrust Manager's backups and backup keys, as its backup chapter (shared/reference/001) describes them.

- A backup is always encrypted with a backup key: the scope's default when none is named. System keys encrypt
  system backups only, domain keys domain ones.
- A backup's status goes "In Progress", then "Completed"; only one backup or restore runs at a time, and
  ``backupStatus`` reports the last operation only. During a system restore the services restart and the API may
  answer HTTP 500 for a while (normal: polled on).
- A backup restores on the same release or a later one within the supported window (the next three minor
  releases; the next two LTS ones for an LTS backup), an older one only with force, and never onto an older
  release, force or not: ``productVersion`` is compared, not the file's format version.
- Backups and keys exist only on the node that made them or where they were uploaded. A system backup leaves the
  backup keys out: a restore onto another appliance uploads the key file first.
- SCP sends system backups only, to a host that has the appliance's SCP public key in its ``authorized_keys`` (or
  by password), checking the host by its public key; a transfer's status is kept four days.

A file downloaded from the appliance is opaque (its format is not public): beside it, ``<file>.json`` keeps what the
API said of it and the checksum taken at download, which the info module and idempotent re-runs read.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import file_digest, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import CipherTrustError

IN_PROGRESS, COMPLETED = "In Progress", "Completed"
# An SCP transfer's connection_status is lower case, unlike a backup's status.
SCP_IN_PROGRESS, SCP_COMPLETED = "in_progress", "completed"
# The window of minor releases a backup restores into without force (the current documentation).
MINOR_WINDOW = 3
LTS_WINDOW = 2
VERSION = re.compile(r"^v?(\d+)\.(\d+)")


def sidecar(path) -> str:
    return path + ".json"


def read_sidecar(path) -> dict:
    """What was recorded beside a downloaded file ({} when nothing was)."""
    try:
        with open(sidecar(path), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def intact_download(path, kind) -> dict:
    """The sidecar of ``path`` when the file is there, of ``kind``, and still has the checksum taken at download."""
    held = read_sidecar(path)
    if held.get("kind") == kind and os.path.isfile(path) and file_digest(path) == held.get("sha256"):
        return held
    return {}


def series(version):
    match = VERSION.match(str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def release_problem(backup_version, appliance_version, lts=(), force=False) -> str:
    """Why a backup of ``backup_version`` cannot be restored onto ``appliance_version`` ('' when it can)."""
    made, here = series(backup_version), series(appliance_version)
    if made is None or here is None:
        return "the release of the backup (%s) or of the appliance (%s) is unknown: restore by hand after checking " \
               "Thales's compatibility table" % (backup_version, appliance_version)
    if made > here:
        return "the backup was made on CipherTrust Manager %s and this appliance runs %s: a backup never restores " \
               "onto an older release, with force or without" % (backup_version, appliance_version)
    lts_series = sorted({series(name) for name in lts if series(name)})
    within = made[0] == here[0] and here[1] - made[1] <= MINOR_WINDOW
    if made in lts_series and here in lts_series:
        within = within or lts_series.index(here) - lts_series.index(made) <= LTS_WINDOW
    if within or force:
        return ""
    return "the backup was made on CipherTrust Manager %s, older than the releases %s restores without force (the " \
           "next %d minor releases%s): restore it with force true, after checking with Thales support as its " \
           "documentation advises" % (backup_version, appliance_version, MINOR_WINDOW,
                                      ", or the next %d LTS ones" % LTS_WINDOW if lts_series else "")


class Appliance:
    """One CipherTrust Manager through its API (client.Client)."""

    def __init__(self, client):
        self.client = client

    def describe(self) -> str:
        return self.client.describe()

    def info(self) -> dict:
        return self.client.call("GET", "/system/info")

    def version(self) -> str:
        return str(self.info().get("version") or "")

    def _get(self, path):
        try:
            return self.client.call("GET", path)
        except CipherTrustError as exc:
            if exc.status == 404:
                return None
            raise

    # --- backup keys ---------------------------------------------------------------------------------------

    def backup_keys(self, scope=None) -> list:
        return self.client.list_all("/backupkeys", **({"scope": scope} if scope else {}))

    def backup_key(self, key_id):
        return self._get("/backupkeys/%s" % key_id)

    def create_backup_key(self, scope, default=False) -> dict:
        return self.client.call("POST", "/backupkeys", {"scope": scope, "default": bool(default)})

    def make_default(self, key_id) -> dict:
        return self.client.call("POST", "/backupkeys/%s/default" % key_id)

    def delete_backup_key(self, key_id):
        self.client.call("DELETE", "/backupkeys/%s" % key_id)

    def download_backup_key(self, key, path, password, hint=None) -> dict:
        """The key's password-protected file at ``path``, and its sidecar."""
        body = {"password": password}
        if hint:
            body["hint"] = hint
        got = self.client.download("POST", "/backupkeys/%s/download" % key["id"], path, body)
        return self._record(path, "backup_key", got, {"id": key["id"], "scope": key.get("scope"),
                                                      "createdAt": key.get("createdAt"), "hint": hint or ""})

    def upload_backup_key(self, path, password, scope) -> dict:
        try:
            return self.client.upload("/backupkeys/upload", path, password=password, scope=scope)
        except CipherTrustError as exc:
            if exc.status == 400 and "password" in str(exc).lower():
                raise CipherTrustError("the backup key file %s does not open with the password given: %s"
                                       % (path, exc), exc.status)
            raise

    # --- backups ------------------------------------------------------------------------------------------

    def backups(self) -> list:
        return self.client.list_all("/backups")

    def backup(self, backup_id):
        return self._get("/backups/%s" % backup_id)

    def status(self) -> dict:
        """The last backup or restore operation ({} when there was none)."""
        return self._get("/backupStatus") or {}

    def running(self) -> str:
        """The backup or restore the appliance is running ('' when none): it runs one at a time."""
        status = self.status()
        return str(status.get("operation") or "operation") if status.get("status") == IN_PROGRESS else ""

    # --- the keys it manages (a system backup holds them) ------------------------------------------------

    def keys_total(self, name=None) -> int:
        """How many keys the login domain sees (named ``name``, when given)."""
        query = dict({"skip": 0, "limit": 1}, **({"name": name} if name else {}))
        return int(self.client.call("GET", "/vault/keys2", query=query).get("total") or 0)

    def create_backup(self, scope="system", backup_key=None, description=None, tied_to_hsm=False, filters=None):
        if scope != "system" and tied_to_hsm:
            raise InvalidInput("tied_to_hsm applies to system backups only (scope system)")
        if scope != "domain" and filters:
            raise InvalidInput("filters apply to domain backups only (scope domain)")
        body = {"scope": scope}
        for key, value in (("backupKey", backup_key), ("description", description),
                           ("tiedToHSM", tied_to_hsm if scope == "system" else None),
                           ("filters", [{"resourceType": item["resource_type"],
                                         "resourceQuery": item.get("resource_query") or ""}
                                        for item in filters or []] or None)):
            if value is not None:
                body[key] = value
        return self.client.call("POST", "/backups", body)

    def wait_backup(self, backup_id, timeout) -> dict:
        def probe():
            found = self.backup(backup_id)
            if found is None:
                raise CipherTrustError("%s: backup %s is gone while it was being made" % (self.describe(), backup_id))
            if found.get("status") not in (IN_PROGRESS, COMPLETED):
                said = self.status().get("message")
                raise CipherTrustError("%s: backup %s ended %s%s" % (
                    self.describe(), backup_id, found.get("status"), ": %s" % said if said else ""))
            return found if found.get("status") == COMPLETED else None
        return self.client.wait("backup %s" % backup_id, probe, timeout)

    def download_backup(self, backup, path) -> dict:
        got = self.client.download("GET", "/backups/%s/download" % backup["id"], path)
        fields = {name: backup.get(name) for name in ("id", "scope", "productVersion", "tiedToHSM", "backupKey",
                                                      "createdAt", "description")}
        return self._record(path, "backup", got, fields)

    def upload_backup(self, path) -> dict:
        return self.client.upload("/uploadBackup", path)

    def delete_backup(self, backup_id):
        self.client.call("DELETE", "/backups/%s" % backup_id)

    def restore(self, backup, force, timeout) -> dict:
        """Restores ``backup`` (on the appliance) and waits until backupStatus says the restore completed."""
        body = {"force": True} if force else {}
        self.client.call("POST", "/backups/%s/restore" % backup["id"], body)

        def probe():
            status = self.status()  # the last operation only: this restore once it has begun
            if "restore" not in str(status.get("operation")).lower() or status.get("id") not in (None, backup["id"]):
                return None
            if status.get("status") == COMPLETED:
                return status
            if status.get("status") != IN_PROGRESS:
                raise CipherTrustError("%s: the restore of backup %s ended %s%s" % (
                    self.describe(), backup["id"], status.get("status"),
                    ": %s" % status["message"] if status.get("message") else ""))
            return None
        # A system restore restarts the appliance's services: HTTP 500 and no answer for a while are normal.
        return self.client.wait("the restore of backup %s" % backup["id"], probe, timeout,
                                restarting=backup.get("scope") == "system")

    # --- SCP ------------------------------------------------------------------------------------------------

    def scp_public_key(self) -> str:
        """The appliance's SCP public key (an authorized_keys line)."""
        answer = self.client.call("GET", "/scp/public-key")
        if isinstance(answer, dict):  # its JSON shape is not documented: a string, or one string field
            answer = next((value for value in answer.values() if isinstance(value, str)), "")
        return str(answer or "").strip()

    def rotate_scp_key(self):
        self.client.call("POST", "/scp/public-key/rotate")

    def scp_transfers(self, backup_id) -> list:
        answer = self.client.call("GET", "/backups/%s/scp-status" % backup_id)
        if isinstance(answer, dict):  # one transfer, or a page of them
            answer = answer.get("resources", [answer] if answer.get("id") else [])
        return answer or []

    def scp(self, backup, target, timeout) -> dict:
        """Sends the system ``backup`` by SCP to ``target`` (host, port, username, auth_method, password,
        host_key, path) and waits until the transfer completed."""
        body = {"host": target["host"], "port": target["port"], "username": target["username"],
                "auth_method": target["auth_method"], "public_key": target["host_key"], "path_to": target["path"]}
        if target.get("password"):
            body["password"] = target["password"]
        started = self.client.call("POST", "/backups/%s/scp" % backup["id"], body)
        where = "%s@%s:%s" % (target["username"], target["host"], target["path"])

        def probe():
            transfer = self.client.call("GET", "/backups/%s/scp-status/%s" % (backup["id"], started["id"]))
            if transfer.get("connection_status") == SCP_COMPLETED:
                return transfer
            if transfer.get("connection_status") != SCP_IN_PROGRESS:
                raise CipherTrustError("%s: the SCP transfer of backup %s to %s ended %s%s" % (
                    self.describe(), backup["id"], where, transfer.get("connection_status"),
                    ": %s" % transfer["message"] if transfer.get("message") else ""))
            return None
        return self.client.wait("the SCP transfer of backup %s to %s" % (backup["id"], where), probe, timeout,
                                interval=0.5)

    def _record(self, path, kind, got, fields) -> dict:
        record = dict(fields, kind=kind, appliance=self.client.base, size=got["size"], sha256=got["sha256"])
        write_atomic(sidecar(path), json.dumps(record, indent=1, sort_keys=True).encode() + b"\n", 0o600)
        return record
