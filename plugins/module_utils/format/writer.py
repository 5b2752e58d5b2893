# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing one backup: parts through the codec into ``.<name>.partial``, the header last, then the rename."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, NoSpace
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import fsync_path, mib, no_space
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import (
    DEFAULT_CHUNK_SIZE, DEFAULT_LEVEL, ChunkCodec, PartWriter)
from ansible_collections.drkit.backup.plugins.module_utils.format.header import new_header, part_key
from ansible_collections.drkit.backup.plugins.module_utils.format.names import (
    HEADER, PARTIAL_SUFFIX, PARTS, SCHEME_KEY, SCHEME_NONE, check_part_name)


def disk_full(path: str, name: str, written: int, estimate=None) -> NoSpace:
    """``estimate``: the data's raw size, an upper bound of what the backup needs (compression only shrinks)."""
    needed = max(estimate, written) if estimate is not None else None
    return no_space(path, needed, "backup %s (%s written when the disk filled)" % (name, mib(written)),
                    "the partial backup was removed and earlier backups are untouched",
                    "Free space or choose another dest")


class BackupWriter:
    """Builds one backup under ``<root>/.<name>.partial`` and renames it into place.

    Use as a context manager: leaving it with an exception removes the partial. ``estimate`` (a number
    of bytes, or a function that returns one) is the raw size a full disk's message says is needed.
    """

    def __init__(self, root, manifest, data_key, slots, pool, level=DEFAULT_LEVEL,
                 chunk_size=DEFAULT_CHUNK_SIZE, hash_plaintext=False, signer=None, estimate=None, progress=None):
        self.root = root
        # Told (part, plaintext bytes so far, parts done, force) after each write: host/state.py Operation.progress.
        self._progress = progress
        self._plain_done = 0
        self._estimate = estimate
        self.name = manifest["name"]
        self.final = os.path.join(root, self.name)
        self.partial = os.path.join(root, "." + self.name + PARTIAL_SUFFIX)
        self._manifest = dict(manifest)
        self._manifest["encryption"] = {
            "scheme": SCHEME_KEY if data_key is not None else SCHEME_NONE, "chunkSize": chunk_size}
        self._manifest["compression"] = {"algorithm": "zstd", "level": level} if level else {"algorithm": "none"}
        self._manifest["parts"] = []
        self._data_key = data_key
        self._slots = slots
        self._signer = signer
        self._pool = pool
        self._level = level
        self._chunk_size = chunk_size
        # With no key nothing else authenticates the content: keep its checksum.
        self._hash_plaintext = hash_plaintext or data_key is None
        self.written = 0
        self.header = None

    def __enter__(self):
        os.mkdir(self.partial, 0o700)
        os.mkdir(os.path.join(self.partial, PARTS), 0o700)
        faults.checkpoint("writer.partial")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.partial, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                estimate = self._estimate() if callable(self._estimate) else self._estimate
                raise disk_full(self.root, self.name, self.written, estimate) from exc
        return False

    @contextlib.contextmanager
    def part(self, name: str, kind: str, **extra):
        """Yields a writable file; what is written becomes part ``name`` (``extra`` goes to the manifest)."""
        check_part_name(name)
        if any(p["name"] == name for p in self._manifest["parts"]):
            raise InvalidInput("part %s is written twice" % name)
        key = part_key(self._data_key, self._manifest["id"], name) if self._data_key is not None else None
        codec = ChunkCodec(key, self._chunk_size, self._level)
        path = os.path.join(self.partial, PARTS, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            writer = PartWriter(out, codec, self._pool, hash_plaintext=self._hash_plaintext)
            try:
                yield writer if self._progress is None else _Told(writer, lambda: self._progress(
                    name, self._plain_done + writer.tell(), len(self._manifest["parts"])))
                writer.close()
            except BaseException:
                writer.abort()
                raise
            finally:
                self.written += writer.stored_size
            out.flush()
            os.fsync(out.fileno())
        faults.checkpoint("writer.part")
        entry = dict(extra)
        entry.update({"name": name, "kind": kind, "size": writer.size,
                      "storedSize": writer.stored_size, "storedSha256": writer.stored_sha256})
        if writer.sha256:
            entry["sha256"] = writer.sha256
        self._manifest["parts"].append(entry)
        self._plain_done += writer.size
        if self._progress is not None:
            self._progress(name, self._plain_done, len(self._manifest["parts"]), True)

    def annotate(self, fields: dict):
        """Adds manifest fields known only after capture (the product's version, roles ...)."""
        for key, value in fields.items():
            if key in ("formatVersion", "id", "name", "parts", "encryption", "compression"):
                raise InvalidInput("a provider may not set the manifest field %s" % key)
            self._manifest[key] = value

    def commit(self) -> str:
        """Write the header last, then rename the partial into place."""
        self.header = new_header(self._manifest, self._data_key, self._slots, self._signer)
        fd = os.open(os.path.join(self.partial, HEADER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self.header.to_bytes())
            faults.checkpoint("writer.header")  # written, not yet flushed
            out.flush()
            os.fsync(out.fileno())
        fsync_path(os.path.join(self.partial, PARTS))
        fsync_path(self.partial)
        faults.checkpoint("writer.rename")
        os.rename(self.partial, self.final)
        faults.checkpoint("writer.renamed")
        fsync_path(self.root)
        return self.final


class _Told:
    """A part's writer that tells the backup's progress after each write."""

    def __init__(self, writer, tell):
        self._writer = writer
        self._tell = tell

    def write(self, data):
        written = self._writer.write(data)
        self._tell()
        return written

    def __getattr__(self, name):
        return getattr(self._writer, name)
