# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A capture: the raw parts of one backup on the host, waiting to be sealed.

An offline backup in two stages (backup module, ``stage``):

- capture: raw parts into ``<temp_dir>/.<name>.capture/raw/`` (root-only),
  with the services stopped only for that; ``capture.json``, written last, is
  what the seal stage needs (the manifest so far, the data key and its slots,
  the parts);
- seal: compress, encrypt and write ``<dest>/.<name>.partial/``, rename it
  into place, and remove the capture (operations/stages.py).
"""

from __future__ import annotations

import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, IntegrityError, InvalidInput)
from ansible_collections.drkit.backup.plugins.module_utils.format.names import (
    CAPTURE_SUFFIX, MAX_HEADER_BYTES, check_part_name)

CAPTURE_FORMAT = "drkit-capture"
CAPTURE_VERSION = 1
CAPTURE_RECORD = "capture.json"
RAW = "raw"


class Capture:
    """The raw parts of one backup, waiting to be sealed."""

    def __init__(self, path, record):
        self.path = path
        self.record = record

    @property
    def name(self):
        return self.record["manifest"]["name"]

    def raw(self, part_name):
        check_part_name(part_name)
        return os.path.join(self.path, RAW, part_name)

    def remove(self):
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
        if record.get("format") != CAPTURE_FORMAT or record.get("version") != CAPTURE_VERSION \
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
