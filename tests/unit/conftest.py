# -*- coding: utf-8 -*-
"""Shared fixtures for the engine's unit tests (no Ansible process needed)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils import keys, locking, operations, workers


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Every test gets its own host state directory (never the real /var/lib/drkit)."""
    path = str(tmp_path / "state")
    monkeypatch.setattr(locking, "DEFAULT_STATE_DIR", path)
    monkeypatch.setattr(locking, "LOCK_WAIT", 0.3)  # a busy lock fails fast in tests
    return path


@pytest.fixture
def pool():
    with workers.worker_pool() as threads:
        yield threads


@pytest.fixture
def keystore(tmp_path):
    """A keystore holding one default system key."""
    store = keys.Keystore(str(tmp_path / "keys"))
    key = keys.BackupKey.generate("main", "system", None)
    store.add(key)
    store.set_default(key, True)
    return store


@pytest.fixture
def data_tree(tmp_path):
    """A small directory tree with a text file, a binary file, an empty file, a symlink and a subdirectory."""
    root = tmp_path / "data"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.conf").write_text("listen = 127.0.0.1\nusers = 10000\n" * 50)
    (root / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "empty").write_bytes(b"")
    os.symlink("conf/app.conf", str(root / "link"))
    os.chmod(str(root / "conf" / "app.conf"), 0o640)
    return root


@pytest.fixture
def backup_dir(tmp_path, keystore, data_tree):
    """A finished, encrypted backup of ``data_tree``; returns its path."""
    result = operations.create_backup(keystore, "files", {"paths": [str(data_tree)]},
                                      dest=str(tmp_path / "backups"))
    return result["path"]
