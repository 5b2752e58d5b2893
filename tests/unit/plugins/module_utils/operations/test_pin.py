# -*- coding: utf-8 -*-
"""Pins (DESIGN decision 24): a backup a reader holds is never pruned nor deleted until the pin goes or expires."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, OperationInProgress
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.delete import delete_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.lease import control_lease
from ansible_collections.drkit.backup.plugins.module_utils.operations.pin import control_pin
from ansible_collections.drkit.backup.plugins.module_utils.operations.prune import prune_backups


def two_backups(keystore, data_tree, root):
    older = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(root))
    newer = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(root))
    return older["path"], newer["path"]


def test_a_pinned_backup_is_kept_by_prune_and_refused_by_delete(tmp_path, keystore, data_tree, state_dir):
    root = tmp_path / "b"
    older, _newer = two_backups(keystore, data_tree, root)
    assert control_pin(older, holder="drill on ctl", purpose="restore drill", check_mode=True)["pin"] is None
    pinned = control_pin(older, holder="drill on ctl", purpose="restore drill")
    pin = pinned["pin"]
    assert pinned["changed"] and pin["holder"] == "drill on ctl"
    listed = {item["path"]: item for item in backup_info(str(root))["backups"]}
    assert [p["id"] for p in listed[older]["pins"]] == [pin["id"]] and listed[older]["status"] == "complete"
    pruned = prune_backups(str(root), keep_last=1)
    assert pruned["removed"] == [] and os.path.isdir(older)
    reasons = [row for row in pruned["kept"] if row["path"] == older][0]["reasons"]
    assert reasons == ["pinned by drill on ctl for restore drill until %s: never pruned while pinned" % pin["expires_at"]]
    with pytest.raises(InvalidInput, match="is pinned by drill on ctl for restore drill until .*backup_pin state absent"):
        delete_backup(str(root), os.path.basename(older))
    assert os.path.isdir(older)
    released = control_pin(older, "absent", pin_id=pin["id"])
    assert released["changed"] and not control_pin(older, "absent", pin_id=pin["id"])["changed"]
    assert [row["path"] for row in prune_backups(str(root), keep_last=1)["removed"]] == [older]


def test_an_expired_pin_holds_nothing_and_an_unreadable_one_holds(tmp_path, keystore, data_tree, state_dir):
    root = tmp_path / "b"
    older, _newer = two_backups(keystore, data_tree, root)
    pin = control_pin(older, holder="dead drill", purpose="restore drill")["pin"]
    record = os.path.join(str(root), ".pins", "%s.%s.json" % (os.path.basename(older), pin["id"]))
    with open(record, "w") as handle:
        json.dump(dict(pin, expires_at="2000-01-01T00:00:00.000000Z"), handle)
    assert "pins" not in [item for item in backup_info(str(root))["backups"] if item["path"] == older][0]
    control_pin(older, holder="other", purpose="copy")
    broken = os.path.join(str(root), ".pins", "%s.garbled.json" % os.path.basename(older))
    with open(broken, "w") as handle:
        handle.write("{not json")
    assert any("cannot be read" in p.get("problem", "") for p in
               [item for item in backup_info(str(root))["backups"] if item["path"] == older][0]["pins"])
    for name in os.listdir(os.path.join(str(root), ".pins")):
        if "garbled" not in name:
            os.unlink(os.path.join(str(root), ".pins", name))
    assert prune_backups(str(root), keep_last=1)["removed"] == []  # the unreadable pin still holds it
    os.unlink(broken)
    removed = prune_backups(str(root), keep_last=1)["removed"]
    assert [row["path"] for row in removed] == [older] and not os.listdir(os.path.join(str(root), ".pins"))


def test_pinning_needs_one_backup_a_holder_and_respects_a_lease(tmp_path, keystore, data_tree, state_dir):
    root = tmp_path / "b"
    older, _newer = two_backups(keystore, data_tree, root)
    with pytest.raises(InvalidInput, match="is a backup root"):
        control_pin(str(root), holder="x", purpose="y")
    with pytest.raises(InvalidInput, match="needs holder and purpose"):
        control_pin(older)
    lease = control_lease(holder="drill role", purpose="drill of files", state_dir=state_dir)["lease"]
    with pytest.raises(OperationInProgress, match="held by a lease for drill of files"):
        control_pin(older, holder="x", purpose="y")
    assert control_pin(older, holder="drill role", purpose="drill", lease_id=lease["id"])["changed"]
