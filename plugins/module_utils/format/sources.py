# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a stored backup's bytes are: a directory, or a single ``.drkit`` file read in place.

The single-file form is an uncompressed POSIX (ustar) tar of the backup
directory, ``header.json`` first and the parts in the header's order. Its tar
headers are canonical (fixed owner, mode and time), so the reader demands the
exact bytes the writer (format/single_file.py) would have written: a changed
byte anywhere, bytes appended or a cut-off end are refused, and parts are read
in place.
"""

from __future__ import annotations

import os
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, IntegrityError, InvalidInput)
from ansible_collections.drkit.backup.plugins.module_utils.format.header import Header
from ansible_collections.drkit.backup.plugins.module_utils.format.names import (
    HEADER, MAX_HEADER_BYTES, PACKED_SUFFIX, PARTS, check_part_name)

BLOCK = 512


class BackupSource:
    """Read access to a stored backup; subclasses say where the bytes are."""

    form = None
    path = None
    name = None

    def header_bytes(self) -> bytes:
        raise NotImplementedError

    def stored_parts(self) -> dict:
        """Part name -> stored size, for what is actually present."""
        raise NotImplementedError

    def open_part(self, name):
        """(file object positioned at the part's start, byte limit or None)."""
        raise NotImplementedError

    def header(self) -> Header:
        return Header.parse(self.header_bytes(), "header.json of backup %s" % self.name)


class DirectorySource(BackupSource):
    form = "directory"

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.name = os.path.basename(self.path.rstrip("/"))
        if not os.path.isdir(self.path):
            raise InvalidInput("%s is not a backup directory" % self.path)
        if not os.path.isfile(os.path.join(self.path, HEADER)):
            raise InvalidInput("%s has no header.json: it is not a backup, or an incomplete one"
                               % self.path)

    def header_bytes(self) -> bytes:
        with open(os.path.join(self.path, HEADER), "rb") as handle:
            data = handle.read(MAX_HEADER_BYTES + 1)
        if len(data) > MAX_HEADER_BYTES:
            raise FormatError("header.json of %s is too large to be a drkit header" % self.name)
        return data

    def stored_parts(self) -> dict:
        found = {}
        parts_dir = os.path.join(self.path, PARTS)
        if os.path.isdir(parts_dir):
            for entry in os.scandir(parts_dir):
                found[entry.name] = entry.stat(follow_symlinks=False).st_size
        return found

    def open_part(self, name):
        check_part_name(name)
        return open(os.path.join(self.path, PARTS, name), "rb"), None


def tar_header(member: str, size: int) -> bytes:
    info = tarfile.TarInfo(member)
    info.size = size
    info.mode = 0o600
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    try:
        return info.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")
    except ValueError as exc:
        raise InvalidInput("cannot store %s in a single-file backup: %s" % (member, exc))


def padding(size: int) -> int:
    return -size % BLOCK


class PackedSource(BackupSource):
    """Reads a ``.drkit`` file in place after checking its whole tar structure."""

    form = "file"

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        base = os.path.basename(self.path)
        if not base.endswith(PACKED_SUFFIX) or not os.path.isfile(self.path):
            raise InvalidInput("%s is not a single-file backup (a <name>%s file)" % (self.path, PACKED_SUFFIX))
        self.name = base[:-len(PACKED_SUFFIX)]
        self._header_raw = None
        self._extents = {}
        self._problems = []
        self._index()

    def _read_member(self, handle, offset, expected_name):
        """Reads one tar header at ``offset``; returns (name, data offset, size)."""
        handle.seek(offset)
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            raise IntegrityError("%s is truncated: it ends where %s should begin" % (self.path, expected_name))
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
        except (tarfile.HeaderError, ValueError, UnicodeDecodeError):
            raise IntegrityError("%s is damaged: the tar header where %s should begin is invalid"
                                 % (self.path, expected_name))
        if info.name != expected_name or block != tar_header(info.name, info.size):
            raise IntegrityError("%s is damaged or was changed: expected member %s, found a different "
                                 "or altered tar header" % (self.path, expected_name))
        return offset + BLOCK, info.size

    def _index(self):
        prefix = self.name + "/"
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as handle:
            start, length = self._read_member(handle, 0, prefix + HEADER)
            if length > MAX_HEADER_BYTES:
                raise FormatError("%s: its header.json is too large to be a drkit header" % self.path)
            self._header_raw = handle.read(length)
            if len(self._header_raw) != length:
                raise IntegrityError("%s is truncated inside header.json" % self.path)
            offset = self._skip_padding(handle, start + length, "header.json")
            header = self.header()
            for part in header.parts:
                member = "%s%s/%s" % (prefix, PARTS, part["name"])
                start, length = self._read_member(handle, offset, member)
                if start + length > size:
                    raise IntegrityError("%s is truncated inside part %s" % (self.path, part["name"]))
                self._extents[part["name"]] = (start, length)
                offset = self._skip_padding(handle, start + length, "part %s" % part["name"])
            handle.seek(offset)
            trailer = handle.read(2 * BLOCK + 1)
        if trailer != b"\0" * (2 * BLOCK):
            if len(trailer) > 2 * BLOCK:
                raise IntegrityError("%s has bytes after its end: data was appended to it" % self.path)
            raise IntegrityError("%s is truncated or damaged at its end (the tar end marker is wrong)"
                                 % self.path)

    def _skip_padding(self, handle, end, what):
        """The zeros that fill a member's last block are checked too: no byte goes unread."""
        handle.seek(end)
        zeros = handle.read(padding(end))
        if zeros != b"\0" * padding(end):
            raise IntegrityError("%s is damaged or was changed after %s (in the tar padding)" % (self.path, what))
        return end + len(zeros)

    def header_bytes(self) -> bytes:
        return self._header_raw

    def stored_parts(self) -> dict:
        return {name: extent[1] for name, extent in self._extents.items()}

    def open_part(self, name):
        if name not in self._extents:
            raise InvalidInput("%s has no part %s" % (self.path, name))
        start, length = self._extents[name]
        handle = open(self.path, "rb")
        handle.seek(start)
        return handle, length


def open_backup(path: str) -> BackupSource:
    """A backup directory or a single-file backup, whichever ``path`` is."""
    if not os.path.exists(path):
        raise InvalidInput("%s does not exist" % path)
    if os.path.isdir(path):
        return DirectorySource(path)
    return PackedSource(path)
