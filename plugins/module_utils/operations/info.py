# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listing and verifying backups (drkit.backup.backup_info), with the host's state."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.host.capture import registered as registered_captures
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import Staging
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.protection.trust import load_trusted
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog


def backup_info(path, verify="none", unlocker=None, trusted_certificates=None, state_dir=None, trusted_crls=None,
                signature_expired="refuse"):
    """Lists (and optionally verifies) the backups at ``path``; with ``state_dir``, the host's status too.

    ``trusted_certificates``: PEM files of the certificates a signed backup's signer must be, or chain to;
    ``trusted_crls`` and ``signature_expired``: see protection/trust.py. A backup written in a newer format minor
    is listed with ``header.newerFormat`` (what this release ignores in it) and a warning saying so.
    """
    if verify not in ("none", "checksum", "full"):
        raise InvalidInput("verify must be none, checksum or full")
    trusted = load_trusted(trusted_certificates, trusted_crls, signature_expired)
    listed, problems, warnings = [], [], []
    with worker_pool() as pool:
        for entry in catalog.entries_at(path):
            item = entry.describe()
            if entry.status == catalog.COMPLETE:
                item.update(_inspect(entry, verify, unlocker, trusted, pool))
                problems.extend(item.get("problems", []))
                newer = item.get("header", {}).get("newerFormat")
                if newer:
                    warnings.append(newer["summary"])
            listed.append(item)
    result = {"changed": False, "backups": listed}
    if warnings:
        result["warnings"] = warnings
    if state_dir:
        status = StateDir(state_dir).status()
        result.update(operation=status["operation"], interrupted=status["interrupted"],
                      services_stopped=status["services_stopped"], failed_restores=Staging.failed(state_dir),
                      captures=registered_captures(state_dir))
    if verify != "none":
        result["verified"] = not problems and any(b["status"] == catalog.COMPLETE for b in listed)
        result["problems"] = problems
    if trusted is not None and trusted.warnings:
        result["warnings"] = result.get("warnings", []) + list(trusted.warnings)
    return result


def _inspect(entry, verify, unlocker, trusted, pool) -> dict:
    try:
        source = open_backup(entry.path)
        if verify == "none":
            return {"header": source.header().summary()}
        header, problems = verify_backup(source, pool, unlocker, full=verify == "full", trusted=trusted)
    except (IntegrityError, InvalidInput) as exc:
        return {"status": "damaged", "verified": False, "problems": [str(exc)]}
    item = {"verified": not problems, "problems": problems}
    if header is not None:
        item["header"] = header.summary()
    else:
        item["status"] = "damaged"
    return item
