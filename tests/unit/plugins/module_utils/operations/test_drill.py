# -*- coding: utf-8 -*-
"""One drill of one backup (DESIGN decisions 18, 26, 28): verify, restore into scratch, check, tear down."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import MARKER, drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from test_verify import damage  # the same changed byte the verification tests use (tests beside it on sys.path)


def steps(result):
    return {step["name"]: step for step in result["drill"]["checks"]}


def test_a_good_backup_passes_every_step_and_leaves_nothing_behind(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
    live = {path: os.stat(path).st_mtime_ns for path in (str(data_tree / "blob.bin"), str(data_tree / "conf"))}
    scratch = str(tmp_path / "drill" / "one")
    checks = [{"name": "the conf is there", "command": {"argv": ["test", "-s", "{root}%s/conf/app.conf" % data_tree]}},
              {"name": "the listen line", "command": {"argv": ["cat", "{root}%s/conf/app.conf" % data_tree],
                                                      "stdout_contains": "listen = 127.0.0.1"}}]
    result = drill_backup(Unlocker(keystore), made["path"], scratch, checks=checks)
    drill = result["drill"]
    assert [(step["name"], step["kind"], step["passed"]) for step in drill["checks"]] == [
        ("verify", "verify", True), ("restore", "restore", True), ("health", "health", True),
        ("files", "provider", True), ("content", "content", True),
        ("the conf is there", "command", True), ("the listen line", "command", True)]
    assert drill["passed"] and drill["torn_down"] and not os.path.exists(scratch)
    assert drill["backup"] == made["backup"]["name"] and drill["created"] == made["backup"]["createdAt"]
    assert 0 <= drill["restore_seconds"] <= drill["healthy_seconds"] and drill["size"] > 3 * 1024 * 1024
    assert "holds what the backup says" in steps(result)["content"]["message"]
    assert {path: os.stat(path).st_mtime_ns for path in live} == live  # the live data was never written
    assert not result["changed"]


def test_check_mode_plans_and_writes_nothing(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
    scratch = str(tmp_path / "scratch")
    result = drill_backup(Unlocker(keystore), made["path"], scratch, check_mode=True)
    assert result["drill"] is None and "remove %s" % scratch in result["plan"] and not os.path.exists(scratch)


def test_a_changed_byte_fails_verification_naming_the_part_and_is_recorded(tmp_path, keystore, data_tree):
    root = tmp_path / "b"
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(root))
    damage(made["path"])
    part = open_backup(made["path"]).header().parts[0]["name"]
    scratch = str(tmp_path / "scratch")
    drill = drill_backup(Unlocker(keystore), made["path"], scratch)["drill"]
    assert [step["name"] for step in drill["checks"]] == ["verify"]
    assert not drill["passed"] and part in drill["checks"][0]["message"]
    assert drill["torn_down"] and not os.path.exists(scratch)
    assert backup_info(str(root))["backups"][0]["status"] == "failed_verification"


def test_a_restore_missing_data_fails_the_content_check(tmp_path, keystore, data_tree, monkeypatch):
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(root := tmp_path / "b"))
    # The restored instance is counted through the provider: one file fewer than the summary says.
    from ansible_collections.drkit.backup.plugins.module_utils.providers.files.provider import FilesProvider
    counted = FilesProvider.count

    def count_one_fewer(self, summary=None):
        found = counted(self, summary)
        found["paths"][str(data_tree)]["files"] -= 1
        return found

    monkeypatch.setattr(FilesProvider, "count", count_one_fewer)
    drill = drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "scratch"))["drill"]
    content = [step for step in drill["checks"] if step["name"] == "content"][0]
    assert not content["passed"] and not drill["passed"]
    assert "the backup holds 3, the restored instance 2" in content["message"] and str(data_tree) in content["message"]
    assert root.is_dir()


def test_a_backup_without_a_content_summary_fails_unless_allowed(tmp_path, keystore, data_tree, monkeypatch):
    from ansible_collections.drkit.backup.plugins.module_utils.providers.files.provider import FilesProvider
    monkeypatch.setattr(FilesProvider, "content_summary", lambda self: {})
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    refused = steps(drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "s")))["content"]
    assert not refused["passed"] and "no content summary" in refused["message"]
    allowed = steps(drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "s"), allow_no_summary=True))
    assert allowed["content"]["passed"]


def test_a_failing_user_check_fails_the_drill_with_its_output_and_no_secret(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    script = tmp_path / "check.py"
    script.write_text("import sys; print('wrong password hunter2'); sys.exit(3)\n")
    checks = [{"name": "app answers", "command": {"argv": [sys.executable, str(script)]}}]
    drill = drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "s"), checks=checks,
                         check_secrets={"app": "hunter2"})["drill"]
    failed = [step for step in drill["checks"] if not step["passed"]]
    assert [step["name"] for step in failed] == ["app answers"] and not drill["passed"]
    assert "exited 3" in failed[0]["message"] and "hunter2" not in json.dumps(drill)


def test_scratch_targets_that_touch_live_data_are_refused_before_anything_is_written(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    before = sorted(os.listdir(str(data_tree / "conf")))
    for scratch, reason in ((str(data_tree / "conf" / "drill"), "overlap"), (str(data_tree), "overlap"),
                            (str(tmp_path / "b"), "is not a drill's"), ("/", "overlap|cannot be /"),
                            ("relative/dir", "absolute")):
        with pytest.raises(InvalidInput, match=reason):
            drill_backup(Unlocker(keystore), made["path"], scratch)
    assert sorted(os.listdir(str(data_tree / "conf"))) == before and os.path.isdir(str(tmp_path / "b"))


def test_a_scratch_dir_left_by_a_killed_drill_is_taken_again(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    scratch = tmp_path / "s"
    (scratch / "root" / "leftover").mkdir(parents=True)
    (scratch / MARKER).write_text("")
    drill = drill_backup(Unlocker(keystore), made["path"], str(scratch))["drill"]
    assert drill["passed"] and not scratch.exists()


def test_bad_checks_are_refused_by_name(tmp_path, keystore, data_tree):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    for checks, reason in (([{"command": {"argv": ["true"]}}], "needs a name"),
                           ([{"name": "x", "command": {"argv": "true"}}], "list of words"),
                           ([{"name": "x", "shell": {}}], "exactly one of"),
                           ([{"name": "x", "http": {"url": "http://x", "verify": False}}], "unknown setting verify"),
                           ([{"name": "x", "sql": {"engine": "oracle", "query": "1", "expect": "1"}}], "postgresql or mysql"),
                           ([{"name": "x", "command": {"argv": ["true"]}}] * 2, "two checks are named")):
        with pytest.raises(InvalidInput, match=reason):
            drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "s"), checks=checks)
    assert not (tmp_path / "s").exists()
