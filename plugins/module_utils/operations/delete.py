# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting one backup (drkit.backup.backup with state absent)."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.format import names
from ansible_collections.drkit.backup.plugins.module_utils.host import capture
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog


def delete_backup(dest, name, state_dir=None, check_mode=False, lease_id=None):
    """Removes one backup (directory or single file) from ``dest``."""
    if not name or not names.NAME_RE.match(name):
        raise InvalidInput("state absent needs name, a backup name such as files-full-2026-01-31-02-00-00")
    dest = os.path.abspath(dest)
    state = StateDir(state_dir, lease_id)
    found = [entry for entry in catalog.list_root(dest)
             if entry.name == name and os.path.dirname(entry.path) == dest]
    # A capture of this backup waiting to be sealed, wherever its temporary directory is.
    captures = [entry for entry in capture.registered(state.path) if entry["name"] == name and entry["dest"] == dest]
    removed = [entry.path for entry in found] + [entry["capture"] for entry in captures
                                                 if entry["capture"] not in [e.path for e in found]]
    if not removed:
        return {"changed": False, "path": None, "msg": "backup %s is not in %s" % (name, dest)}
    _refuse_pinned(found)
    if check_mode:
        state.check_free("deleting backup %s" % name)
    else:
        with locked_operation(state, "delete", name=name):
            _refuse_pinned(found)  # again under the lock: a pin taken since counts
            for entry in found:
                catalog.remove(entry)
            for entry in captures:
                capture.discard(state.path, entry)
    return {"changed": True, "path": removed[0], "removed": removed}


def _refuse_pinned(found):
    for entry in found:
        pinned = entry.pinned_by()
        if pinned:
            raise InvalidInput("backup %s is %s, and is not deleted while a pin holds it: wait until then, or remove "
                               "the pin (drkit.backup.backup_pin state absent)" % (entry.name, pinned))
