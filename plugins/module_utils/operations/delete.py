# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting one backup (drkit.backup.backup with state absent)."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.format import names
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog


def delete_backup(dest, name, state_dir=None, check_mode=False):
    """Removes one backup (directory or single file) from ``dest``."""
    if not name or not names.NAME_RE.match(name):
        raise InvalidInput("state absent needs name, a backup name such as files-full-2026-01-31-02-00-00")
    dest = os.path.abspath(dest)
    found = [entry for entry in catalog.list_root(dest)
             if entry.name == name and os.path.dirname(entry.path) == dest]
    if not found:
        return {"changed": False, "path": None, "msg": "backup %s is not in %s" % (name, dest)}
    state = StateDir(state_dir)
    if check_mode:
        state.check_free("deleting backup %s" % name)
    else:
        with locked_operation(state, "delete", name=name):
            for entry in found:
                catalog.remove(entry)
    return {"changed": True, "path": found[0].path, "removed": [entry.path for entry in found]}
