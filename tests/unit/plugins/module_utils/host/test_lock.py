# -*- coding: utf-8 -*-
"""One operation at a time per host, with real processes holding, losing and fighting over the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import OperationInProgress, ServiceError
from ansible_collections.drkit.backup.plugins.module_utils.host import state as host_state
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.delete import delete_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.services import control_services

HOLDER = textwrap.dedent("""
    import sys, time
    from ansible_collections.drkit.backup.plugins.module_utils.host import state as host_state
    from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
    with locked_operation(host_state.StateDir(sys.argv[1]), "backup", name="files-full-2030-01-01-00-00-00",
                          stage="capture") as op:
        for service in sys.argv[2:]:
            op.stopping(service)
        print("ready", flush=True)
        time.sleep(600)
""")


def holder(state_dir, *services):
    """A real process that holds the lock (and has 'stopped' ``services``) until it is killed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, state_dir] + list(services), stdout=subprocess.PIPE,
                            env=env)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_second_operation_fails_and_names_the_running_one(state_dir):
    proc = holder(state_dir)
    try:
        with pytest.raises(OperationInProgress) as caught:
            with locked_operation(host_state.StateDir(state_dir), "restore", name="files-full-2029-01-01-00-00-00"):
                pass
        message = str(caught.value)
        assert "cannot start restore of files-full-2029-01-01-00-00-00" in message
        assert "backup files-full-2030-01-01-00-00-00 (pid %d" % proc.pid in message
        assert "stage capture" in message and "wait for it to finish" in message
        status = host_state.StateDir(state_dir).status()
        assert status["operation"]["pid"] == proc.pid and status["operation"]["operation"] == "backup"
        assert status["interrupted"] is None
        with pytest.raises(OperationInProgress):
            host_state.StateDir(state_dir).check_free("a backup")
    finally:
        kill(proc)


def test_a_record_left_by_a_killed_process_is_cleared_with_a_warning(state_dir):
    kill(holder(state_dir))
    state = host_state.StateDir(state_dir)
    assert state.status()["operation"] is None  # the lock is free: nothing is running
    with locked_operation(state, "backup", name="files-full-2031-01-01-00-00-00") as operation:
        assert len(operation.warnings) == 1
        assert "ended without finishing: backup files-full-2030-01-01-00-00-00" in operation.warnings[0]
        assert state.status()["operation"]["name"] == "files-full-2031-01-01-00-00-00"
    assert state.status() == {"state_dir": state_dir, "operation": None, "interrupted": None,
                              "services_stopped": []}
    with locked_operation(state, "backup") as operation:
        assert operation.warnings == []


def test_services_a_killed_run_left_stopped_are_reported_until_started(state_dir, tmp_path):
    kill(holder(state_dir, "db", "web"))
    state = host_state.StateDir(state_dir)
    status = state.status()
    assert status["services_stopped"] == ["db", "web"]
    assert status["interrupted"]["reason"] == "the process ended without finishing"
    with locked_operation(state, "prune") as operation:
        assert "it had stopped db, web, which may still be down" in operation.warnings[0]
    assert state.status()["services_stopped"] == ["db", "web"]  # still reported: nobody started them
    log = tmp_path / "svc.log"
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n" % log)
    script.chmod(0o755)
    started = control_services("started", stop_command="%s stop {service}" % script,
                               start_command="%s start {service}" % script, state_dir=state_dir)
    assert started["services"] == ["web", "db"] and started["changed"]
    assert log.read_text().splitlines() == ["start web", "start db"]
    assert started["services_stopped"] == [] and state.status()["interrupted"] is None
    again = control_services("started", stop_command="x {service}", start_command="x {service}",
                             state_dir=state_dir)
    assert not again["changed"]


def test_a_start_that_fails_keeps_the_service_recorded(state_dir, tmp_path):
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\n[ \"$2\" = db ] && { echo no such unit; exit 5; }\nexit 0\n")
    script.chmod(0o755)
    with pytest.raises(ServiceError, match="start of service db failed .exit 5.: no such unit: start it by hand"):
        control_services("started", services=["db", "web"], stop_command="%s stop {service}" % script,
                         start_command="%s start {service}" % script, state_dir=state_dir)
    status = host_state.StateDir(state_dir).status()
    assert status["services_stopped"] == ["db"]
    assert status["interrupted"]["reason"] == "it ended with services it could not start"


def test_an_unreadable_record_is_treated_as_stale(state_dir):
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, host_state.OPERATION), "w") as handle:
        handle.write("{half a reco")
    with locked_operation(host_state.StateDir(state_dir), "backup") as operation:
        assert "an operation whose record cannot be read" in operation.warnings[0]


def test_reading_the_status_never_makes_an_operation_fail(state_dir):
    state = host_state.StateDir(state_dir)
    with locked_operation(state, "warm-up"):
        pass
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            state.status()

    readers = [threading.Thread(target=poll) for _n in range(2)]
    for reader in readers:
        reader.start()
    try:
        for _n in range(200):
            with locked_operation(state, "backup"):
                pass
    finally:
        stop.set()
        for reader in readers:
            reader.join()


def test_the_record_is_private_and_canonical(state_dir):
    with locked_operation(host_state.StateDir(state_dir), "backup", name="n", dest="/x") as operation:
        operation.stopping("db")
        path = os.path.join(state_dir, host_state.OPERATION)
        assert os.stat(state_dir).st_mode & 0o777 == 0o700
        assert os.stat(path).st_mode & 0o777 == 0o600
        record = json.loads(open(path).read())
        assert record["services_stopped"] == ["db"] and record["dest"] == "/x" and record["pid"] == os.getpid()
        operation.started("db")
    assert not os.path.exists(path)


def test_state_dir_must_be_absolute():
    with pytest.raises(Exception, match="absolute"):
        host_state.StateDir("relative/state")


def test_a_backup_while_another_runs_fails_before_touching_anything(state_dir, tmp_path, keystore, data_tree):
    proc = holder(state_dir)
    try:
        with pytest.raises(OperationInProgress, match="cannot start backup: .*files-full-2030-01-01-00-00-00"):
            create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))
        with pytest.raises(OperationInProgress):
            create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"),
                          check_mode=True)
        assert not (tmp_path / "b").exists()
    finally:
        kill(proc)
    assert create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b"))["changed"]


def test_a_killed_offline_backup_leaves_its_services_recorded(state_dir, tmp_path, keystore, data_tree):
    """The stop command kills the process taking the backup: a real crash with the service down."""
    script = tmp_path / "svc.sh"
    log = tmp_path / "svc.log"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n[ \"$1\" = stop ] && kill -9 $PPID\nexit 0\n" % log)
    script.chmod(0o755)
    code = textwrap.dedent("""
        import sys
        from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
        from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
        create_backup(keys.Keystore(sys.argv[1]), "files", {"paths": [sys.argv[2]], "services": ["db"]},
                      dest=sys.argv[3], stop_command=sys.argv[4] + " stop {service}",
                      start_command=sys.argv[4] + " start {service}", state_dir=sys.argv[5])
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code, keystore.path, str(data_tree), str(tmp_path / "b"),
                           str(script), state_dir], env=env, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert log.read_text().splitlines() == ["stop db"]
    info = backup_info(str(tmp_path / "b"), state_dir=state_dir)
    assert info["operation"] is None and info["services_stopped"] == ["db"]
    assert info["interrupted"]["operation"] == "backup" and info["interrupted"]["stage"] == "capture"
    assert info["backups"] == [] and [c["complete"] for c in info["captures"]] == [False]  # the capture it left
    # The next backup goes on, warns, and (stopping and starting db itself) clears the record.
    result = create_backup(
        keystore, "files", {"paths": [str(data_tree)], "services": ["db"]}, dest=str(tmp_path / "b"),
        stop_command="true {service}", start_command="true {service}")
    assert "it had stopped db" in result["warnings"][0]
    assert backup_info(str(tmp_path / "b"), state_dir=state_dir)["services_stopped"] == []


def test_services_stopped_on_purpose_stay_recorded_until_started(state_dir, tmp_path):
    log = tmp_path / "svc.log"
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n" % log)
    script.chmod(0o755)
    commands = {"stop_command": "%s stop {service}" % script, "start_command": "%s start {service}" % script,
                "state_dir": state_dir}
    assert control_services("stopped", ["db", "web"], check_mode=True, **commands)["services"] == ["db", "web"]
    assert not log.exists()
    control_services("stopped", ["db", "web"], **commands)
    status = host_state.StateDir(state_dir).status()
    assert status["services_stopped"] == ["db", "web"] and "on purpose" in status["interrupted"]["reason"]
    assert control_services("started", **commands)["services"] == ["web", "db"]
    assert log.read_text().splitlines() == ["stop db", "stop web", "start web", "start db"]
    assert host_state.StateDir(state_dir).status()["interrupted"] is None
    with pytest.raises(Exception, match="state stopped needs services"):
        control_services("stopped", **commands)


def test_a_capture_left_behind_can_be_deleted_by_name(state_dir, tmp_path, keystore, data_tree):
    captured = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]},
                             dest=str(tmp_path / "b"), stage="capture")
    removed = delete_backup(str(tmp_path / "b"), captured["name"])
    assert removed["changed"] and removed["removed"] == [captured["capture"]]
    assert os.listdir(str(tmp_path / "b")) == []
