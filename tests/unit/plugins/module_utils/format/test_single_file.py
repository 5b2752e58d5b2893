# -*- coding: utf-8 -*-
"""The single-file form: pack, read in place, unpack; any change is refused."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, IntegrityError
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import PackedSource, open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


@pytest.fixture
def small_packed(tmp_path, keystore):
    data = tmp_path / "small"
    data.mkdir()
    (data / "a.conf").write_text("x = 1\n" * 30)
    backup = create_backup(keystore, "files", {"paths": [str(data)]}, dest=str(tmp_path / "b"))
    return pack_backup(backup["path"], str(tmp_path / "out"))["path"]


def check(path, keystore, pool):
    """Problems found by a full check of ``path``, or the error that refused it."""
    try:
        return verify_backup(open_backup(path), pool, Unlocker(keystore), full=True)[1]
    except DrkitError as exc:
        return [str(exc)]


def test_pack_is_a_plain_tar_with_header_first(small_packed):
    listing = subprocess.run(["tar", "-tf", small_packed], check=True, capture_output=True, text=True).stdout.split()
    name = os.path.basename(small_packed)[:-len(".drkit")]
    assert listing[0] == name + "/header.json"
    assert all(entry.startswith(name + "/parts/") for entry in listing[1:])


def test_packed_backup_verifies_in_place(small_packed, keystore, pool):
    assert check(small_packed, keystore, pool) == []


def test_every_single_byte_change_is_detected(small_packed, keystore, pool, tmp_path):
    original = open(small_packed, "rb").read()
    damaged_path = str(tmp_path / os.path.basename(small_packed))
    for index in range(0, len(original)):
        damaged = bytearray(original)
        damaged[index] ^= 0x04
        with open(damaged_path, "wb") as out:
            out.write(damaged)
        assert check(damaged_path, keystore, pool), "change at byte %d went unseen" % index


def test_truncation_and_append_are_detected(small_packed, keystore, pool, tmp_path):
    original = open(small_packed, "rb").read()
    damaged_path = str(tmp_path / os.path.basename(small_packed))
    for cut in (1, 512, 1024, len(original) // 2, len(original) - 1):
        open(damaged_path, "wb").write(original[:cut])
        assert check(damaged_path, keystore, pool)
    open(damaged_path, "wb").write(original + b"\0" * 512)
    assert "appended" in check(damaged_path, keystore, pool)[0]


def test_unpack_round_trip_and_idempotence(small_packed, keystore, pool, tmp_path):
    first = pack_backup(small_packed, str(tmp_path / "root"))
    assert first["changed"] and first["operation"] == "unpack"
    assert check(first["path"], keystore, pool) == []
    assert not pack_backup(small_packed, str(tmp_path / "root"))["changed"]
    again = pack_backup(first["path"], os.path.dirname(small_packed))
    assert not again["changed"]


def test_unpack_of_damaged_file_writes_nothing(small_packed, tmp_path):
    source = PackedSource(small_packed)
    name, length = next(iter(source.stored_parts().items()))
    handle, _limit = source.open_part(name)
    with handle:
        start = handle.tell()
    data = bytearray(open(small_packed, "rb").read())
    data[start + length // 2] ^= 1  # inside the part's stored data
    damaged = tmp_path / os.path.basename(small_packed)
    damaged.write_bytes(bytes(data))
    root = tmp_path / "root"
    with pytest.raises(IntegrityError, match="checksum"):
        pack_backup(str(damaged), str(root))
    assert os.listdir(str(root)) == []


def test_renamed_file_is_refused(small_packed, tmp_path):
    renamed = tmp_path / "files-full-2000-01-01-00-00-00.drkit"
    renamed.write_bytes(open(small_packed, "rb").read())
    with pytest.raises(IntegrityError):
        open_backup(str(renamed))
