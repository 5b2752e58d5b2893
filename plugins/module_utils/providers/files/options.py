# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``files`` provider (format: providers/options.py)."""

from __future__ import annotations

OPTIONS = {
    "paths": {
        "type": "list", "elements": "str", "verbs": ["backup"], "describes": True,
        "description": "The files and directories to back up, each one part: absolute paths without '..'. "
                       "Required for a backup.",
    },
    "services": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup", "restore"], "describes": True,
        "description": "The services to stop, in this order, for an offline backup (started again in reverse), "
                       "and for the moment a restore puts its files in place.",
    },
    "target_root": {
        "type": "path", "default": "/", "verbs": ["restore"],
        "description": "Where a restore writes: each path of the backup goes under it. The restore replaces files "
                       "that differ, deletes nothing (unless remove_extra), and reports no change when everything already matches.",
    },
    "remove_extra": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Also remove what is in the backup's directories under target_root and not in the backup, "
                       "at the commit. The restore role's rollback sets it, so that rolling back to the safety copy "
                       "takes away what the failed restore added.",
    },
}
