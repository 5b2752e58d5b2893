# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing who can open backups (drkit.backup.backup_rekey).

By default only the key slots in the header change: the data key stays, so
this is not revocation (a removed key still opens any older copy). With
``rotate_data_key`` every part is re-encrypted under a new data key
(operations/rotation.py). Either way the run holds the host's lock, and it
first finishes or undoes a rotation that a killed run left half done.
"""

from __future__ import annotations

import contextlib
import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    DrkitError, IntegrityError, InvalidInput, PartialFailure)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format import names, single_file
from ansible_collections.drkit.backup.plugins.module_utils.format.header import Header
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.operations import rotation
from ansible_collections.drkit.backup.plugins.module_utils.protection.gpg import Gpg
from ansible_collections.drkit.backup.plugins.module_utils.protection.signing import Signer
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import rewrap
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog

NOT_REVOKED = ("Only the key slots changed: the data key of these backups did not, so no key was revoked. A key "
               "that was removed still opens every copy of them made before this run (on another host, a single-file "
               "copy, an offsite store), and with the header of such a copy it opens the parts here too. To revoke a "
               "key, run again with rotate_data_key: true, then replace or delete those older copies.")
REVOKED = ("Every part was re-encrypted under a new data key: a key that was removed no longer opens these backups, "
           "nor copies made of them from now on. Copies made before this run still hold the old data key and still "
           "open with the removed key: replace or delete them.")
PARTLY_REVOKED = ("The backups listed in reencrypted have a new data key, and a removed key no longer opens them; "
                  "those in not_rekeyed keep their old data key and slots, and still open with every key they did before.")
NONE_REVOKED = ("No data key was rotated: the backups in not_rekeyed keep their old data key and slots, and still open with "
                "every key they did before.")
WOULD_ROTATE = ("Every part would be re-encrypted under a new data key (check mode: nothing was written). Copies of "
                "these backups made before the rotation keep the old data key and still open with a removed key.")


def _checked(entry):
    source = open_backup(entry.path)
    header = source.header()
    if not header.digest_ok():
        raise IntegrityError("header.json of backup %s does not match its checksum: it was changed" % header.name)
    if not header.encrypted:
        raise InvalidInput("backup %s is not encrypted: there are no keys to change" % header.name)
    return source, header


def _rewrite_slots(source, header, unlocker, keys, gpg, gpg_recipients, check_mode, warnings) -> bool:
    """Only the key slots, through a temporary file and a rename; whether they changed.

    Everything else in the header is written back as it was, fields of a newer format minor included; key slots
    of a type this release does not know are dropped like any slot not asked for, with a warning.
    """
    if not header.manifest.get("tiedToHSM"):
        unlocker.data_key(header)  # the manifest must authenticate before new slots vouch for it
    slots = rewrap(header, unlocker, keys, gpg, gpg_recipients)
    if slots == header.slots:
        return False
    if header.unknown_slot_types:
        warnings.append("backup %s: its key slots of type %s, written by a newer drkit.backup, %s removed: it "
                        "opens only with the keys given now"
                        % (header.name, ", ".join(header.unknown_slot_types), "would be" if check_mode else "were"))
    if not check_mode:
        raw = Header(dict(header.doc, keySlots=slots), header.where).to_bytes()
        if source.form == "directory":
            write_atomic(os.path.join(source.path, names.HEADER), raw)
        else:
            single_file.pack(source, source.path, header_raw=raw)
    return True


def rekey_backups(unlocker, path, key_ids=(), gpg_home=None, gpg_recipients=(), check_mode=False,
                  rotate_data_key=False, hsm=None, signing_certificate=None, signing_key=None,
                  signing_key_passphrase=None, state_dir=None, lease_id=None):
    """Makes every backup at ``path`` open with exactly ``key_ids`` and ``gpg_recipients``.

    Without ``rotate_data_key`` only the key slots change (through a temporary file and a rename, so a crash
    leaves each backup with its old header or its new one) and nothing is revoked. With it, every part is
    re-encrypted under a new data key (``hsm``: the token options, for a backup tied to an HSM; the signing
    options sign the new manifest, which is otherwise left unsigned).
    """
    keys = [unlocker.keystore.require(key_id) for key_id in key_ids or ()]
    gpg = Gpg(gpg_home) if gpg_recipients else None
    recipients = list(gpg_recipients or ())
    if bool(signing_certificate) != bool(signing_key):
        raise InvalidInput("signing needs both signing_certificate and signing_key")
    if signing_certificate and not rotate_data_key:
        raise InvalidInput("signing_certificate and signing_key sign a new manifest, which only rotate_data_key "
                           "makes: rewriting the key slots keeps the manifest and its signature as they are")
    signer = Signer(signing_certificate, signing_key, signing_key_passphrase) if signing_certificate else None
    state = StateDir(state_dir, lease_id)
    result = {"changed": False, "rekeyed": [], "unchanged": [], "not_rekeyed": [], "reencrypted": [], "recovered": [],
              "revoked": False, "warnings": []}
    with contextlib.ExitStack() as stack:
        if check_mode:
            state.check_free("rekeying the backups at %s" % path)
            operation = None
        else:
            operation = stack.enter_context(locked_operation(state, "rekey", dest=os.path.abspath(path)))
        for final, work in rotation.pending(path):
            result["recovered"].append(rotation.recover(final, work, check_mode))
            result["warnings"].append(result["recovered"][-1])
        result["changed"] = bool(result["recovered"])
        if check_mode and result["recovered"] and not os.path.lexists(path):
            entries = []  # killed between its two renames: it is back in place only once recovered
        else:
            entries = catalog.entries_at(path)
        pool = stack.enter_context(worker_pool()) if rotate_data_key and not check_mode else None
        for entry in entries:
            if entry.status != catalog.COMPLETE:
                continue
            try:
                source, header = _checked(entry)
                if rotate_data_key:
                    planned = rotation.Plan(source, header, unlocker, keys, gpg, recipients, hsm, signer)
                    if check_mode:
                        done = planned.describe()
                    else:
                        operation.update(name=header.name, stage="rotate data key")
                        done = planned.run(pool)
                    result["reencrypted"].append(done)
                    result["warnings"].extend(planned.warnings)
                elif not _rewrite_slots(source, header, unlocker, keys, gpg, recipients, check_mode,
                                        result["warnings"]):
                    result["unchanged"].append(entry.path)
                    continue
            except DrkitError as exc:
                result["not_rekeyed"].append({"path": entry.path, "msg": str(exc)})
                continue
            result["rekeyed"].append(entry.path)
            result["changed"] = True
        if operation is not None:
            result["warnings"] = operation.warnings + result["warnings"]
    result["revoked"] = bool(rotate_data_key and not check_mode and not result["not_rekeyed"])
    if not rotate_data_key:
        result["note"] = NOT_REVOKED
    else:
        result["note"] = WOULD_ROTATE if check_mode else REVOKED if result["revoked"] else \
            PARTLY_REVOKED if result["reencrypted"] else NONE_REVOKED
    return result


def rekey(unlocker, path, key_ids=(), gpg_home=None, gpg_recipients=(), check_mode=False, **options):
    """Module result of drkit.backup.backup_rekey: it fails, naming each backup, when any could not be rekeyed."""
    result = rekey_backups(unlocker, path, key_ids, gpg_home, gpg_recipients, check_mode, **options)
    if result["not_rekeyed"]:
        message = "; ".join("%s: %s" % (item["path"], item["msg"]) for item in result["not_rekeyed"])
        # Only a result that succeeds takes its warnings through Ansible's own channel: say them here.
        warnings = result.pop("warnings")
        raise PartialFailure(message + (". Also: %s" % "; ".join(warnings) if warnings else ""), result)
    return result
