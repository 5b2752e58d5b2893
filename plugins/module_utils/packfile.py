# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The single-file form of a backup: ``<name>.drkit``.

An uncompressed POSIX (ustar) tar of the backup directory, ``header.json``
first and the parts in the header's order, nothing re-encrypted. Its tar
headers are canonical (fixed owner, mode and time), so the reader can demand
the exact bytes it would have written: a changed byte anywhere in the file,
bytes appended or a cut-off end are refused, and parts are read in place.
``tar -tf`` lists it and ``tar -xf`` unpacks it like any tar.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils import archive, faults
from ansible_collections.drkit.backup.plugins.module_utils.fsutil import fsync_dir, no_space
from ansible_collections.drkit.backup.plugins.module_utils.errors import FormatError, IntegrityError, InvalidInput

SUFFIX = ".drkit"
BLOCK = 512
COPY_BYTES = 1 << 20


def _tar_header(member: str, size: int) -> bytes:
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


def _padding(size: int) -> int:
    return -size % BLOCK


class PackedSource(archive.BackupSource):
    """Reads a ``.drkit`` file in place after checking its whole tar structure."""

    form = "file"

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        base = os.path.basename(self.path)
        if not base.endswith(SUFFIX) or not os.path.isfile(self.path):
            raise InvalidInput("%s is not a single-file backup (a <name>%s file)" % (self.path, SUFFIX))
        self.name = base[:-len(SUFFIX)]
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
        if info.name != expected_name or block != _tar_header(info.name, info.size):
            raise IntegrityError("%s is damaged or was changed: expected member %s, found a different "
                                 "or altered tar header" % (self.path, expected_name))
        return offset + BLOCK, info.size

    def _index(self):
        prefix = self.name + "/"
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as handle:
            start, length = self._read_member(handle, 0, prefix + archive.HEADER)
            if length > archive.MAX_HEADER_BYTES:
                raise FormatError("%s: its header.json is too large to be a drkit header" % self.path)
            self._header_raw = handle.read(length)
            if len(self._header_raw) != length:
                raise IntegrityError("%s is truncated inside header.json" % self.path)
            offset = self._skip_padding(handle, start + length, "header.json")
            header = self.header()
            for part in header.parts:
                member = "%s%s/%s" % (prefix, archive.PARTS, part["name"])
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
        padding = handle.read(_padding(end))
        if padding != b"\0" * _padding(end):
            raise IntegrityError("%s is damaged or was changed after %s (in the tar padding)" % (self.path, what))
        return end + len(padding)

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


def open_backup(path: str) -> archive.BackupSource:
    """A backup directory or a single-file backup, whichever ``path`` is."""
    if not os.path.exists(path):
        raise InvalidInput("%s does not exist" % path)
    if os.path.isdir(path):
        return archive.DirectorySource(path)
    return PackedSource(path)


def _copy_checked(src_handle, limit, out, part, where):
    """Copies one stored part and checks it against the header while copying."""
    digest = hashlib.sha256()
    left = limit
    while left > 0:
        data = src_handle.read(min(left, COPY_BYTES))
        if not data:
            break
        digest.update(data)
        out.write(data)
        left -= len(data)
    if left or limit != part["storedSize"] or digest.hexdigest() != part["storedSha256"]:
        raise IntegrityError("part %s of %s does not match its checksum: it was changed or damaged; "
                             "nothing was written" % (part["name"], where))


def _checked_header(source):
    header = source.header()
    if not header.digest_ok():
        raise IntegrityError("header.json of %s does not match its checksum: it was changed" % source.path)
    return header


def pack(source: archive.BackupSource, dest: str, header_raw=None) -> str:
    """Writes ``source`` as one ``.drkit`` file at ``dest``, checking every part on the way.

    ``header_raw`` replaces the header (a rekeyed one: same manifest, other key slots).
    """
    header = _checked_header(source)
    raw = source.header_bytes() if header_raw is None else header_raw
    partial = os.path.join(os.path.dirname(dest), "." + os.path.basename(dest) + archive.PARTIAL_SUFFIX)
    stored = source.stored_parts()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb", buffering=COPY_BYTES) as out:
            out.write(_tar_header("%s/%s" % (header.name, archive.HEADER), len(raw)))
            out.write(raw + b"\0" * _padding(len(raw)))
            for part in header.parts:
                size = stored.get(part["name"])
                if size is None:
                    raise IntegrityError("part %s of %s is missing; nothing was written"
                                         % (part["name"], source.path))
                out.write(_tar_header("%s/%s/%s" % (header.name, archive.PARTS, part["name"]), size))
                handle, _limit = source.open_part(part["name"])
                with handle:
                    _copy_checked(handle, size, out, part, source.path)
                out.write(b"\0" * _padding(size))
                faults.checkpoint("pack.part")
            out.write(b"\0" * (2 * BLOCK))
            out.flush()
            os.fsync(out.fileno())
        faults.checkpoint("pack.rename")
        os.rename(partial, dest)
    except BaseException as exc:
        _remove(partial)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            needed = BLOCK + len(raw) + _padding(len(raw)) + 2 * BLOCK + sum(
                BLOCK + size + _padding(size) for size in stored.values())
            raise no_space(dest, needed, "the single-file backup of %s" % header.name,
                           "the partial file was removed and the backup it was packed from is untouched",
                           "Free space or choose another dest") from exc
        raise
    return dest


def unpack(source: PackedSource, root: str) -> str:
    """Writes ``source`` out as ``<root>/<name>``, through a partial name."""
    header = _checked_header(source)
    if header.name != source.name:
        raise IntegrityError("%s holds backup %s under another name: it was renamed or changed"
                             % (source.path, header.name))
    final = os.path.join(root, header.name)
    partial = os.path.join(root, "." + header.name + archive.PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run: never a finished backup
    os.mkdir(partial, 0o700)
    try:
        os.mkdir(os.path.join(partial, archive.PARTS), 0o700)
        for part in header.parts:
            handle, limit = source.open_part(part["name"])
            fd = os.open(os.path.join(partial, archive.PARTS, part["name"]),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with handle, os.fdopen(fd, "wb", buffering=COPY_BYTES) as out:
                _copy_checked(handle, limit, out, part, source.path)
                out.flush()
                os.fsync(out.fileno())
        fd = os.open(os.path.join(partial, archive.HEADER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(source.header_bytes())
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(partial)
        faults.checkpoint("unpack.rename")
        os.rename(partial, final)
        fsync_dir(root)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise no_space(root, sum(part["storedSize"] for part in header.parts) + len(source.header_bytes()),
                           "unpacking backup %s" % header.name,
                           "the partial backup was removed and the single-file backup is untouched",
                           "Free space or choose another dest") from exc
        raise
    return final


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass
