# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verifying backups and recording the result beside them (drkit.backup.backup_verify).

A backup that fails gets a record in ``.verify/`` (store/catalog.py), which
``max_age``, retention and the roles read: it never counts as a good backup
(DESIGN decision 23). One that verifies loses an earlier record.
"""

from __future__ import annotations

import socket

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.trust import load_trusted
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog

LEVELS = ("checksum", "full")


def verify_backups(path, level="full", unlocker=None, trusted_certificates=None, trusted_crls=None,
                   signature_expired="refuse", check_mode=False) -> dict:
    """Verifies the backups at ``path`` (one backup, or a root); records each failure, clears passed ones."""
    if level not in LEVELS:
        raise InvalidInput("level must be checksum or full, not %r" % (level,))
    trusted = load_trusted(trusted_certificates, trusted_crls, signature_expired)
    by = "drkit.backup.backup_verify on %s" % socket.getfqdn()
    listed, problems, changed = [], [], False
    with worker_pool() as pool:
        for entry in catalog.entries_at(path):
            if entry.status != catalog.COMPLETE:
                continue
            try:
                _header, found = verify_backup(open_backup(entry.path), pool, unlocker, full=level == "full",
                                               trusted=trusted)
            except InvalidInput as exc:
                found = [str(exc)]
            if found:
                problems.extend(found)
                changed = changed or entry.failed_verification() is None
                if not check_mode:
                    entry.record_failed_verification(level, found, by)
            elif entry.failed_verification() is not None:
                changed = True
                if not check_mode:
                    entry.clear_failed_verification()
            listed.append({"name": entry.name, "path": entry.path, "verified": not found, "problems": found,
                           "record": entry.verification_record if found else None})
    result = {"changed": changed, "verified": bool(listed) and not problems, "backups": listed, "problems": problems,
              "level": level}
    if trusted is not None and trusted.warnings:
        result["warnings"] = list(trusted.warnings)
    return result
