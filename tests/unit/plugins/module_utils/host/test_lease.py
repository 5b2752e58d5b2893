# -*- coding: utf-8 -*-
"""A lease holds a host across a sequence of calls; every other writer waits (issue 13, item 8)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import OperationInProgress
from ansible_collections.drkit.backup.plugins.module_utils.host.state import LEASE
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.keys import key_absent
from ansible_collections.drkit.backup.plugins.module_utils.operations.lease import control_lease
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.prune import prune_backups
from ansible_collections.drkit.backup.plugins.module_utils.operations.rekey import rekey_backups
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.services import control_services
from ansible_collections.drkit.backup.plugins.module_utils.operations.verify import verify_backups
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


def take(state_dir, seconds=600):
    return control_lease(holder="restore role on ctl", purpose="restore of files-x", seconds=seconds,
                         state_dir=state_dir)["lease"]


def test_while_a_lease_lasts_every_other_writer_is_refused_by_name(tmp_path, keystore, data_tree, state_dir):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"))
    lease = take(state_dir)
    refused = "held by a lease for restore of files-x .holder restore role on ctl"
    attempts = [
        lambda **kw: create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"), **kw),
        lambda **kw: prune_backups(str(tmp_path / "b"), keep_last=1, **kw),
        lambda **kw: pack_backup(made["path"], str(tmp_path / "packed"), **kw),
        lambda **kw: control_services("stopped", ["db"], stop_command="true {service}",
                                      start_command="true {service}", **kw),
        lambda **kw: key_absent(keystore.path, key_id=keystore.keys()[0].id, force=True, **kw),
        lambda **kw: restore_backup(Unlocker(keystore), made["path"], provider_options={
            "target_root": str(tmp_path / "t")}, **kw),
        lambda **kw: rekey_backups(Unlocker(keystore), made["path"], [keystore.keys()[0].id], **kw),
        lambda **kw: verify_backups(made["path"], "checksum", **kw),
    ]
    for number, attempt in enumerate(attempts):
        for check_mode in (True, False):
            with pytest.raises(OperationInProgress, match=refused):
                attempt(state_dir=state_dir, check_mode=check_mode)
                pytest.fail("attempt %d (check mode %s) went through" % (number, check_mode))
    assert not (tmp_path / "t").exists() and keystore.keys()
    # The holder's own calls go through, and renew the lease.
    before = json.load(open(os.path.join(state_dir, LEASE)))["expires_at"]
    done = restore_backup(Unlocker(keystore), made["path"], provider_options={"target_root": str(tmp_path / "t")},
                          state_dir=state_dir, lease_id=lease["id"])
    assert done["changed"] and json.load(open(os.path.join(state_dir, LEASE)))["expires_at"] > before
    assert control_lease("absent", lease_id=lease["id"], state_dir=state_dir)["changed"]
    assert prune_backups(str(tmp_path / "b"), keep_last=1, state_dir=state_dir)["kept"]


def test_a_lapsed_lease_frees_the_host_and_its_holder_hears_it_lost_it(tmp_path, keystore, data_tree, state_dir):
    lease = take(state_dir)
    path = os.path.join(state_dir, LEASE)
    record = json.load(open(path))
    record["expires_at"] = "2000-01-01T00:00:00.000000Z"  # as if the controller died long ago
    open(path, "w").write(json.dumps(record))
    assert create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"),
                         state_dir=state_dir)["changed"]
    with pytest.raises(OperationInProgress, match="has expired or was released"):
        control_services("started", ["db"], stop_command="true {service}", start_command="true {service}",
                         state_dir=state_dir, lease_id=lease["id"])


def test_a_lease_is_released_by_its_holder_or_by_force_only(state_dir):
    lease = take(state_dir)
    with pytest.raises(OperationInProgress, match="held by a lease"):
        take(state_dir)
    with pytest.raises(OperationInProgress, match="held by a lease"):
        control_lease("absent", lease_id="not-it", state_dir=state_dir)
    renewed = control_lease(holder="restore role on ctl", purpose="restore of files-x", lease_id=lease["id"],
                            state_dir=state_dir)
    assert not renewed["changed"] and renewed["lease"]["id"] == lease["id"]
    assert control_lease("absent", force=True, state_dir=state_dir, check_mode=True)["changed"]
    assert control_lease("absent", force=True, state_dir=state_dir)["lease"]["id"] == lease["id"]
    assert not control_lease("absent", lease_id=lease["id"], state_dir=state_dir)["changed"]
