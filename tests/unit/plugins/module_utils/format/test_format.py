# -*- coding: utf-8 -*-
"""Whole backups: round trips, tampering, keys, and the header's rules."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, IntegrityError, InvalidInput, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.format.header import Header
from ansible_collections.drkit.backup.plugins.module_utils.format.names import NAME_RE
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


def small_backup(tmp_path, keystore, encryption="key"):
    data = tmp_path / "small"
    data.mkdir()
    (data / "users.ldif").write_text("dn: uid=alice,cn=users\nuid: alice\n" * 20)
    result = create_backup(keystore, "files", {"paths": [str(data)]}, dest=str(tmp_path / "b"),
                           encryption=encryption)
    return result["path"]


def verify(path, keystore, pool, full=True):
    return verify_backup(open_backup(path), pool, Unlocker(keystore), full=full)[1]


def test_backup_layout_and_name(backup_dir):
    name = os.path.basename(backup_dir)
    assert NAME_RE.match(name) and name.startswith("files-full-")
    assert sorted(os.listdir(backup_dir)) == ["header.json", "parts"]
    assert oct(os.stat(backup_dir).st_mode & 0o777) == "0o700"
    for part in os.listdir(os.path.join(backup_dir, "parts")):
        assert os.stat(os.path.join(backup_dir, "parts", part)).st_mode & 0o077 == 0


def test_header_is_canonical_and_readable_without_key(backup_dir):
    raw = open(os.path.join(backup_dir, "header.json"), "rb").read()
    assert canonjson.dumps(json.loads(raw)) == raw
    header = open_backup(backup_dir).header()
    assert header.manifest["product"] == "files" and header.encrypted
    assert header.parts[0]["size"] > 0 and header.parts[0]["storedSize"] > 0


def test_clean_backup_verifies(backup_dir, keystore, pool):
    assert verify(backup_dir, keystore, pool, full=False) == []
    assert verify(backup_dir, keystore, pool, full=True) == []


def test_every_single_byte_change_is_detected(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore)
    files = [os.path.join(path, "header.json")] + [
        os.path.join(path, "parts", name) for name in os.listdir(os.path.join(path, "parts"))]
    for file_path in files:
        original = open(file_path, "rb").read()
        for index in range(len(original)):
            damaged = bytearray(original)
            damaged[index] ^= 0x20
            open(file_path, "wb").write(bytes(damaged))
            assert verify(path, keystore, pool), "change at byte %d of %s went unseen" % (index, file_path)
        open(file_path, "wb").write(original)
    assert verify(path, keystore, pool) == []


def test_part_truncation_and_append_are_named(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore)
    part = os.path.join(path, "parts", os.listdir(os.path.join(path, "parts"))[0])
    original = open(part, "rb").read()
    open(part, "wb").write(original[:-3])
    assert "truncated or extended" in verify(path, keystore, pool)[0]
    assert os.path.basename(part) in verify(path, keystore, pool)[0]
    open(part, "wb").write(original + b"x")
    assert "truncated or extended" in verify(path, keystore, pool, full=False)[0]


def test_missing_and_extra_parts_are_reported(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore)
    parts = os.path.join(path, "parts")
    name = os.listdir(parts)[0]
    shutil.move(os.path.join(parts, name), os.path.join(parts, "stray"))
    problems = verify(path, keystore, pool, full=False)
    assert any("stray" in p and "does not list" in p for p in problems)
    assert any(name in p and "missing" in p for p in problems)


def test_header_change_with_recomputed_checksum_is_caught_by_the_key(tmp_path, keystore, pool):
    """Without a key only accidents are caught; with it, a forged manifest is refused."""
    path = small_backup(tmp_path, keystore)
    header_path = os.path.join(path, "header.json")
    doc = json.loads(open(header_path, "rb").read())
    doc["manifest"]["description"] = "forged"
    doc["manifestSha256"] = hashlib.sha256(canonjson.dumps(doc["manifest"])).hexdigest()
    open(header_path, "wb").write(canonjson.dumps(doc))
    assert verify(path, keystore, pool, full=False) == []
    problems = verify(path, keystore, pool, full=True)
    assert problems and "does not authenticate" in problems[0]


def test_non_canonical_header_is_refused(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore)
    header_path = os.path.join(path, "header.json")
    doc = json.loads(open(header_path, "rb").read())
    open(header_path, "w").write(json.dumps(doc, indent=1))
    assert "canonical" in verify(path, keystore, pool, full=False)[0]


def test_newer_major_format_is_refused_with_its_version(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore)
    header_path = os.path.join(path, "header.json")
    doc = json.loads(open(header_path, "rb").read())
    doc["manifest"]["formatVersion"] = "2.0"
    open(header_path, "wb").write(canonjson.dumps(doc))
    problem = verify(path, keystore, pool, full=False)[0]
    assert "format 2.0" in problem and "upgrade" in problem


def test_newer_minor_format_fields_are_ignored(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore, encryption="none")
    header_path = os.path.join(path, "header.json")
    doc = json.loads(open(header_path, "rb").read())
    doc["manifest"]["formatVersion"] = "1.7"
    doc["manifest"]["someFutureField"] = {"x": 1}
    doc["manifestSha256"] = hashlib.sha256(canonjson.dumps(doc["manifest"])).hexdigest()
    open(header_path, "wb").write(canonjson.dumps(doc))
    assert verify(path, keystore, pool) == []


def test_key_not_in_keystore_is_named(tmp_path, backup_dir, pool):
    header = open_backup(backup_dir).header()
    empty = keys.Keystore(str(tmp_path / "other"))
    problems = verify(backup_dir, empty, pool)
    assert header.key_ids[0] in problems[0] and "not in keystore" in problems[0]


def test_wrong_key_with_same_id_is_refused(tmp_path, backup_dir, keystore, pool):
    key = keystore.keys()[0]
    impostor = keys.Keystore(str(tmp_path / "impostor"))
    impostor.add(keys.BackupKey(key.id, key.name, key.scope, key.domain, key.created_at, os.urandom(32)))
    assert "does not open" in verify(backup_dir, impostor, pool)[0]


def test_directory_without_header_is_an_error(tmp_path):
    (tmp_path / "files-full-2026-01-01-00-00-00" / "parts").mkdir(parents=True)
    with pytest.raises(InvalidInput, match="no header.json"):
        open_backup(str(tmp_path / "files-full-2026-01-01-00-00-00"))


def test_unencrypted_backup_round_trips_and_detects_damage(tmp_path, keystore, pool):
    path = small_backup(tmp_path, keystore, encryption="none")
    header = open_backup(path).header()
    assert not header.encrypted and header.key_ids == [] and header.parts[0].get("sha256")
    assert verify(path, keystore, pool) == []
    part = os.path.join(path, "parts", header.parts[0]["name"])
    data = bytearray(open(part, "rb").read())
    data[-1] ^= 1
    open(part, "wb").write(bytes(data))
    assert verify(path, keystore, pool)


def test_scope_of_key_must_match(tmp_path, keystore, data_tree):
    domain_key = keys.BackupKey.generate("fin", "domain", "finance")
    keystore.add(domain_key)
    with pytest.raises(InvalidInput, match="cannot encrypt a system backup"):
        create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "x"),
                      key_id=domain_key.id)


def test_no_default_key_is_a_clear_error(tmp_path, data_tree):
    with pytest.raises(KeyNotFound, match="no default backup key for the system scope"):
        create_backup(keys.Keystore(str(tmp_path / "none")), "files", {"paths": [str(data_tree)]},
                      dest=str(tmp_path / "x"))


def test_encryption_none_with_key_id_is_refused(tmp_path, keystore, data_tree):
    with pytest.raises(InvalidInput, match="encryption none was asked for together with key_id"):
        create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "x"),
                      encryption="none", key_id=keystore.keys()[0].id)


def test_header_parser_refuses_junk():
    for raw in (b"", b"[]", b"{}", b"{\"format\":\"drkit-backup\"}", b"\xff\xfe", b"{\"a\":1,\"a\":1}"):
        with pytest.raises(FormatError):
            Header.parse(raw, "test header")


def test_unlock_refuses_tampered_slot(tmp_path, backup_dir, keystore):
    header = open_backup(backup_dir).header()
    slot = header.doc["keySlots"][0]
    slot["keyId"], original = slot["keyId"], slot["keyId"]
    other = keys.BackupKey.generate("other", "system", None)
    keystore.add(other)
    slot["keyId"] = other.id
    with pytest.raises(IntegrityError, match="does not open"):
        Unlocker(keystore).data_key(header)
    slot["keyId"] = original
    assert Unlocker(keystore).data_key(header) is not None
