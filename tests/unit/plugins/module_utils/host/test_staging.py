# -*- coding: utf-8 -*-
"""A restore is staged beside its targets in one verifying pass, committed only when the whole backup
verified, discarded otherwise, and recovered when a run was killed while staging or committing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError, RestoreError
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import open_part_reader
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import COMMITTING, JOURNAL, Staging
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.services import control_services
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider


def snapshot(root):
    """Every path under ``root`` with its content (files) or link target, to compare states."""
    found = {}
    for directory, dirs, names in os.walk(str(root)):
        for name in dirs + names:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                found[path] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                found[path] = open(path, "rb").read()
            else:
                found[path] = "dir"
    return found


def test_a_backup_that_fails_verification_leaves_the_target_as_it_was(tmp_path, keystore, data_tree, state_dir):
    """The damaged part is the second one: the first was staged, then everything was discarded."""
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf"), str(data_tree)]},
                         dest=str(tmp_path / "b"))
    target = tmp_path / "target"
    (target / str(data_tree / "conf").lstrip("/")).mkdir(parents=True)
    (target / str(data_tree / "conf" / "app.conf").lstrip("/")).write_text("the old configuration\n")
    before = snapshot(target)
    header = open_backup(made["path"]).header()
    part = os.path.join(made["path"], "parts", header.parts[1]["name"])
    data = bytearray(open(part, "rb").read())
    data[len(data) // 2] ^= 1
    open(part, "wb").write(bytes(data))
    with pytest.raises(IntegrityError, match="nothing was restored"):
        restore_backup(Unlocker(keystore), made["path"], provider_options={"target_root": str(target)},
                       state_dir=state_dir)
    assert snapshot(target) == before
    assert not os.path.exists(os.path.join(state_dir, JOURNAL))


def test_a_restore_killed_while_staging_is_cleaned_up_by_the_next_run(tmp_path, keystore, data_tree, state_dir):
    """The stop command (just before the commit) kills the process: nothing is in place yet."""
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
    target = tmp_path / "target"
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\n[ \"$1\" = stop ] && kill -9 $PPID\nexit 0\n")
    script.chmod(0o755)
    code = textwrap.dedent("""
        import sys
        from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
        from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
        from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
        restore_backup(Unlocker(keys.Keystore(sys.argv[1])), sys.argv[2],
                       provider_options={"target_root": sys.argv[3], "services": ["db"]},
                       stop_command=sys.argv[4] + " stop {service}",
                       start_command=sys.argv[4] + " start {service}", state_dir=sys.argv[5])
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code, keystore.path, made["path"], str(target), str(script),
                           state_dir], env=env, check=False)
    assert proc.returncode == -signal.SIGKILL
    staged = [p for p in snapshot(target) if p.endswith(".drkit-restore")]
    assert staged and os.path.exists(os.path.join(state_dir, JOURNAL))  # prepared, not committed
    result = restore_backup(Unlocker(keystore), made["path"], provider_options={"target_root": str(target)},
                            state_dir=state_dir)
    assert "cleaned up" in " ".join(result["warnings"])
    assert not [p for p in snapshot(target) if p.endswith(".drkit-restore")]
    assert open(os.path.join(str(target), str(data_tree / "blob.bin").lstrip("/")), "rb").read() == \
        (data_tree / "blob.bin").read_bytes()


def test_a_restore_killed_while_committing_is_finished_by_the_next_run(tmp_path, keystore, data_tree, state_dir):
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
    target = tmp_path / "target"
    os.makedirs(state_dir, exist_ok=True)
    source = open_backup(made["path"])
    header = source.header()
    adapter = get_provider("files", {"target_root": str(target)})
    staging = Staging(state_dir)
    unlocker = Unlocker(keystore)
    with worker_pool() as pool:
        handle, reader, part = open_part_reader(source, header, unlocker.data_key(header),
                                                header.parts[0]["name"], pool)
        with handle:
            adapter.stage_part(part, reader, staging)
            reader.drain()
    staging.close()
    open(os.path.join(state_dir, COMMITTING), "w").close()  # the commit had begun when the run died
    blob = os.path.join(str(target), str(data_tree / "blob.bin").lstrip("/"))
    assert not os.path.exists(blob)
    result = restore_backup(unlocker, made["path"], provider_options={"target_root": str(target)},
                            state_dir=state_dir)
    assert "was finished" in " ".join(result["warnings"])
    assert not result["changed"]  # the recovery had already put everything in place
    assert open(blob, "rb").read() == (data_tree / "blob.bin").read_bytes()
    assert not {JOURNAL, COMMITTING} & set(os.listdir(state_dir))


def test_a_commit_that_fails_is_set_aside_and_never_locks_the_host(tmp_path, keystore, data_tree, state_dir):
    """A step of the commit fails (the stop command puts a directory where a file goes): the restore says what was
    and was not put in place, the services start again, the journal is set aside for inspection, and every later
    operation runs (issue 13, item 1)."""
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
    target = tmp_path / "target"
    blocked = target / str(data_tree / "conf" / "app.conf").lstrip("/")
    log = tmp_path / "svc.log"
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n[ \"$1\" = stop ] && mkdir -p %s/inside\nexit 0\n"
                      % (log, blocked))
    script.chmod(0o755)
    commands = {"stop_command": "%s stop {service}" % script, "start_command": "%s start {service}" % script}
    with pytest.raises(RestoreError) as caught:
        restore_backup(Unlocker(keystore), made["path"], state_dir=state_dir,
                       provider_options={"target_root": str(target), "services": ["db"]}, **commands)
    message = str(caught.value)
    assert "failed while putting its files in place" in message and str(blocked) in message
    assert "were put in place" in message and "were not" in message and "set aside" in message
    assert log.read_text().splitlines() == ["stop db", "start db"]
    assert not os.path.exists(os.path.join(state_dir, JOURNAL))
    assert not os.path.exists(os.path.join(state_dir, COMMITTING))
    assert not [p for p in snapshot(target) if p.endswith(".drkit-restore")]  # nothing prepared is left behind
    info = backup_info(str(tmp_path / "b"), state_dir=state_dir)
    assert len(info["failed_restores"]) == 1 and info["failed_restores"][0]["backup"] == made["backup"]["name"]
    # The host's other operations go on: services, a backup, and a restore elsewhere (the rollback's way).
    assert control_services("started", services=["db"], state_dir=state_dir, **commands)["changed"]
    assert create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b2"),
                         state_dir=state_dir)["changed"]
    again = restore_backup(Unlocker(keystore), made["path"], state_dir=state_dir,
                           provider_options={"target_root": str(tmp_path / "elsewhere")})
    assert again["changed"] and not again.get("warnings")


def test_a_resumed_commit_that_fails_is_set_aside_with_a_warning(tmp_path, keystore, data_tree, state_dir):
    """Killed while committing, then the resumed commit fails: the next operation warns and goes on."""
    made = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
    target = tmp_path / "target"
    staging = Staging(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    with worker_pool() as pool:
        source = open_backup(made["path"])
        header = source.header()
        provider = get_provider("files", {"target_root": str(target)}, verb="restore")
        data_key = Unlocker(keystore).data_key(header)
        for part in header.parts:
            handle, reader, described = open_part_reader(source, header, data_key, part["name"], pool)
            with handle:
                provider.stage_part(described, reader, staging)
    staging.close()
    open(os.path.join(state_dir, COMMITTING), "w").close()  # as a commit killed half-way leaves it
    blocked = target / str(data_tree / "conf" / "app.conf").lstrip("/")
    (blocked / "inside").mkdir(parents=True)
    result = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b2"),
                           state_dir=state_dir)
    assert result["changed"]
    assert any("could not be finished" in warning and "set aside" in warning for warning in result["warnings"])
    assert not os.path.exists(os.path.join(state_dir, JOURNAL))
    assert len(backup_info(str(tmp_path / "b"), state_dir=state_dir)["failed_restores"]) == 1
