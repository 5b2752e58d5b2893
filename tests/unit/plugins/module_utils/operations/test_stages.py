# -*- coding: utf-8 -*-
"""The two stages of a backup: capture (services down) and seal (services up), alone and composed."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, IntegrityError, InvalidInput, NoSpace)
from ansible_collections.drkit.backup.plugins.module_utils.format.names import SCHEME_NONE
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.host import capture as host_capture
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.stages import seal_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from test_backup import needs_root, service_script, tmpfs


def offline(keystore, data_tree, tmp_path, **kwargs):
    script, log = service_script(tmp_path, "date +%%s.%%N >> %s" % (tmp_path / "times.log"))
    kwargs.setdefault("dest", str(tmp_path / "b"))
    result = create_backup(
        keystore, "files", {"paths": [str(data_tree)], "services": ["db", "web"]},
        stop_command=script + " stop {service}", start_command=script + " start {service}", **kwargs)
    return result, log


def test_capture_stops_services_only_while_it_copies_and_seal_runs_with_them_up(tmp_path, keystore, data_tree,
                                                                                state_dir):
    captured, log = offline(keystore, data_tree, tmp_path, stage="capture")
    # The capture returned: the services are up again, and no backup exists yet.
    assert log.read_text().splitlines() == ["stop db", "stop web", "start web", "start db"]
    assert captured["changed"] and captured["stage"] == "capture" and captured["path"] is None
    assert captured["services_stopped"] == ["db", "web"] and captured["downtime_seconds"] > 0
    capture = captured["capture"]
    # Raw and unencrypted, it stays off the backup root: in the host's private state directory (issue 13, item 3).
    assert capture == os.path.join(state_dir, "captures", ".%s.capture" % captured["name"])
    assert stat.S_IMODE(os.stat(capture).st_mode) == 0o700
    assert len(os.listdir(os.path.join(capture, "raw"))) == 1 and os.path.isfile(os.path.join(capture, "capture.json"))
    assert captured["size"] >= 3 * 1024 * 1024
    info = backup_info(str(tmp_path / "b"), state_dir=state_dir)
    assert info["backups"] == [] and [(c["name"], c["complete"]) for c in info["captures"]] == [(captured["name"], True)]
    record = open(os.path.join(capture, "capture.json"), "rb").read()

    sealed = seal_backup(capture)
    assert sealed["changed"] and sealed["path"] == str(tmp_path / "b" / captured["name"])
    assert sealed["downtime_seconds"] == captured["downtime_seconds"]  # carried over from the capture
    assert sealed["backup"]["online"] is False and sealed["backup"]["provider"]["services"] == ["db", "web"]
    assert not os.path.exists(capture)
    assert log.read_text().count("\n") == 4  # sealing stopped nothing
    assert backup_info(sealed["path"], "full", Unlocker(keystore))["verified"]
    # The capture record never held the data key in clear, and its capture key went with it.
    data_key = Unlocker(keystore).data_key(open_backup(sealed["path"]).header())
    assert base64.b64encode(data_key) not in record and b'"dataKey"' not in record
    assert os.listdir(os.path.join(keystore.path, "captures")) == []
    assert backup_info(str(tmp_path / "b"), state_dir=state_dir)["captures"] == []

    again = seal_backup(capture, dest=str(tmp_path / "b"))
    assert not again["changed"] and again["path"] == sealed["path"]
    with pytest.raises(InvalidInput, match="sealed or removed already"):
        seal_backup(capture)


def test_an_offline_backup_is_the_capture_then_the_seal(tmp_path, keystore, data_tree):
    result, log = offline(keystore, data_tree, tmp_path)
    assert result["stage"] == "all" and result["capture"] is None
    assert log.read_text().splitlines() == ["stop db", "stop web", "start web", "start db"]
    assert os.listdir(str(tmp_path / "b")) == [os.path.basename(result["path"])]  # no capture left behind
    assert 0 < result["downtime_seconds"] < result["duration_seconds"]
    restored = tmp_path / "restored"
    restore_backup(Unlocker(keystore), result["path"], provider_options={"target_root": str(restored)})
    assert (restored / str(data_tree).lstrip("/") / "blob.bin").read_bytes() == (data_tree / "blob.bin").read_bytes()


def test_the_capture_can_go_to_another_temporary_directory(tmp_path, keystore, data_tree):
    captured, _log = offline(keystore, data_tree, tmp_path, stage="capture", temp_dir=str(tmp_path / "scratch"))
    assert os.path.dirname(captured["capture"]) == str(tmp_path / "scratch")
    assert captured["dest"] == str(tmp_path / "b")
    sealed = seal_backup(captured["capture"])
    assert os.path.dirname(sealed["path"]) == str(tmp_path / "b")
    assert os.listdir(str(tmp_path / "scratch")) == []


def test_check_mode_gives_the_plan(tmp_path, keystore, data_tree):
    plan, log = offline(keystore, data_tree, tmp_path, stage="capture", check_mode=True)
    assert plan["changed"] and plan["services"] == ["db", "web"] and not log.exists()
    space = plan["space"]
    assert space["estimated_bytes"] >= 3 * 1024 * 1024 and space["enough"]
    # capture and backup on one file system: both need room
    assert space["dest"]["needed_bytes"] == space["temp_dir"]["needed_bytes"] == 2 * space["estimated_bytes"]
    assert not (tmp_path / "b").exists()
    sealed = seal_backup(offline(keystore, data_tree, tmp_path, stage="capture")[0]["capture"],
                         check_mode=True)
    assert sealed["changed"] and sealed["path"] is None


def test_max_age_skips_the_capture(tmp_path, keystore, data_tree):
    first, _log = offline(keystore, data_tree, tmp_path, max_age=3600)
    again, log = offline(keystore, data_tree, tmp_path, stage="capture", max_age=3600)
    assert not again["changed"] and again["capture"] is None and again["path"] == first["path"]
    assert log.read_text().count("stop") == 2  # only the first run stopped anything


def test_a_damaged_or_foreign_capture_is_refused(tmp_path, keystore, data_tree):
    captured, _log = offline(keystore, data_tree, tmp_path, stage="capture")
    capture = captured["capture"]
    raw = os.path.join(capture, "raw")
    part = os.listdir(raw)[0]
    os.rename(os.path.join(raw, part), os.path.join(tmp_path, part))
    with pytest.raises(IntegrityError, match="lacks its part"):
        seal_backup(capture)
    os.rename(os.path.join(tmp_path, part), os.path.join(raw, part))
    record_path = os.path.join(capture, "capture.json")
    record = open(record_path, "rb").read()
    with open(record_path, "wb") as handle:
        handle.write(record.replace(b'"version":2', b'"version":9'))
    with pytest.raises(FormatError, match="not a capture record"):
        seal_backup(capture)
    os.unlink(record_path)
    with pytest.raises(InvalidInput, match="its capture was interrupted"):
        seal_backup(capture)
    with pytest.raises(InvalidInput, match="is not a capture"):
        seal_backup(str(tmp_path))


def test_a_failed_capture_leaves_nothing_and_starts_the_services(tmp_path, keystore, data_tree):
    script, log = service_script(tmp_path, 'if [ "$1" = stop ]; then rm -rf %s; fi' % (data_tree / "conf"))
    with pytest.raises(Exception, match="services were started again"):
        create_backup(keystore, "files", {"paths": [str(data_tree / "conf")], "services": ["db"]},
                      dest=str(tmp_path / "b"), stage="capture",
                      stop_command=script + " stop {service}", start_command=script + " start {service}")
    assert log.read_text().split() == ["stop", "db", "start", "db"]
    assert os.listdir(str(tmp_path / "b")) == []


def test_unencrypted_staged_backup(tmp_path, keystore, data_tree):
    captured = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]},
                             dest=str(tmp_path / "b"), stage="capture", encryption="none")
    record = json.loads(open(os.path.join(captured["capture"], "capture.json")).read())
    assert record["dataKeyWrapped"] is None and record["keySlots"] == []
    sealed = seal_backup(captured["capture"])
    assert sealed["backup"]["encryption"]["scheme"] == SCHEME_NONE
    assert backup_info(sealed["path"], "full")["verified"]


@needs_root
def test_a_temporary_directory_too_small_is_refused_before_anything_stops(tmp_path, keystore, data_tree):
    with tmpfs(tmp_path / "small", "1m") as small:
        with pytest.raises(NoSpace, match="nothing was stopped or written.*temp_dir"):
            offline(keystore, data_tree, tmp_path, temp_dir=small)
        assert not (tmp_path / "service.log").exists()
        plan, _log = offline(keystore, data_tree, tmp_path, temp_dir=small, check_mode=True)
        assert not plan["space"]["enough"]


@needs_root
def test_a_full_disk_while_sealing_removes_the_capture(tmp_path, keystore):
    big = tmp_path / "big"
    big.mkdir()
    (big / "random.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    with tmpfs(tmp_path / "small", "2m") as small:
        captured = create_backup(keystore, "files", {"paths": [str(big)]}, dest=small, stage="capture",
                                 temp_dir=str(tmp_path / "scratch"))
        with pytest.raises(NoSpace, match="the capture .* was removed: take the backup again"):
            seal_backup(captured["capture"])
        assert not os.path.exists(captured["capture"]) and os.listdir(small) == []


def test_an_abandoned_capture_is_reported_then_removed_with_its_key(tmp_path, keystore, data_tree, state_dir,
                                                                    monkeypatch):
    """Unencrypted raw data never waits for ever: past host/capture.py's MAX_AGE the next operation removes it."""
    captured, _log = offline(keystore, data_tree, tmp_path, stage="capture")
    listed = backup_info(str(tmp_path / "b"), state_dir=state_dir)["captures"]
    assert listed[0]["capture"] == captured["capture"] and listed[0]["expires_in_seconds"] > 3600
    monkeypatch.setattr(host_capture, "MAX_AGE", -1)
    later = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"),
                          online=True)
    assert any("was abandoned" in warning and captured["capture"] in warning for warning in later["warnings"])
    assert not os.path.exists(captured["capture"])
    assert os.listdir(os.path.join(keystore.path, "captures")) == []
    assert backup_info(str(tmp_path / "b"), state_dir=state_dir)["captures"] == []
