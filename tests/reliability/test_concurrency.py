# -*- coding: utf-8 -*-
"""Two operations at once on one host, as real processes: a backup held while its services are down, then
a restore held while it commits. Whatever comes second (a backup, a restore, starting services) is refused
with a message naming the first (operation, backup, pid, start time), and the first finishes unharmed."""

from __future__ import annotations

import time

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from procs import finish, run_module, start_module
from test_crashes import fill

HOLDCTL = """#!/bin/sh
# holdctl stop|start SERVICE: stop says it is holding, then waits (60 s at most) for the file release.
if [ "$1" = stop ]; then
  touch %(dir)s/holding
  i=0
  while [ ! -e %(dir)s/release ] && [ "$i" -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
fi
"""


@pytest.fixture()
def hold(tmp_path):
    directory = tmp_path / "hold"
    directory.mkdir()
    script = directory / "holdctl"
    script.write_text(HOLDCTL % {"dir": directory})
    script.chmod(0o755)

    class Hold:
        commands = {"stop_command": "%s stop {service}" % script, "start_command": "%s start {service}" % script}

        @staticmethod
        def wait():
            deadline = time.monotonic() + 60
            while not (directory / "holding").exists():
                assert time.monotonic() < deadline, "the first operation never reached its stop command"
                time.sleep(0.05)

        @staticmethod
        def release():
            (directory / "release").touch()

    return Hold


def refused(result, first, what):
    """A failure that names the running operation: its kind, its backup, its pid and when it started."""
    record = first["record"]
    msg = result.msg
    words = ["another drkit.backup operation is running", "%s %s" % (record["operation"], record["name"]),
             "pid %d" % first["pid"], "started %s" % record["started_at"]]
    missing = [word for word in words if word not in msg]
    assert not result.ok and not missing, "%s was not refused naming the first (%s): %r" % (what, missing, result)


def test_a_second_operation_is_refused_naming_the_first(tmp_path, keystore_module, hold, tally):
    data = tmp_path / "data"
    fill(str(data), [("app.conf", b"realm = EXAMPLE.TEST\n" * 100, 0o600)])
    state, dest, work = str(tmp_path / "state"), str(tmp_path / "backups"), str(tmp_path / "work")
    common = {"keystore": keystore_module.path, "state_dir": state}
    backup = dict(common, provider="files", dest=dest, provider_options={"paths": [str(data)]})
    existing = create_backup(keystore_module, "files", {"paths": [str(data)]}, dest=dest,
                             state_dir=state)["path"]
    target = str(tmp_path / "target")
    restore = dict(common, backup=existing, provider_options={"target_root": target, "services": ["held"]},
                   **hold.commands)

    for first_args, module, seconds in ((dict(backup, provider_options={"paths": [str(data)], "services": ["held"]},
                                              **hold.commands), "backup", ["backup", "restore", "backup_services"]),
                                        (restore, "restore", ["backup", "restore"])):
        (tmp_path / "hold" / "holding").unlink(missing_ok=True)
        (tmp_path / "hold" / "release").unlink(missing_ok=True)
        proc = start_module(module, first_args, work)
        try:
            hold.wait()
            status = backup_info(dest, state_dir=state)["operation"]
            assert status and status["pid"] == proc.pid and status["operation"] == module, status
            first = {"pid": proc.pid, "record": status}
            for second in seconds:
                tally["faults injected"] += 1
                args = {"backup": dict(backup, online=True), "restore": dict(restore, provider_options={
                    "target_root": target}), "backup_services": {"state": "started", "state_dir": state}}[second]
                refused(run_module(second, args, work), first, "%s during a %s" % (second, module))
                tally["concurrent runs refused"] += 1
                tally["faults survived"] += 1
        finally:
            hold.release()
            done = finish(proc)
        assert done.ok, done
    # Once the first is done, the same runs go through, and nothing was damaged.
    assert run_module("backup", dict(backup, online=True), work).ok
    info = backup_info(dest, "full", Unlocker(keystore_module), state_dir=state)
    assert info["verified"] and info["operation"] is None and not info["interrupted"], info
