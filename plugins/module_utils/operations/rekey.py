# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing who can open backups (drkit.backup.backup_rekey): only the key slots in the header change."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    DrkitError, IntegrityError, InvalidInput, PartialFailure)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.format import names, single_file
from ansible_collections.drkit.backup.plugins.module_utils.format.header import Header
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.gpg import Gpg
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import rewrap
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog


def rekey_backups(unlocker, path, key_ids=(), gpg_home=None, gpg_recipients=(), check_mode=False):
    """Makes every backup at ``path`` open with exactly ``key_ids`` and ``gpg_recipients``.

    Only the key slots in the header change, through a temporary file and a
    rename, so a crash leaves each backup with its old header or its new one.
    Everything else in the header is written back as it was, fields of a newer
    format minor included; its key slots of a type this release does not know
    are dropped like any slot not asked for, with a warning.
    """
    keys = [unlocker.keystore.require(key_id) for key_id in key_ids or ()]
    gpg = Gpg(gpg_home) if gpg_recipients else None
    # "not_rekeyed", not "failed": Ansible reads "failed" itself, and fail_json would overwrite it with True.
    result = {"changed": False, "rekeyed": [], "unchanged": [], "not_rekeyed": []}
    warnings = []
    for entry in catalog.entries_at(path):
        if entry.status != catalog.COMPLETE:
            continue
        try:
            source = open_backup(entry.path)
            header = source.header()
            if not header.digest_ok():
                raise IntegrityError("header.json of backup %s does not match its checksum: it was changed"
                                     % header.name)
            if not header.encrypted:
                raise InvalidInput("backup %s is not encrypted: there are no keys to change" % header.name)
            if not header.manifest.get("tiedToHSM"):
                unlocker.data_key(header)  # the manifest must authenticate before new slots vouch for it
            slots = rewrap(header, unlocker, keys, gpg, gpg_recipients or ())
        except DrkitError as exc:
            result["not_rekeyed"].append({"path": entry.path, "msg": str(exc)})
            continue
        if slots == header.slots:
            result["unchanged"].append(entry.path)
            continue
        if header.unknown_slot_types:
            warnings.append("backup %s: its key slots of type %s, written by a newer drkit.backup, %s removed: it "
                            "opens only with the keys given now"
                            % (header.name, ", ".join(header.unknown_slot_types), "would be" if check_mode else "were"))
        if not check_mode:
            doc = dict(header.doc, keySlots=slots)
            raw = Header(doc, header.where).to_bytes()
            if source.form == "directory":
                write_atomic(os.path.join(source.path, names.HEADER), raw)
            else:
                single_file.pack(source, source.path, header_raw=raw)
        result["rekeyed"].append(entry.path)
        result["changed"] = True
    if warnings:
        result["warnings"] = warnings
    return result


def rekey(unlocker, path, key_ids=(), gpg_home=None, gpg_recipients=(), check_mode=False):
    """Module result of drkit.backup.backup_rekey: it fails, naming each backup, when any could not be rekeyed."""
    result = rekey_backups(unlocker, path, key_ids, gpg_home, gpg_recipients, check_mode)
    if result["not_rekeyed"]:
        # fail_json takes no warnings: they go into the message.
        said = ["%s: %s" % (item["path"], item["msg"]) for item in result["not_rekeyed"]] + result.pop("warnings", [])
        raise PartialFailure("; ".join(said), result)
    return result
