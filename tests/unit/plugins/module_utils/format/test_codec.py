# -*- coding: utf-8 -*-
"""The stored form of a part: round trips and every kind of damage."""

from __future__ import annotations

import io
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import (
    FRAME, MAGIC, ChunkCodec, PartReader, PartWriter)
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto

CHUNK = 4096


def store(data, key, level=3, pool=None, write_sizes=(1000,)):
    """The stored form of ``data``."""
    return store_with_writer(data, key, level, pool, write_sizes)[0]


def store_with_writer(data, key, level=3, pool=None, write_sizes=(1000,)):
    out = io.BytesIO()
    writer = PartWriter(out, ChunkCodec(key, CHUNK, level), pool, inflight=3, hash_plaintext=True)
    view, step = memoryview(data), 0
    while view:
        size = write_sizes[step % len(write_sizes)]
        writer.write(bytes(view[:size]))
        view = view[size:]
        step += 1
    writer.close()
    return out.getvalue(), writer


def load(stored, key, pool, level=3):
    reader = PartReader(io.BytesIO(stored), ChunkCodec(key, CHUNK, level), pool, "part p", inflight=3,
                        hash_plaintext=True)
    return reader.read(), reader


def frames(stored):
    """(offset, flags, length) of each frame."""
    found, offset = [], len(MAGIC)
    while offset < len(stored):
        flags, length = FRAME.unpack_from(stored, offset)
        found.append((offset, flags, length))
        offset += FRAME.size + length
    return found


@pytest.mark.parametrize("size", [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 7])
@pytest.mark.parametrize("keyed", [True, False])
def test_round_trip_sizes(pool, size, keyed):
    key = crypto.random_key() if keyed else None
    data = (os.urandom(size // 2) + b"text " * size)[:size]
    stored, writer = store_with_writer(data, key, pool=pool, write_sizes=(1, 999, CHUNK * 2))
    restored, reader = load(stored, key, pool)
    assert restored == data
    assert writer.size == reader.size == size
    assert writer.sha256 == reader.sha256
    assert writer.stored_size == len(stored)


def test_chunk_boundaries_are_canonical(pool):
    """Whatever the write sizes, the same plaintext gives the same frames (one form per plaintext)."""
    data = os.urandom(3 * CHUNK)
    first = store(data, None, pool=pool, write_sizes=(7,))
    second = store(data, None, pool=pool, write_sizes=(CHUNK * 3,))
    assert first == second
    assert [f[1] for f in frames(first)] == [0, 0, 2]


def test_incompressible_data_is_stored_raw(pool):
    stored = store(os.urandom(2 * CHUNK), None, pool=pool)
    assert not any(frame[1] & 1 for frame in frames(stored))
    stored = store(b"a" * 2 * CHUNK, None, pool=pool)
    assert all(frame[1] & 1 for frame in frames(stored))


def test_every_single_byte_change_is_detected(pool):
    key = crypto.random_key()
    stored = store(b"identity " * 1500, key, pool=pool)
    for index in range(len(stored)):
        damaged = bytearray(stored)
        damaged[index] ^= 0x01
        with pytest.raises(IntegrityError):
            load(bytes(damaged), key, pool)


def test_truncation_is_detected(pool):
    key = crypto.random_key()
    stored = store(os.urandom(3 * CHUNK), key, pool=pool)
    for offset, _flags, _length in frames(stored):
        with pytest.raises(IntegrityError, match="truncated|authenticate"):
            load(stored[:offset], key, pool)
    with pytest.raises(IntegrityError, match="truncated"):
        load(stored[:-1], key, pool)


def test_dropping_whole_trailing_chunks_is_detected(pool):
    key = crypto.random_key()
    stored = store(os.urandom(3 * CHUNK), key, pool=pool)
    offset = frames(stored)[2][0]
    with pytest.raises(IntegrityError, match="truncated"):
        load(stored[:offset], key, pool)


def test_chunk_swap_is_detected(pool):
    key = crypto.random_key()
    stored = store(os.urandom(3 * CHUNK), key, pool=pool)
    (a, _flags_a, alen), (b, _flags_b, blen) = frames(stored)[:2]
    first, second = stored[a:a + FRAME.size + alen], stored[b:b + FRAME.size + blen]
    swapped = stored[:a] + second + first + stored[b + FRAME.size + blen:]
    with pytest.raises(IntegrityError, match="chunk 0 does not authenticate"):
        load(swapped, key, pool)


def test_appended_bytes_are_detected(pool):
    key = crypto.random_key()
    stored = store(os.urandom(CHUNK), key, pool=pool)
    with pytest.raises(IntegrityError, match="appended"):
        load(stored + b"\0", key, pool)
    with pytest.raises(IntegrityError, match="appended"):
        load(stored + stored[len(MAGIC):], key, pool)


def test_wrong_key_is_refused(pool):
    stored = store(b"secret", crypto.random_key(), pool=pool)
    with pytest.raises(IntegrityError, match="key is wrong"):
        load(stored, crypto.random_key(), pool)


def test_oversized_frame_header_is_refused_before_reading(pool):
    stored = MAGIC + FRAME.pack(2, 1 << 30)
    with pytest.raises(IntegrityError, match="invalid header"):
        load(stored, None, pool)
