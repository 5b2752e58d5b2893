# -*- coding: utf-8 -*-
"""A backup that failed verification never counts as a good one (issue 13, item 2; DESIGN decision 23)."""

from __future__ import annotations

import json
import os

from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.prune import prune_backups
from ansible_collections.drkit.backup.plugins.module_utils.operations.verify import verify_backups
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


def damage(path):
    header = open_backup(path).header()
    part = os.path.join(path, "parts", header.parts[0]["name"])
    data = bytearray(open(part, "rb").read())
    data[len(data) // 2] ^= 1
    open(part, "wb").write(bytes(data))


def test_a_damaged_backup_never_satisfies_max_age_nor_retention(tmp_path, keystore, data_tree):
    root = str(tmp_path / "b")
    options = {"paths": [str(data_tree / "conf")]}
    good = create_backup(keystore, "files", options, dest=root, online=True)
    bad = create_backup(keystore, "files", options, dest=root, online=True)
    damage(bad["path"])
    checked = verify_backups(bad["path"], "full", Unlocker(keystore), check_mode=True)
    assert checked["changed"] and not checked["verified"] and not os.path.exists(os.path.join(root, ".verify"))
    checked = verify_backups(bad["path"], "full", Unlocker(keystore))
    assert checked["changed"] and not checked["verified"] and "does not authenticate" in checked["problems"][0]
    record = json.load(open(os.path.join(root, ".verify", bad["backup"]["name"] + ".json")))
    assert record["result"] == "failed" and record["level"] == "full" and record["by"].startswith("drkit.backup")
    assert not verify_backups(bad["path"], "full", Unlocker(keystore))["changed"]  # recorded already
    listed = {b["name"]: b["status"] for b in backup_info(root)["backups"]}
    assert listed == {good["backup"]["name"]: "complete", bad["backup"]["name"]: "failed_verification"}

    # keep_last 1 keeps the newest good backup; the damaged one is kept for inspection only under keep_failed.
    pruned = prune_backups(root, keep_last=1)
    kept = {row["name"]: row["reasons"] for row in pruned["kept"]}
    assert set(kept) == {good["backup"]["name"], bad["backup"]["name"]}
    assert "failed verification: kept for inspection" in kept[bad["backup"]["name"]][0]
    pruned = prune_backups(root, keep_last=1, keep_failed=0)
    assert [row["name"] for row in pruned["removed"]] == [bad["backup"]["name"]]
    assert [row["name"] for row in pruned["kept"]] == [good["backup"]["name"]]
    assert not os.path.exists(os.path.join(root, ".verify", bad["backup"]["name"] + ".json"))


def test_the_newest_good_backup_of_a_group_is_always_kept(tmp_path, keystore, data_tree):
    root = str(tmp_path / "b")
    options = {"paths": [str(data_tree / "conf")]}
    good = create_backup(keystore, "files", options, dest=root, online=True)
    newer = [create_backup(keystore, "files", options, dest=root, online=True) for _n in range(2)]
    for made in newer:
        damage(made["path"])
        verify_backups(made["path"], "checksum")
    pruned = prune_backups(root, keep_last=2, keep_failed=0)
    assert [row["name"] for row in pruned["kept"]] == [good["backup"]["name"]]
    assert sorted(row["name"] for row in pruned["removed"]) == sorted(m["backup"]["name"] for m in newer)


def test_a_backup_that_verifies_again_loses_its_record(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    entry_record = os.path.join(str(tmp_path / "b"), ".verify", made["backup"]["name"] + ".json")
    os.makedirs(os.path.dirname(entry_record))
    open(entry_record, "w").write(json.dumps({"result": "failed", "problems": ["a disk error"]}))
    again = verify_backups(made["path"], "full", Unlocker(keystore))
    assert again["changed"] and again["verified"] and not os.path.exists(entry_record)


def test_the_retry_of_a_backup_that_failed_verification_is_taken(tmp_path, keystore, data_tree):
    root = str(tmp_path / "b")
    options = {"paths": [str(data_tree / "conf")]}
    bad = create_backup(keystore, "files", options, dest=root, online=True)
    damage(bad["path"])
    assert not create_backup(keystore, "files", options, dest=root, online=True, max_age="1h")["changed"]
    verify_backups(root, "checksum")
    retry = create_backup(keystore, "files", options, dest=root, online=True, max_age="1h")
    assert retry["changed"] and retry["path"] != bad["path"]
