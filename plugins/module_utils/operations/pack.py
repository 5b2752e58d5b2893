# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packing a backup directory into its single-file form and unpacking one (drkit.backup.backup_pack)."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir
from ansible_collections.drkit.backup.plugins.module_utils.format import names, single_file
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import (
    DirectorySource, PackedSource, open_backup)
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir


def pack_backup(src, dest, state_dir=None, check_mode=False, lease_id=None):
    """Packs backup directory ``src`` into one ``.drkit`` file, or unpacks one into root ``dest``, holding the
    host's lock while it writes."""
    state = StateDir(state_dir, lease_id)
    source = open_backup(src)
    header = source.header()
    if source.form == "directory":
        target = dest if dest.endswith(names.PACKED_SUFFIX) else os.path.join(dest, source.name + names.PACKED_SUFFIX)
        target = os.path.abspath(target)
        if os.path.exists(target):
            existing = PackedSource(target)
            if existing.header_bytes() == source.header_bytes():
                return {"changed": False, "path": target, "backup": header.summary(), "operation": "pack"}
            raise InvalidInput("%s already exists and holds another backup: remove it or choose another dest"
                               % target)
        if check_mode:
            state.check_free("packing %s" % source.name)
        else:
            with locked_operation(state, "pack", name=source.name):
                private_dir(os.path.dirname(target))
                single_file.pack(source, target)
        return {"changed": True, "path": target, "backup": header.summary(), "operation": "pack"}
    root = os.path.abspath(dest)
    target = os.path.join(root, header.name)
    if os.path.exists(target):
        if os.path.isfile(os.path.join(target, names.HEADER)) and \
                DirectorySource(target).header_bytes() == source.header_bytes():
            return {"changed": False, "path": target, "backup": header.summary(), "operation": "unpack"}
        raise InvalidInput("%s already exists and holds another backup: remove it or choose another dest"
                           % target)
    if check_mode:
        state.check_free("unpacking %s" % header.name)
    else:
        with locked_operation(state, "unpack", name=header.name):
            private_dir(root)
            single_file.unpack(source, root)
    return {"changed": True, "path": target, "backup": header.summary(), "operation": "unpack"}
