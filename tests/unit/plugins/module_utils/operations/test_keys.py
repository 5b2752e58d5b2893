# -*- coding: utf-8 -*-
"""Deleting a backup key never strands a backup that only it opens (issue 13, item 4)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.keys import key_absent


def delete(keystore, roots, **kwargs):
    return key_absent(keystore.path, key_id=keystore.keys()[0].id, backup_roots=roots, **kwargs)


def test_a_backup_in_a_root_the_host_wrote_to_counts(tmp_path, keystore, data_tree):
    create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "elsewhere"))
    with pytest.raises(InvalidInput, match="is the only key .* opens 1 backup"):
        delete(keystore, [str(tmp_path / "default-root")])


def test_a_safety_copy_counts(tmp_path, keystore, data_tree, state_dir):
    root = tmp_path / "b"
    create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(root / ".safety"),
                  state_dir=str(tmp_path / "other-state"))  # a state directory that does not remember it
    with pytest.raises(InvalidInput, match=r"opens 1 backup.*\.safety"):
        delete(keystore, [str(root)])


def test_a_capture_waiting_to_be_sealed_counts(tmp_path, keystore, data_tree):
    create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"),
                  stage="capture")
    with pytest.raises(InvalidInput, match=r"opens 1 backup\(s\) or capture\(s\), such as .*\.capture"):
        delete(keystore, [])


def test_a_header_that_cannot_be_read_is_refused_unless_forced(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    with open(os.path.join(made["path"], "header.json"), "r+b") as handle:
        handle.write(b"garbage")
    with pytest.raises(InvalidInput, match="may be the only key that opens .*whose header cannot be read"):
        delete(keystore, [str(tmp_path / "b")])
    assert delete(keystore, [str(tmp_path / "b")], check_mode=True, force=True)["changed"]
    assert delete(keystore, [str(tmp_path / "b")], force=True)["changed"] and keystore.keys() == []
