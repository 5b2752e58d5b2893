# -*- coding: utf-8 -*-
"""Backup, listing, deletion and failures on the real file system (full disk on a real tmpfs)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    CaptureError, InvalidInput, NoSpace, ServiceError)
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.delete import delete_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

needs_root = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                                reason="mounting a tmpfs needs root")


@contextlib.contextmanager
def tmpfs(path, size, options=""):
    os.makedirs(str(path), exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s%s" % (size, options), "tmpfs", str(path)], check=True)
    try:
        yield str(path)
    finally:
        subprocess.run(["umount", str(path)], check=True)


def backup(keystore, paths, dest, **kwargs):
    return create_backup(keystore, "files", {"paths": [str(p) for p in paths]}, dest=str(dest), **kwargs)


def test_max_age_skips_a_recent_backup_of_the_same_kind(tmp_path, keystore, data_tree):
    first = backup(keystore, [data_tree], tmp_path / "b", max_age=3600)
    again = backup(keystore, [data_tree], tmp_path / "b", max_age=3600)
    assert first["changed"] and not again["changed"] and again["path"] == first["path"]
    other = backup(keystore, [data_tree / "conf"], tmp_path / "b", max_age=3600)
    assert other["changed"] and other["path"] != first["path"]
    assert backup(keystore, [data_tree], tmp_path / "b")["changed"]  # max_age 0 always backs up


def test_nothing_to_save_is_reported_and_nothing_is_written(tmp_path, keystore, data_tree):
    """A safety copy on a fresh host (issue 13 item 5): the product is not there, so report it, not fail."""
    missing = [tmp_path / "fresh" / "etc", tmp_path / "fresh" / "var"]
    with pytest.raises(InvalidInput, match="does not exist"):
        backup(keystore, missing, tmp_path / "b")
    reported = backup(keystore, missing, tmp_path / "b", if_nothing_to_save="report")
    assert not reported["changed"] and reported["path"] is None
    assert "no path to back up exists on this host (%s" % missing[0] in reported["nothing_to_save"]
    assert not os.path.exists(str(tmp_path / "b"))
    unconfigured = create_backup(keystore, "freeipa", {"root": str(tmp_path / "fresh-idm")}, dest=str(tmp_path / "b"),
                                 if_nothing_to_save="report")
    assert "IdM is not configured on this host" in unconfigured["nothing_to_save"] and not unconfigured["changed"]
    # With something to save, report changes nothing: a backup is taken.
    taken = backup(keystore, [data_tree], tmp_path / "b", if_nothing_to_save="report")
    assert taken["changed"] and "nothing_to_save" not in taken


def test_names_never_collide(tmp_path, keystore, data_tree):
    paths = {backup(keystore, [data_tree / "empty"], tmp_path / "b")["path"] for _attempt in range(3)}
    assert len(paths) == 3


def test_check_mode_writes_nothing(tmp_path, keystore, data_tree):
    result = backup(keystore, [data_tree], tmp_path / "b", check_mode=True)
    assert result["changed"] and not (tmp_path / "b").exists()


def test_delete_one_backup(tmp_path, keystore, data_tree):
    first = backup(keystore, [data_tree / "empty"], tmp_path / "b")
    second = backup(keystore, [data_tree / "empty"], tmp_path / "b")
    name = os.path.basename(first["path"])
    assert delete_backup(str(tmp_path / "b"), name, check_mode=True)["changed"]
    assert os.path.exists(first["path"])
    assert delete_backup(str(tmp_path / "b"), name)["changed"]
    assert not os.path.exists(first["path"]) and os.path.exists(second["path"])
    assert not delete_backup(str(tmp_path / "b"), name)["changed"]


def test_listing_shows_partials_as_incomplete_and_host_copies(tmp_path, keystore, data_tree):
    root = tmp_path / "b"
    done = backup(keystore, [data_tree / "empty"], root)
    (root / ".files-full-2030-01-01-00-00-00.partial" / "parts").mkdir(parents=True)
    host_copy = root / "idm2.example.test"
    host_copy.mkdir()
    shutil.copytree(done["path"], str(host_copy / os.path.basename(done["path"])))
    info = backup_info(str(root), "checksum", Unlocker(keystore))
    statuses = sorted((b["status"], os.path.dirname(b["path"]) == str(host_copy)) for b in info["backups"])
    assert statuses == [("complete", False), ("complete", True), ("incomplete", False)]
    assert info["verified"] and info["problems"] == []
    with pytest.raises(InvalidInput, match="incomplete backup"):
        backup_info(str(root / ".files-full-2030-01-01-00-00-00.partial"))


def test_dest_that_is_a_file_is_refused(tmp_path, keystore, data_tree):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="not a directory"):
        backup(keystore, [data_tree], tmp_path / "file")


@needs_root
def test_read_only_dest_is_refused(tmp_path, keystore, data_tree):
    with tmpfs(tmp_path / "ro", "1m", ",ro") as dest:
        with pytest.raises(InvalidInput, match="not writable"):
            backup(keystore, [data_tree], dest)


@needs_root
def test_full_disk_removes_the_partial_and_keeps_earlier_backups(tmp_path, keystore, data_tree, pool):
    big = tmp_path / "big"
    big.mkdir()
    (big / "random.bin").write_bytes(os.urandom(6 * 1024 * 1024))
    with tmpfs(tmp_path / "small", "4m") as dest:
        earlier = backup(keystore, [data_tree / "conf"], dest)
        with pytest.raises(NoSpace) as caught:
            backup(keystore, [big], dest)
        assert dest in str(caught.value) and "earlier backups are untouched" in str(caught.value)
        assert os.listdir(dest) == [os.path.basename(earlier["path"])]
        assert backup_info(dest, "full", Unlocker(keystore))["verified"]


def service_script(tmp_path, body=""):
    """A stop/start command that logs what it was asked to do (the real command runs; no mocks)."""
    log = tmp_path / "service.log"
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n%s\n" % (log, body))
    script.chmod(0o755)
    return str(script), log


def test_offline_backup_stops_and_starts_services_in_order(tmp_path, keystore, data_tree):
    script, log = service_script(tmp_path)
    result = create_backup(
        keystore, "files", {"paths": [str(data_tree)], "services": ["db", "web"]}, dest=str(tmp_path / "b"),
        stop_command=script + " stop {service}", start_command=script + " start {service}")
    assert log.read_text().split("\n")[:4] == ["stop db", "stop web", "start web", "start db"]
    assert result["services_stopped"] == ["db", "web"]
    assert 0 < result["downtime_seconds"] <= result["duration_seconds"]


def test_services_are_started_again_when_capture_fails(tmp_path, keystore, data_tree):
    """The stop command removes the data, so the capture fails while the services are down."""
    script, log = service_script(tmp_path, 'if [ "$1" = stop ]; then rm -rf %s; fi' % (data_tree / "conf"))
    with pytest.raises(CaptureError, match="No such file or directory.*services were started again"):
        create_backup(
            keystore, "files", {"paths": [str(data_tree / "conf")], "services": ["db"]}, dest=str(tmp_path / "b"),
            stop_command=script + " stop {service}", start_command=script + " start {service}")
    assert log.read_text().split() == ["stop", "db", "start", "db"]
    assert os.listdir(str(tmp_path / "b")) == []


def test_a_failing_start_is_reported(tmp_path, keystore, data_tree):
    script, _log = service_script(tmp_path, 'if [ "$1" = start ]; then echo cannot start >&2; exit 3; fi')
    with pytest.raises(ServiceError, match="start of service db failed .exit 3.: cannot start: start it by hand"):
        create_backup(
            keystore, "files", {"paths": [str(data_tree)], "services": ["db"]}, dest=str(tmp_path / "b"),
            stop_command=script + " stop {service}", start_command=script + " start {service}")
