# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stored form of one part, written and read as a stream on all cores.

A stored part is ``MAGIC`` followed by frames, one per plaintext chunk::

    flags (1 byte) | length (4 bytes, big-endian) | payload (length bytes)

``flags`` says whether the chunk is zstd-compressed and whether it is the
last one. With a key, the payload is the chunk's AES-256-GCM ciphertext
(see :class:`ChunkCipher`) and ``flags`` is its associated data, so neither
flag can be changed unseen. Every part ends with exactly one last chunk
(empty for an empty part); bytes after it are refused.

Chunks are compressed and encrypted by a thread pool (zstandard, AES-GCM and
hashlib release the GIL), at most ``inflight`` at a time, and written in
order, so memory stays a few chunks whatever the size of the part.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import struct
import threading

try:
    import zstandard
    HAS_ZSTANDARD = True
    ZSTANDARD_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules
    HAS_ZSTANDARD = False
    ZSTANDARD_IMPORT_ERROR = exc

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError
from ansible_collections.drkit.backup.plugins.module_utils.protection.crypto import TAG_BYTES, ChunkCipher

MAGIC = b"DRKPART1"
FRAME = struct.Struct(">BI")
COMPRESSED = 0x01
LAST = 0x02
DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_LEVEL = 3
# Compression is tried on a sample first: data that does not shrink (already
# compressed or encrypted) is stored as it is and costs almost nothing.
PROBE_BYTES = 64 * 1024
WORTH_IT = 0.9
# zstd's own minimum match length (5 at level 3) spends sequences on short
# matches; 7 suits LDIF, JSON and configuration text: 5-14% smaller and no
# slower. Decompression is the same whatever the parameters.
MIN_MATCH = 7


class ChunkCodec:
    """Turns a chunk into its payload and back, for one part."""

    def __init__(self, key, chunk_size=DEFAULT_CHUNK_SIZE, level=DEFAULT_LEVEL):
        self.chunk_size = chunk_size
        self.level = level
        self._cipher = ChunkCipher(key) if key is not None else None
        self._local = threading.local()  # zstd contexts are not thread-safe

    def _compressor(self, level):
        attr = "c%d" % level
        comp = getattr(self._local, attr, None)
        if comp is None:
            params = zstandard.ZstdCompressionParameters.from_level(level, min_match=MIN_MATCH)
            comp = zstandard.ZstdCompressor(compression_params=params)
            setattr(self._local, attr, comp)
        return comp

    def _decompressor(self):
        dec = getattr(self._local, "d", None)
        if dec is None:
            dec = self._local.d = zstandard.ZstdDecompressor()
        return dec

    def encode(self, index: int, data: bytes, last: bool) -> tuple:
        """The frame for one chunk, as (frame header, payload): written apart, never joined (a copy)."""
        flags = LAST if last else 0
        body = data
        if self.level and len(data) > 512:
            probe = data[:PROBE_BYTES]
            if len(self._compressor(1).compress(probe)) < len(probe) * WORTH_IT:
                packed = self._compressor(self.level).compress(data)
                if len(packed) < len(data):
                    body, flags = packed, flags | COMPRESSED
                    faults.checkpoint("stream.compress")
        if self._cipher is not None:
            body = self._cipher.encrypt(index, last, body, bytes((flags,)))
            faults.checkpoint("stream.encrypt")
        return FRAME.pack(flags, len(body)), body

    def decode(self, index: int, flags: int, payload: bytes, where: str) -> bytes:
        body = payload
        if self._cipher is not None:
            body = self._cipher.decrypt(index, bool(flags & LAST), payload, bytes((flags,)))
            if body is None:
                raise IntegrityError("%s: chunk %d does not authenticate: the part was changed, "
                                     "damaged or reordered, or the key is wrong" % (where, index))
        if flags & COMPRESSED:
            try:
                body = self._decompressor().decompress(body, max_output_size=self.chunk_size)
            except zstandard.ZstdError as exc:
                raise IntegrityError("%s: chunk %d does not decompress (%s): the part is damaged"
                                     % (where, index, exc))
        # Every chunk but the last is exactly one chunk size: one plaintext, one stored form.
        if len(body) > self.chunk_size or (not flags & LAST and len(body) != self.chunk_size):
            raise IntegrityError("%s: chunk %d has the wrong size: the part is damaged"
                                 % (where, index))
        return body

    @property
    def max_payload(self) -> int:
        return self.chunk_size + (TAG_BYTES if self._cipher is not None else 0)


class _Ordered:
    """A bounded window of submitted jobs whose results come back in order."""

    def __init__(self, pool, inflight):
        self._pool = pool
        self._inflight = max(2, inflight)
        self._jobs = collections.deque()

    def full(self) -> bool:
        return len(self._jobs) >= self._inflight

    def submit(self, fn, *args):
        self._jobs.append(self._pool.submit(fn, *args))

    def __len__(self):
        return len(self._jobs)

    def pop(self):
        return self._jobs.popleft().result()

    def cancel(self):
        for job in self._jobs:
            job.cancel()
        self._jobs.clear()


class BackgroundHash:
    """SHA-256 of a stream, computed on a thread of its own in the order the data comes.

    Hashing is the one step of the pipeline that must run in sequence, and the longest: on its own
    thread it has a core to itself while the caller reads, writes and decrypts. At most ``inflight``
    blocks wait, so memory stays bounded.
    """

    def __init__(self, inflight=8):
        self._hash = hashlib.sha256()
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drkit-hash")
        self._pending = _Ordered(self._thread, inflight)
        self.count = 0

    def update(self, data):
        while self._pending.full():
            self._pending.pop()
        self._pending.submit(self._hash.update, data)
        self.count += len(data)

    def hexdigest(self) -> str:
        while len(self._pending):
            self._pending.pop()
        self._thread.shutdown(wait=True)
        return self._hash.hexdigest()

    def cancel(self):
        self._pending.cancel()
        self._thread.shutdown(wait=True)


class PartWriter:
    """A writable file object that stores what is written to it as one part.

    ``out`` is the stored file, opened for binary writing. After :meth:`close`,
    ``size`` and ``sha256`` describe the plaintext (``sha256`` only when
    ``hash_plaintext``), ``stored_size`` and ``stored_sha256`` the stored file.

    Three stages overlap: the caller's thread cuts chunks and writes the
    encoded frames in order, the pool compresses and encrypts them, and a
    :class:`BackgroundHash` computes the stored file's SHA-256.
    """

    def __init__(self, out, codec, pool, inflight=8, hash_plaintext=False):
        self._out = out
        self._codec = codec
        self._window = _Ordered(pool, inflight)
        self._stored_hash = BackgroundHash(inflight)
        self._buf = bytearray()
        self._index = 0
        self._plain_hash = hashlib.sha256() if hash_plaintext else None
        self.size = 0
        self.stored_size = 0
        self.sha256 = None
        self.stored_sha256 = None
        self.closed = False
        self._emit((MAGIC,))

    def _emit(self, pieces):
        faults.checkpoint("stream.write")
        for data in pieces:
            self._out.write(data)
            self._stored_hash.update(data)
            self.stored_size += len(data)

    def _hand_over(self):
        """Writes the oldest encoded frame and hands it to the hasher."""
        self._emit(self._window.pop())

    def _submit(self, chunk, last):
        if self._plain_hash is not None:
            self._plain_hash.update(chunk)
        self.size += len(chunk)
        while self._window.full():
            self._hand_over()
        self._window.submit(self._codec.encode, self._index, chunk, last)
        self._index += 1

    def write(self, data) -> int:
        self._buf += data
        size = self._codec.chunk_size
        # Strictly more than a chunk: only then is it sure this chunk is not the last.
        if len(self._buf) > size:
            view = memoryview(self._buf)
            start = 0
            while len(self._buf) - start > size:
                self._submit(bytes(view[start:start + size]), False)
                start += size
            view.release()
            del self._buf[:start]
        return len(data)

    def tell(self) -> int:
        """Plaintext bytes written so far (tarfile's non-stream mode asks)."""
        return self.size + len(self._buf)

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self._submit(bytes(self._buf), True)
            self._buf = bytearray()
            while len(self._window):
                self._hand_over()
            self.stored_sha256 = self._stored_hash.hexdigest()
        except BaseException:
            self.abort()
            raise
        if self._plain_hash is not None:
            self.sha256 = self._plain_hash.hexdigest()

    def abort(self):
        self.closed = True
        self._window.cancel()
        self._stored_hash.cancel()

    # tarfile and shutil only need write(); these make the object a tidy file.
    def writable(self):
        return True

    def flush(self):
        pass


class PartReader:
    """A readable file object that yields the plaintext of one stored part.

    Frames are read ahead and decoded by the pool; any damage raises
    :class:`IntegrityError` naming ``where`` (the backup and part).
    ``stored`` is the stored file positioned at its start; at most ``limit``
    bytes of it are read (the part's extent inside a single-file backup).
    """

    def __init__(self, stored, codec, pool, where, limit=None, inflight=8, hash_plaintext=False):
        self._in = stored
        self._codec = codec
        self._where = where
        self._remaining = limit
        self._window = _Ordered(pool, inflight)
        self._index = 0
        self._seen_last = False
        self._pending = memoryview(b"")
        self._plain_hash = hashlib.sha256() if hash_plaintext else None
        self.size = 0
        self.closed = False
        if self._read_exact(len(MAGIC), "its start") != MAGIC:
            raise IntegrityError("%s is not a stored drkit part (bad magic): it is damaged" % where)

    @property
    def sha256(self):
        return self._plain_hash.hexdigest() if self._plain_hash is not None else None

    def _read_exact(self, count, what):
        if self._remaining is not None:
            if count > self._remaining:
                raise IntegrityError("%s is truncated (it ends inside %s)" % (self._where, what))
            self._remaining -= count
        data = self._in.read(count)
        if len(data) != count:
            raise IntegrityError("%s is truncated (it ends inside %s)" % (self._where, what))
        return data

    def _at_end(self):
        if self._remaining is not None:
            return self._remaining == 0
        return self._in.read(1) == b""

    def _fill(self):
        while not self._seen_last and not self._window.full():
            flags, length = FRAME.unpack(self._read_exact(FRAME.size, "a chunk header"))
            if flags & ~(COMPRESSED | LAST) or length > self._codec.max_payload:
                raise IntegrityError("%s: chunk %d has an invalid header: the part is damaged"
                                     % (self._where, self._index))
            payload = self._read_exact(length, "chunk %d" % self._index)
            self._window.submit(self._codec.decode, self._index, flags, payload, self._where)
            self._index += 1
            if flags & LAST:
                self._seen_last = True
                if not self._at_end():
                    raise IntegrityError("%s has data after its last chunk: bytes were appended"
                                         % self._where)

    def _next_chunk(self) -> bool:
        try:
            self._fill()
            if not len(self._window):
                return False
            chunk = self._window.pop()
        except BaseException:
            self._window.cancel()
            raise
        if self._plain_hash is not None:
            self._plain_hash.update(chunk)
        self.size += len(chunk)
        self._pending = memoryview(chunk)
        return True

    def read(self, count=-1) -> bytes:
        if count is None or count < 0:
            parts = [bytes(self._pending)]
            while self._next_chunk():
                parts.append(bytes(self._pending))
            self._pending = memoryview(b"")
            return b"".join(parts)
        while not len(self._pending):
            if not self._next_chunk():
                return b""
        data = bytes(self._pending[:count])
        self._pending = self._pending[count:]
        return data

    def read_chunk(self):
        """The next decoded chunk as it is (for draining without copies); b"" at the end."""
        if len(self._pending):
            data, self._pending = bytes(self._pending), memoryview(b"")
            return data
        if not self._next_chunk():
            return b""
        data, self._pending = self._pending.obj, memoryview(b"")
        return data

    def drain(self):
        """Read and authenticate everything left; returns the plaintext size."""
        while self.read_chunk():
            pass
        return self.size

    def readable(self):
        return True

    def close(self):
        self.closed = True
        self._window.cancel()
