# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verifying backups and recording the result beside them (drkit.backup.backup_verify).

A backup that fails gets a record in ``.verify/`` (store/catalog.py), which
``max_age``, retention and the roles read: it never counts as a good backup
(DESIGN decision 23). One that verifies loses an earlier record. The backups
are read without the host's lock (a long full verification never holds up a
backup); the records are written under it, as every writer does.
"""

from __future__ import annotations

import os
import socket

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.protection.trust import load_trusted
from ansible_collections.drkit.backup.plugins.module_utils.providers import PROVIDERS
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog

LEVELS = ("checksum", "full")


def verify_backups(path, level="full", unlocker=None, trusted_certificates=None, trusted_crls=None,
                   signature_expired="refuse", check_mode=False, state_dir=None, lease_id=None) -> dict:
    """Verifies the backups at ``path`` (one backup, or a root); records each failure, clears passed ones."""
    if level not in LEVELS:
        raise InvalidInput("level must be checksum or full, not %r" % (level,))
    trusted = load_trusted(trusted_certificates, trusted_crls, signature_expired)
    state = StateDir(state_dir, lease_id)
    state.admit("verifying %s" % path, renew=False)  # refused at once under another's lease, not after a long verification
    by = "drkit.backup.backup_verify on %s" % socket.getfqdn()
    listed, problems, records = [], [], []
    with worker_pool() as pool:
        for entry in catalog.entries_at(path):
            if entry.status != catalog.COMPLETE:
                continue
            try:
                source = open_backup(entry.path)
                check = _native_check(source) if level == "full" else None
                header, found = verify_backup(source, pool, unlocker, full=level == "full", trusted=trusted,
                                              consumer=check.consume if check else None)
                if check and header and not found:
                    found = check.problems(header)
            except InvalidInput as exc:
                found = [str(exc)]
            problems.extend(found)
            # A record to write (a new failure) or to clear (one that verifies again).
            if bool(found) != (entry.failed_verification() is not None):
                records.append((entry, found))
            listed.append({"name": entry.name, "path": entry.path, "verified": not found, "problems": found,
                           "record": entry.verification_record if found else None})
    if records and not check_mode:
        with locked_operation(state, "verify", dest=os.path.abspath(path)):
            for entry, found in records:
                if found:
                    entry.record_failed_verification(level, found, by)
                else:
                    entry.clear_failed_verification()
    result = {"changed": bool(records), "verified": bool(listed) and not problems, "backups": listed,
              "problems": problems, "level": level}
    if trusted is not None and trusted.warnings:
        result["warnings"] = list(trusted.warnings)
    return result


def _native_check(source):
    """The provider's check of its product's own backup in the parts (None: none, or no header to tell)."""
    try:
        product = source.header().manifest.get("product")
    except (FormatError, InvalidInput):
        return None  # verify_backup says what is wrong with the header
    provider = PROVIDERS.get(product)
    return provider.native_check() if provider else None
