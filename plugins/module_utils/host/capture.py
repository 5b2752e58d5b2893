# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A capture: the raw parts of one backup on the host, waiting to be sealed.

An offline backup in two stages (backup module, ``stage``):

- capture: raw parts into ``<temp_dir>/.<name>.capture/raw/`` (root-only;
  ``temp_dir`` defaults to ``<state_dir>/captures``, outside the backup root),
  with the services stopped only for that; ``capture.json``, written last, is
  what the seal stage needs (the manifest so far, the key slots, the parts,
  and the data key wrapped by a capture key that waits in the keystore, never
  in clear beside the plaintext);
- seal: compress, encrypt and write ``<dest>/.<name>.partial/``, rename it
  into place, and remove the capture and its key (operations/stages.py).

Every capture is registered in ``<state_dir>/captures/<name>.json`` from its
start, wherever its ``temp_dir`` is, so that ``backup_info`` lists it and the
next operation removes one abandoned for longer than ``MAX_AGE`` (its raw data
is not encrypted).
"""

from __future__ import annotations

import json
import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, IntegrityError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir, remove_quietly, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time, rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.format.names import CAPTURE_SUFFIX, MAX_HEADER_BYTES, check_part_name

from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import Keystore

CAPTURE_FORMAT = "drkit-capture"
CAPTURE_VERSION = 2  # 1 (the previous release) held the data key in clear; it can still be sealed
CAPTURE_RECORD = "capture.json"
RAW = "raw"
CAPTURES = "captures"
# A capture not sealed within a day is abandoned: the next operation on the host removes it.
MAX_AGE = 24 * 3600
AAD = b"drkit-capture-v2\x00"


def default_dir(state_dir: str) -> str:
    """Where raw captures go by default: the state directory, never the backup root."""
    return os.path.join(state_dir, CAPTURES)


def _entry_path(state_dir, name):
    check_part_name(name)
    return os.path.join(state_dir, CAPTURES, "%s.json" % name)


def register(state_dir, name, path, dest, keystore=None, key_id=None):
    """Records a capture as it starts (before any raw data is written)."""
    private_dir(os.path.join(state_dir, CAPTURES))
    entry = {"name": name, "capture": path, "dest": dest, "keystore": keystore, "key": key_id,
             "startedAt": rfc3339(utc_now())}
    write_atomic(_entry_path(state_dir, name), canonjson.dumps(entry))


def registered(state_dir) -> list:
    """Every capture registered on the host: whether it is complete, and how old."""
    found = []
    where = os.path.join(state_dir, CAPTURES)
    if not os.path.isdir(where):
        return found
    now = utc_now()
    for file_name in sorted(os.listdir(where)):
        if not file_name.endswith(".json"):
            continue
        try:
            with open(os.path.join(where, file_name)) as handle:
                entry = json.load(handle)
            age = (now - parse_time(entry["startedAt"])).total_seconds()
        except (OSError, ValueError, KeyError, TypeError):
            continue
        entry.update(age_seconds=round(age), expires_in_seconds=max(0, round(MAX_AGE - age)),
                     complete=os.path.isfile(os.path.join(entry["capture"], CAPTURE_RECORD)),
                     present=os.path.isdir(entry["capture"]))
        found.append(entry)
    return found


def discard(state_dir, entry):
    """Removes a registered capture: its raw data, its key and its entry."""
    if os.path.isdir(entry["capture"]) and not os.path.islink(entry["capture"]):
        shutil.rmtree(entry["capture"], ignore_errors=True)
    if entry.get("keystore") and entry.get("key"):
        Keystore(entry["keystore"]).drop_capture_key(entry["key"])
    remove_quietly(_entry_path(state_dir, entry["name"]))


def expired(state_dir) -> list:
    """The registered captures abandoned for longer than MAX_AGE."""
    return [entry for entry in registered(state_dir) if entry["age_seconds"] > MAX_AGE]


def wrap_data_key(keystore, capture_id, data_key):
    """The data key wrapped under a new capture key kept in ``keystore`` (None when nothing is encrypted)."""
    if data_key is None:
        return None
    return crypto.wrap(keystore.new_capture_key(capture_id), data_key, AAD + capture_id.encode())


class Capture:
    """The raw parts of one backup, waiting to be sealed."""

    def __init__(self, path, record):
        self.path = path
        self.record = record

    @property
    def id(self):
        return self.record["manifest"]["id"]

    def data_key(self):
        """The data key to encrypt with, unwrapped with the capture key (None when nothing is encrypted)."""
        record = self.record
        if record["version"] == 1:
            return crypto.b64d(record["dataKey"], "capture data key", crypto.KEY_BYTES) if record["dataKey"] else None
        if record["dataKeyWrapped"] is None:
            return None
        key = Keystore(record["keystore"]).capture_key(self.id)
        data_key = crypto.unwrap(key, record["dataKeyWrapped"], AAD + self.id.encode(),
                                 "capture %s" % self.path) if key is not None else None
        if data_key is None:
            raise InvalidInput("the key that seals capture %s is gone from keystore %s (or does not open it): it "
                               "cannot be sealed; remove it and take the backup again" % (self.path, record["keystore"]))
        return data_key

    @property
    def name(self):
        return self.record["manifest"]["name"]

    def raw(self, part_name):
        check_part_name(part_name)
        return os.path.join(self.path, RAW, part_name)

    def remove(self):
        """Removes the raw data and, for a registered capture, its key and entry."""
        if self.record.get("stateDir"):
            discard(self.record["stateDir"], {"name": self.name, "capture": self.path,
                                              "keystore": self.record.get("keystore"), "key": self.id})
        else:
            shutil.rmtree(self.path, ignore_errors=True)

    def result(self) -> dict:
        record = self.record
        result = {"changed": True, "path": None, "backup": None, "capture": self.path, "name": self.name,
                  "dest": record["dest"], "size": record["size"]}
        result.update(self.downtime())
        return result

    def downtime(self) -> dict:
        """The services the capture stopped and for how long, for a module's result."""
        if not self.record.get("servicesStopped"):
            return {}
        return {"services_stopped": self.record["servicesStopped"], "downtime_seconds": self.record["downtimeSeconds"]}

    @classmethod
    def load(cls, path):
        path = os.path.abspath(path)
        base = os.path.basename(path)
        if not (base.startswith(".") and base.endswith(CAPTURE_SUFFIX)):
            raise InvalidInput("%s is not a capture (a .<name>%s directory written by stage capture)"
                               % (path, CAPTURE_SUFFIX))
        if not os.path.isdir(path):
            raise InvalidInput("capture %s does not exist: it was sealed or removed already" % path)
        try:
            with open(os.path.join(path, CAPTURE_RECORD), "rb") as handle:
                raw = handle.read(MAX_HEADER_BYTES)
        except FileNotFoundError:
            raise InvalidInput("capture %s has no %s: its capture was interrupted and it cannot be sealed; "
                               "remove it and take the backup again" % (path, CAPTURE_RECORD))
        record = canonjson.loads(raw, "%s of capture %s" % (CAPTURE_RECORD, path))
        manifest = record.get("manifest")
        if record.get("format") != CAPTURE_FORMAT or record.get("version") not in (1, CAPTURE_VERSION) \
                or not isinstance(manifest, dict) or not isinstance(record.get("parts"), list) \
                or not isinstance(record.get("keySlots"), list) \
                or not isinstance(record.get("dest"), str) or base != ".%s%s" % (
                    manifest.get("name"), CAPTURE_SUFFIX):
            raise FormatError("%s of capture %s is not a capture record this release understands"
                              % (CAPTURE_RECORD, path))
        capture = cls(path, record)
        for part in record["parts"]:
            if not os.path.isfile(capture.raw(part.get("name", ""))):
                raise IntegrityError("capture %s lacks its part %s: it cannot be sealed; remove it and take the "
                                     "backup again" % (path, part.get("name")))
        return capture
