# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinning a backup while a reader works on it (drkit.backup.backup_pin): prune and delete leave it alone.

A pin is a record beside the backup (store/catalog.py) with an expiry, so a
reader that dies (a drill's controller) never holds a backup for ever. It is
written under the host's lock, so a prune deciding under the lock sees it.
"""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog


def _one_backup(path):
    entries = catalog.entries_at(path)
    if len(entries) != 1 or entries[0].path.rstrip("/") != path.rstrip("/"):
        raise InvalidInput("%s is a backup root: pin one backup (its directory or single file)" % path)
    return entries[0]


def control_pin(path, state="present", pin_id=None, holder=None, purpose=None, seconds=7200, state_dir=None,
                lease_id=None, check_mode=False) -> dict:
    """Pins the backup at ``path`` (state present) or removes pin ``pin_id`` (state absent)."""
    path = os.path.abspath(path)
    entry = _one_backup(path)
    state_host = StateDir(state_dir, lease_id)
    if state == "present":
        if not holder or not purpose:
            raise InvalidInput("pinning a backup needs holder and purpose (who holds it, and for what)")
        if not isinstance(seconds, int) or seconds <= 0:
            raise InvalidInput("seconds must be a positive number of seconds, not %r" % (seconds,))
        if check_mode:
            state_host.check_free("pinning %s" % entry.name)
            return {"changed": True, "pin": None, "path": path}
        with locked_operation(state_host, "pin", name=entry.name):
            pin = entry.add_pin(holder, purpose, seconds)
        return {"changed": True, "pin": pin, "path": path}
    if state != "absent":
        raise InvalidInput("state must be present or absent, not %r" % (state,))
    if not pin_id:
        raise InvalidInput("removing a pin needs pin_id (the id that pinning it returned)")
    held = [pin for pin in entry.pins() if pin.get("id") == pin_id]
    if check_mode:
        return {"changed": bool(held), "pin": held[0] if held else None, "path": path}
    with locked_operation(state_host, "unpin", name=entry.name):
        removed = entry.remove_pin(pin_id)
    return {"changed": removed, "pin": held[0] if held else None, "path": path}
