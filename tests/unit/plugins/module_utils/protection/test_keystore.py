# -*- coding: utf-8 -*-
"""Keystore and password-protected key files."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, InvalidInput, WrongPassword
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys

PASSWORD = "correct horse battery"


def test_keystore_files_are_root_only(keystore):
    assert stat.S_IMODE(os.stat(keystore.path).st_mode) == 0o700
    for name in os.listdir(keystore.path):
        assert stat.S_IMODE(os.stat(os.path.join(keystore.path, name)).st_mode) == 0o600


def test_defaults_per_scope(keystore):
    first = keystore.keys()[0]
    second = keys.BackupKey.generate("second", "system", None)
    fin = keys.BackupKey.generate("fin", "domain", "finance")
    keystore.add(second)
    keystore.add(fin)
    keystore.set_default(fin, True)
    assert keystore.default_key("system", None).id == first.id
    assert keystore.default_key("domain", "finance").id == fin.id
    assert keystore.default_key("domain", "hr") is None
    keystore.set_default(second, True)
    assert keystore.default_key("system", None).id == second.id and not keystore.is_default(first)
    keystore.remove(second)
    assert keystore.default_key("system", None) is None


def test_key_info_never_holds_material(keystore):
    info = keystore.info(keystore.keys()[0])
    assert set(info) == {"id", "name", "scope", "domain", "created_at", "is_default"}


def test_key_file_round_trip(keystore, tmp_path):
    key = keystore.keys()[0]
    path = tmp_path / "main.key"
    path.write_bytes(keys.key_file_bytes(key, PASSWORD))
    back = keys.read_key_file(str(path), PASSWORD)
    assert (back.id, back.material, back.scope, back.created_at) == (key.id, key.material, key.scope, key.created_at)
    assert key.material.hex() not in path.read_text() and PASSWORD not in path.read_text()


def test_key_file_inspect_needs_no_password(keystore, tmp_path):
    key = keystore.keys()[0]
    path = tmp_path / "main.key"
    path.write_bytes(keys.key_file_bytes(key, PASSWORD))
    meta = keys.inspect_key_file(str(path))
    assert meta == {"version": 1, "id": key.id, "name": "main", "scope": "system", "domain": None,
                    "created_at": key.created_at, "kdf": "scrypt"}


def test_wrong_password_is_refused(keystore, tmp_path):
    path = tmp_path / "main.key"
    path.write_bytes(keys.key_file_bytes(keystore.keys()[0], PASSWORD))
    with pytest.raises(WrongPassword, match="password is wrong"):
        keys.read_key_file(str(path), "not the password")


def test_changed_metadata_is_refused(keystore, tmp_path):
    """The metadata is readable without the password but authenticated with the key."""
    path = tmp_path / "main.key"
    path.write_bytes(keys.key_file_bytes(keystore.keys()[0], PASSWORD))
    doc = json.loads(path.read_bytes())
    doc["scope"], doc["domain"] = "domain", "finance"
    path.write_bytes(canonjson.dumps(doc))
    with pytest.raises(WrongPassword):
        keys.read_key_file(str(path), PASSWORD)


def test_not_a_key_file(tmp_path):
    for content in (b"hello", b"{}", b'{"format":"something"}', os.urandom(100)):
        path = tmp_path / "junk"
        path.write_bytes(content)
        with pytest.raises(FormatError):
            keys.inspect_key_file(str(path))
    with pytest.raises(InvalidInput, match="does not exist"):
        keys.inspect_key_file(str(tmp_path / "missing"))


def test_crafted_kdf_parameters_are_refused(keystore, tmp_path):
    path = tmp_path / "main.key"
    path.write_bytes(keys.key_file_bytes(keystore.keys()[0], PASSWORD))
    doc = json.loads(path.read_bytes())
    doc["kdf"]["n"] = 2 ** 30
    path.write_bytes(canonjson.dumps(doc))
    with pytest.raises(FormatError, match="KDF"):
        keys.read_key_file(str(path), PASSWORD)


def test_short_password_is_refused(keystore):
    with pytest.raises(InvalidInput, match="at least 8"):
        keys.key_file_bytes(keystore.keys()[0], "short")


def test_scope_rules():
    with pytest.raises(InvalidInput, match="needs a domain"):
        keys.BackupKey.generate("x", "domain", None)
    with pytest.raises(InvalidInput, match="scope system"):
        keys.BackupKey.generate("x", "system", "finance")


def test_ambiguous_name_is_refused(keystore):
    keystore.add(keys.BackupKey.generate("main", "system", None))
    with pytest.raises(InvalidInput, match="several backup keys"):
        keystore.get(name="main")
