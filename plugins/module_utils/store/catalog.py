# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backup root holds: finished backups, single-file backups and partials.

A root holds backups directly, and copies gathered from other hosts one level
down in ``<root>/<source host>/``. Partials (``.<name>.partial``) and captures
waiting to be sealed (``.<name>.capture``) are listed as incomplete and never
opened as backups. Directories whose names start with a dot (``.safety``
included) are not searched for host copies.
"""

from __future__ import annotations

import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import fsync_path
from ansible_collections.drkit.backup.plugins.module_utils.format import names
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup

DEFAULT_ROOT = "/var/lib/drkit/backups"
COMPLETE = "complete"
INCOMPLETE = "incomplete"


class Entry:
    """One item found in a backup root."""

    def __init__(self, name, path, status, form):
        self.name = name
        self.path = path
        self.status = status
        self.form = form

    @property
    def stamp(self) -> str:
        match = names.NAME_RE.match(self.name)
        return match.group("stamp") if match else ""

    def describe(self) -> dict:
        return {"name": self.name, "path": self.path, "status": self.status, "form": self.form}


def _classify(directory: str, entry) -> Entry:
    name = entry.name
    path = os.path.join(directory, name)
    is_dir = entry.is_dir(follow_symlinks=False)
    if name.startswith(".") and name.endswith(names.CAPTURE_SUFFIX) and is_dir:
        inner = name[1:-len(names.CAPTURE_SUFFIX)]
        return Entry(inner, path, INCOMPLETE, "capture") if names.NAME_RE.match(inner) else None
    if name.startswith(".") and name.endswith(names.PARTIAL_SUFFIX):
        inner = name[1:-len(names.PARTIAL_SUFFIX)]
        form = "directory" if is_dir else "file"
        if inner.endswith(names.PACKED_SUFFIX):
            inner = inner[:-len(names.PACKED_SUFFIX)]
        if names.NAME_RE.match(inner):
            return Entry(inner, path, INCOMPLETE, form)
        return None
    if is_dir and names.NAME_RE.match(name):
        status = COMPLETE if os.path.isfile(os.path.join(path, names.HEADER)) else INCOMPLETE
        return Entry(name, path, status, "directory")
    if entry.is_file(follow_symlinks=False) and name.endswith(names.PACKED_SUFFIX) \
            and names.NAME_RE.match(name[:-len(names.PACKED_SUFFIX)]):
        return Entry(name[:-len(names.PACKED_SUFFIX)], path, COMPLETE, "file")
    return None


def list_root(root: str) -> list:
    """Entries in ``root`` and its host subdirectories, newest first."""
    found = []
    if not os.path.isdir(root):
        return found
    for entry in os.scandir(root):
        item = _classify(root, entry)
        if item is not None:
            found.append(item)
        elif entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            for sub in os.scandir(entry.path):
                item = _classify(entry.path, sub)
                if item is not None:
                    found.append(item)
    found.sort(key=lambda e: (e.stamp, e.name, e.path), reverse=True)
    return found


def entries_at(path: str) -> list:
    """The backups that ``path`` names: one backup, or everything in a backup root."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise InvalidInput("%s does not exist" % path)
    if os.path.isfile(path):
        name = os.path.basename(path)
        if not name.endswith(names.PACKED_SUFFIX):
            raise InvalidInput("%s is not a single-file backup (a <name>%s file)" % (path, names.PACKED_SUFFIX))
        return [Entry(name[:-len(names.PACKED_SUFFIX)], path, COMPLETE, "file")]
    if os.path.isfile(os.path.join(path, names.HEADER)):
        return [Entry(os.path.basename(path), path, COMPLETE, "directory")]
    if names.NAME_RE.match(os.path.basename(path)) or \
            os.path.basename(path).endswith((names.PARTIAL_SUFFIX, names.CAPTURE_SUFFIX)):
        raise InvalidInput("%s has no header.json: it is an incomplete backup (a run was interrupted) or "
                           "not a backup" % path)
    return list_root(path)


def complete_headers(roots) -> list:
    """(entry, header) for every finished backup under ``roots`` whose header parses."""
    result = []
    for root in roots:
        for entry in list_root(root):
            if entry.status != COMPLETE:
                continue
            try:
                header = open_backup(entry.path).header()
            except DrkitError:
                continue
            result.append((entry, header))
    return result


def remove(entry: Entry):
    """Deletes a finished backup so that an interruption never leaves it looking finished.

    A directory loses its ``header.json`` first (it then lists as incomplete),
    then the rest; a single file goes in one unlink.
    """
    if entry.form == "file":
        os.unlink(entry.path)
        return
    header = os.path.join(entry.path, names.HEADER)
    if os.path.exists(header):
        os.unlink(header)
        fsync_path(entry.path)
    shutil.rmtree(entry.path)
