# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup keys: create, delete, list, download to a key file and upload one (the drkit.backup.backup_key* modules).

Key material never leaves these functions: results carry a key's public
description only.
"""

from __future__ import annotations

import json
import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.host import capture
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import (
    BackupKey, Keystore, check_new_password, check_scope, inspect_key_file, key_file_bytes, read_key_file,
    scope_label)
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog


def backups_only_opened_by(key, keystore, roots, state_dir=None) -> tuple:
    """(backups that nothing else opens, places that cannot be told) for deleting ``key``.

    Searched: ``roots``, every root a backup was written to on this host (its state directory remembers them),
    their ``.safety`` copies, and the captures waiting to be sealed. A backup opens otherwise when another key of
    ``keystore`` or a GnuPG recipient holds one of its slots. A header that does not parse is a place that cannot
    be told: it might need the key.
    """
    others = {other.id for other in keystore.keys()} - {key.id}
    state = StateDir(state_dir)
    searched = []
    for root in list(roots) + catalog.known_roots(state.path):
        for place in (root, os.path.join(root, catalog.SAFETY_DIR)):
            if os.path.abspath(place) not in searched:
                searched.append(os.path.abspath(place))
    needing, unsure = [], []

    def only_this(slots):
        ids = {slot["keyId"] for slot in slots if slot.get("type") == "backup-key"}
        return key.id in ids and not ids & others and not any(slot.get("type") == "gpg" for slot in slots)

    for root in searched:
        for entry in catalog.list_root(root):
            if entry.status != catalog.COMPLETE:
                continue
            try:
                header = open_backup(entry.path).header()
            except DrkitError:
                unsure.append(entry.path)
                continue
            if only_this(header.slots):
                needing.append(entry.path)
    for entry in capture.registered(state.path):
        record = _capture_record(entry["capture"])
        if record is None:
            if entry["present"]:
                unsure.append(entry["capture"])
        elif only_this(record.get("keySlots") or []):
            needing.append(entry["capture"])
    return needing, unsure


def _capture_record(path):
    try:
        with open(os.path.join(path, capture.CAPTURE_RECORD)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def key_info(keystore, file=None) -> dict:
    """The keys in the keystore, or the metadata of one key file (read without its password)."""
    if file:
        return {"changed": False, "key_file": inspect_key_file(file)}
    store = Keystore(keystore)
    return {"changed": False, "backup_keys": [store.info(key) for key in store.keys()]}


def _default_change(store, key, present, default):
    """(default now, default wanted) for ``key``; ``default`` None keeps what it is."""
    is_default = store.is_default(key) if present else False
    return is_default, default if default is not None else is_default


def _apply(store, key, add, is_default, want_default):
    if add:
        store.add(key)
    if want_default != is_default:
        store.set_default(key, want_default)


def key_present(keystore, key_id=None, name=None, scope="system", domain=None, default=None, check_mode=False):
    """Creates the key named ``name`` when it is missing; makes it (or key ``key_id``) the default or not."""
    store = Keystore(keystore)
    key = store.get(key_id, name)
    if key is None and key_id:
        raise InvalidInput("backup key %s is not in %s; to create a key give a name, not an id" % (key_id, store))
    if key is not None and not key_id and (key.scope, key.domain) != (scope, domain):
        raise InvalidInput("a backup key named %r already exists in the %s scope, not the %s scope asked for: "
                           "choose another name" % (key.name, scope_label(key.scope, key.domain),
                                                    scope_label(scope, domain)))
    created = key is None
    before = store.info(key) if not created else {}
    if created:
        if not name:
            raise InvalidInput("name is required to create a backup key")
        check_scope(scope, domain)
        key = BackupKey.generate(name, scope, domain)
    is_default, want_default = _default_change(store, key, not created, default)
    changed = created or want_default != is_default
    after = key.info(want_default)
    if changed and not check_mode:
        _apply(store, key, created, is_default, want_default)
    if check_mode and created:
        after = dict(after, id=None)  # the id is only known once the key exists
    return {"changed": changed, "key": after, "diff": {"before": before, "after": after}}


def key_absent(keystore, key_id=None, name=None, force=False, backup_roots=(catalog.DEFAULT_ROOT,),
               state_dir=None, check_mode=False, lease_id=None):
    """Deletes a key, unless it may be the only way to open some backup (then only with force)."""
    store = Keystore(keystore)
    key = store.get(key_id, name)
    if key is None:
        return {"changed": False, "diff": {"before": {}, "after": {}}}
    before = store.info(key)
    if not force:
        needing, unsure = backups_only_opened_by(key, store, backup_roots, state_dir)
        if needing:
            raise InvalidInput("backup key %s is the only key in %s that opens %d backup(s) or capture(s), such as "
                               "%s: deleting it would make them unrecoverable here. Download it first "
                               "(drkit.backup.backup_key_download) and use force: true"
                               % (key.id, store, len(needing), needing[0]))
        if unsure:
            raise InvalidInput("backup key %s may be the only key that opens %s, whose header cannot be read (it "
                               "is damaged or incomplete): deleting it could make it unrecoverable. Check or remove "
                               "it, or download the key first (drkit.backup.backup_key_download) and use force: "
                               "true" % (key.id, ", ".join(unsure[:3])))
    state = StateDir(state_dir, lease_id)
    if check_mode:
        state.check_free("deleting backup key %s" % key.id)
    else:
        with locked_operation(state, "delete-key", name=key.id):
            store.remove(key)
    return {"changed": True, "key": before, "diff": {"before": before, "after": {}}}


def _holds(dest, key, password) -> bool:
    """Whether the key file ``dest`` already holds ``key`` under ``password``."""
    if not os.path.isfile(dest):
        return False
    try:
        held = read_key_file(dest, password)
    except DrkitError:
        return False
    return held.id == key.id and held.material == key.material


def key_download(keystore, dest, password, key_id=None, name=None, check_mode=False) -> dict:
    """Writes the key to a key file protected by ``password`` (nothing changes when it already holds it)."""
    store = Keystore(keystore)
    key = store.require(key_id, name)
    check_new_password(password)
    changed = not _holds(dest, key, password)
    if changed and not check_mode:
        write_atomic(dest, key_file_bytes(key, password), 0o600)
    return {"changed": changed, "key": store.info(key), "dest": dest}


def key_upload(keystore, src, password, default=None, check_mode=False) -> dict:
    """Adds the key of a key file to the keystore; a different key under the same id is refused."""
    store = Keystore(keystore)
    key = read_key_file(src, password)
    present = store.get(key.id)
    if present is not None and present.material != key.material:
        raise InvalidInput("a different key with id %s is already in %s: refusing to replace it" % (key.id, store))
    is_default, want_default = _default_change(store, key, present is not None, default)
    changed = present is None or want_default != is_default
    before = store.info(present) if present is not None else {}
    after = key.info(want_default)
    if changed and not check_mode:
        _apply(store, key, present is None, is_default, want_default)
    return {"changed": changed, "key": after, "diff": {"before": before, "after": after}}
