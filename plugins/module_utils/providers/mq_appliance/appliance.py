# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One IBM MQ Appliance through its REST management interface (client.Client): its firmware, file stores,
configuration objects, secure backup and secure restore, and admin's password.

- A secure backup (firmware 9.3.5 or later) is written by the appliance into a ``temporary:`` or ``local:``
  directory, encrypted to a certificate object (the appliance holds the certificate only; ECDSA is not supported).
- A secure restore needs an appliance reinitialized (factory reset) with exactly the same firmware V.R.M.F, run as
  admin, from an identification credential (certificate and private key) and a directory holding the manifest and
  its files; ``validate on`` checks without restoring. Afterwards the appliance restarts and admin's password is
  ``admin``, which must be changed before anything else.
"""

from __future__ import annotations

import base64
import os

from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.client import MQApplianceError

FACTORY_PASSWORD = "admin"


def entries(listing, kind) -> list:
    """A listing's ``file`` or ``directory`` entries as a list (an object for one, absent for none)."""
    found = ((listing.get("filestore") or {}).get("location") or {}).get(kind)
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


class Appliance:
    def __init__(self, client):
        self.client = client

    def describe(self) -> str:
        return self.client.describe()

    def firmware(self) -> dict:
        """FirmwareVersion3: Serial, Version (V.R.M.F), Build, MachineType, ModelType."""
        return self.client.call("GET", "/mgmt/status/default/FirmwareVersion3").get("FirmwareVersion3") or {}

    # --- file stores ---------------------------------------------------------------------------------------

    @staticmethod
    def _path(store, path="") -> str:
        return "/mgmt/filestore/default/%s%s" % (store, "/" + path.strip("/") if path.strip("/") else "")

    def listing(self, store, path="") -> dict:
        """A directory's listing ({} when the directory is not there)."""
        try:
            return self.client.call("GET", self._path(store, path))
        except MQApplianceError as exc:
            if exc.status == 404:
                return {}
            raise

    def files(self, store, path="") -> list:
        """The files of a directory: [{name, size}] ([] when the directory is not there)."""
        return [{"name": item["name"], "size": int(item.get("size") or 0)}
                for item in entries(self.listing(store, path), "file")]

    def count_files(self, store, path="") -> int:
        """How many files the directory holds, in its subdirectories too."""
        listing = self.listing(store, path)
        return len(entries(listing, "file")) + sum(
            self.count_files(store, item["name"].partition(":")[2].strip("/"))
            for item in entries(listing, "directory"))

    def download(self, store, path, target):
        content = self.client.call("GET", self._path(store, path)).get("file") or ""
        write_atomic(target, base64.b64decode(content), 0o600)

    def upload(self, store, path, source):
        with open(source, "rb") as handle:
            content = base64.b64encode(handle.read()).decode("ascii")
        body = {"file": {"name": os.path.basename(path), "content": content}}
        self.client.call("PUT", self._path(store, path), body)

    def remove(self, store, path):
        try:
            self.client.call("DELETE", self._path(store, path))
        except MQApplianceError as exc:
            if exc.status != 404:
                raise

    # --- configuration objects -----------------------------------------------------------------------------

    def objects(self, kind) -> list:
        found = self.client.call("GET", "/mgmt/config/default/%s" % kind).get(kind)
        if found is None:
            return []
        return found if isinstance(found, list) else [found]

    def put_object(self, kind, name, **fields):
        """Creates or replaces the object (``name`` first: DataPower wants it so)."""
        body = {kind: dict([("name", name), ("mAdminState", "enabled")] + sorted(fields.items()))}
        if any(item.get("name") == name for item in self.objects(kind)):
            self.client.call("PUT", "/mgmt/config/default/%s/%s" % (kind, name), body)
        else:
            self.client.call("POST", "/mgmt/config/default/%s" % kind, body)

    def holds_configuration(self, ours=None) -> str:
        """What shows the appliance is in service, not reinitialized ('' when nothing does): files in local:,
        identification credentials other than ``ours`` (an earlier restore attempt's)."""
        listing = self.listing("local")
        if entries(listing, "file") or entries(listing, "directory"):
            return "its local: store holds files"
        credentials = [item.get("name") for item in self.objects("CryptoIdentCred") if item.get("name") != ours]
        return "it has identification credentials (%s)" % ", ".join(credentials) if credentials else ""

    # --- secure backup and restore -------------------------------------------------------------------------

    def secure_backup(self, certificate, destination, timeout) -> dict:
        return self.client.action("SecureBackup", {"cert": {"value": certificate}, "destination": destination},
                                  timeout)

    def secure_restore(self, credential, source, validate, timeout) -> dict:
        return self.client.action("SecureRestore", {"cred": {"value": credential}, "source": source,
                                                    "validate": "on" if validate else "off"}, timeout,
                                  restarts=not validate)

    def change_password(self, old, new):
        self.client.call("POST", "/mgmt/actionqueue/default", {"ChangePassword": {"OldPassword": old,
                                                                                  "Password": new}})
