# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small file-system helpers: private directories, crash-safe writes, and one message for a full disk."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, NoSpace

# Reads and writes of bulk data go in blocks of this size.
COPY_BYTES = 1 << 20


def nearest_existing(path: str) -> str:
    """``path`` if it exists, else the nearest directory above it that does ("/" at the end)."""
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    return path or "/"


def remove_quietly(path: str):
    """Removes a file if it is there; a file already gone is no error."""
    try:
        os.unlink(path)
    except OSError:
        pass


def fsync_path(path: str):
    """Flushes a file, or a directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: str) -> str:
    """Creates ``path`` (and missing parents) readable by its owner only; an existing one is left as it is."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise InvalidInput("%s exists and is not a directory" % path)
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
        os.chmod(path, 0o700)  # whatever the umask
    return path


@contextlib.contextmanager
def private_temp_dir(prefix: str, parent=None):
    """A new directory only its owner can read, under ``parent`` (default the system's temporary one), for the
    ``with`` body; removed afterwards whatever happened."""
    directory = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        private_dir(directory)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def write_atomic(path: str, data: bytes, mode: int = 0o600):
    """Replaces ``path`` with ``data`` so that a crash leaves the old or the new file, never half."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, ".%s.tmp%d" % (os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_path(directory)


def check_writable_dir(path: str, what: str):
    """A clear error when ``path`` cannot take new files."""
    if not os.path.isdir(path):
        raise InvalidInput("%s %s does not exist or is not a directory" % (what, path))
    if not os.access(path, os.W_OK | os.X_OK):
        raise InvalidInput("%s %s is not writable by this user" % (what, path))


def mib(size) -> str:
    return "%.1f MiB" % (size / 1048576.0)


def no_space(path: str, needed, what: str, cleanup: str, advice: str = "Free space or choose another place") -> NoSpace:
    """The one message for a full disk: where, how much ``what`` needs and how much is free, what was undone.

    ``needed`` is bytes, or None when it is not known. Every writer that can fill a disk (backup, capture,
    seal, pack, unpack, restore staging) says it this way, so a full disk is never a bare ENOSPC.
    """
    try:
        free = shutil.disk_usage(nearest_existing(path)).free
    except OSError:
        free = None
    return NoSpace("no space left on the file system holding %s: %s needs %s, and %s free there; %s. %s."
                   % (path, what, "about %s" % mib(needed) if needed is not None else "more than it had",
                      "%s are" % mib(free) if free is not None else "an unknown amount is", cleanup, advice))


def move_aside(directory: str):
    """Moves ``directory`` aside on its file system (``<directory>.drkit-old-<random>``) and makes it again, empty,
    with its mode (0700 when there was none); returns where the old one is, None when there was none. A restore
    that fails puts it back with :func:`put_back`; one that succeeds removes it."""
    aside = None
    if os.path.lexists(directory):
        aside = "%s.drkit-old-%s" % (directory.rstrip("/"), secrets.token_hex(4))
        os.rename(directory, aside)
    mode = os.stat(aside).st_mode & 0o7777 if aside is not None else 0o700
    os.makedirs(directory, mode)
    os.chmod(directory, mode)
    return aside


def put_back(directory: str, aside):
    """Undoes :func:`move_aside`: what is in ``directory`` now goes, the old one comes back."""
    shutil.rmtree(directory, ignore_errors=True)
    if aside is not None:
        os.rename(aside, directory)


def chown_tree(top: str, uid: int, gid: int):
    """``top`` and everything under it owned by ``uid``:``gid`` (links themselves, never what they point to)."""
    os.chown(top, uid, gid)
    for where, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(where, name), uid, gid)


def stream_digest(handle, algorithm: str = "sha256") -> tuple:
    """(hex digest, size) of what ``handle`` reads to its end, in 1 MiB chunks."""
    digest, size = hashlib.new(algorithm), 0
    for chunk in iter(lambda: handle.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def file_digest(path: str, algorithm: str = "sha256") -> str:
    """The hex digest of the file at ``path``."""
    with open(path, "rb") as handle:
        return stream_digest(handle, algorithm)[0]
