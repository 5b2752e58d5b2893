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

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import open_part_reader
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import COMMITTING, JOURNAL, Staging
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
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
