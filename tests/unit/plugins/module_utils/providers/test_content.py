# -*- coding: utf-8 -*-
"""Content summaries (DESIGN decision 28): counted inside the capture, compared with the restored instance."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.stages import seal_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.providers.content import differences


def restored_counts(keystore, backup, target):
    restore_backup(Unlocker(keystore), backup["path"], provider_options={"target_root": str(target)})
    return get_provider("files", {"target_root": str(target)}, verb="restore").count(
        backup["backup"]["contentSummary"])


def test_the_summary_is_what_the_capture_held_and_a_restore_counts_the_same(tmp_path, keystore, data_tree):
    os.link(str(data_tree / "blob.bin"), str(data_tree / "conf" / "blob-again"))  # a second name: its bytes once
    made = create_backup(keystore, "files", {"paths": [str(data_tree), str(data_tree / "empty")]},
                         dest=str(tmp_path / "b"))
    summary = made["backup"]["contentSummary"]
    blob = (data_tree / "blob.bin").stat().st_size
    conf = (data_tree / "conf" / "app.conf").stat().st_size
    tree = summary["paths"][str(data_tree)]
    assert tree["directories"] == sum(1 for _top, _dirs, _files in os.walk(str(data_tree)))
    assert tree["bytes"] == blob + conf and tree["links"] >= 1
    assert summary["paths"][str(data_tree / "empty")] == {"files": 1, "directories": 0, "links": 0, "bytes": 0}
    counted = restored_counts(keystore, made, tmp_path / "t")
    assert differences(summary, counted) == []
    os.unlink(os.path.join(str(tmp_path / "t"), str(data_tree / "conf" / "app.conf").lstrip("/")))
    counted = get_provider("files", {"target_root": str(tmp_path / "t")}, verb="restore").count(summary)
    assert differences(summary, counted) == [
        "paths %s bytes: the backup holds %d, the restored instance %d" % (data_tree, blob + conf, blob),
        "paths %s files: the backup holds %d, the restored instance %d"
        % (data_tree, tree["files"], tree["files"] - 1)]


def test_a_two_stage_backup_seals_the_summary_its_capture_counted(tmp_path, keystore, data_tree):
    captured = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"),
                             stage="capture")
    sealed = seal_backup(captured["capture"], dest=str(tmp_path / "b"))
    assert sealed["backup"]["contentSummary"]["paths"][str(data_tree / "conf")]["files"] == 1


def test_nested_differences_name_what_is_missing():
    assert differences({"a": {"x": 1}}, {}) == ["a x: the backup holds 1, the restored instance nothing"]
    assert differences({}, {"b": 2}) == ["b: the backup holds nothing, the restored instance 2"]
