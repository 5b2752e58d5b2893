# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Making and unmaking the single-file form of a backup, ``<name>.drkit``.

An uncompressed POSIX (ustar) tar of the backup directory, ``header.json``
first and the parts in the header's order, nothing re-encrypted, with the
canonical tar headers that format/sources.py demands when it reads one in
place. ``tar -tf`` lists it and ``tar -xf`` unpacks it like any tar.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import (
    COPY_BYTES, fsync_path, no_space, remove_quietly)
from ansible_collections.drkit.backup.plugins.module_utils.format.names import HEADER, PARTIAL_SUFFIX, PARTS
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import (
    BLOCK, BackupSource, PackedSource, padding, tar_header)


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


def pack(source: BackupSource, dest: str, header_raw=None) -> str:
    """Writes ``source`` as one ``.drkit`` file at ``dest``, checking every part on the way.

    ``header_raw`` replaces the header (a rekeyed one: same manifest, other key slots).
    """
    header = _checked_header(source)
    raw = source.header_bytes() if header_raw is None else header_raw
    partial = os.path.join(os.path.dirname(dest), "." + os.path.basename(dest) + PARTIAL_SUFFIX)
    stored = source.stored_parts()
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb", buffering=COPY_BYTES) as out:
            out.write(tar_header("%s/%s" % (header.name, HEADER), len(raw)))
            out.write(raw + b"\0" * padding(len(raw)))
            for part in header.parts:
                size = stored.get(part["name"])
                if size is None:
                    raise IntegrityError("part %s of %s is missing; nothing was written"
                                         % (part["name"], source.path))
                out.write(tar_header("%s/%s/%s" % (header.name, PARTS, part["name"]), size))
                handle, _limit = source.open_part(part["name"])
                with handle:
                    _copy_checked(handle, size, out, part, source.path)
                out.write(b"\0" * padding(size))
                faults.checkpoint("pack.part")
            out.write(b"\0" * (2 * BLOCK))
            out.flush()
            os.fsync(out.fileno())
        faults.checkpoint("pack.rename")
        os.rename(partial, dest)
    except BaseException as exc:
        remove_quietly(partial)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            needed = BLOCK + len(raw) + padding(len(raw)) + 2 * BLOCK + sum(
                BLOCK + size + padding(size) for size in stored.values())
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
    partial = os.path.join(root, "." + header.name + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run: never a finished backup
    os.mkdir(partial, 0o700)
    try:
        os.mkdir(os.path.join(partial, PARTS), 0o700)
        for part in header.parts:
            handle, limit = source.open_part(part["name"])
            fd = os.open(os.path.join(partial, PARTS, part["name"]),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with handle, os.fdopen(fd, "wb", buffering=COPY_BYTES) as out:
                _copy_checked(handle, limit, out, part, source.path)
                out.flush()
                os.fsync(out.fileno())
        fd = os.open(os.path.join(partial, HEADER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(source.header_bytes())
            out.flush()
            os.fsync(out.fileno())
        fsync_path(partial)
        faults.checkpoint("unpack.rename")
        os.rename(partial, final)
        fsync_path(root)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise no_space(root, sum(part["storedSize"] for part in header.parts) + len(source.header_bytes()),
                           "unpacking backup %s" % header.name,
                           "the partial backup was removed and the single-file backup is untouched",
                           "Free space or choose another dest") from exc
        raise
    return final
