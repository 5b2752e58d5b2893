# -*- coding: utf-8 -*-
"""drkit-backup, the command timers and cron run (DESIGN decision 32): its steps are the collection's modules, run as
Ansible runs them; exit 0, 1, or 75 when nothing ran because something else holds the host; a record of each run."""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils import scheduled


def job_file(tmp_path, steps, name="nightly"):
    path = tmp_path / "jobs" / (name + ".json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"schema_version": 1, "job": name, "kind": "backup",
                                "state_dir": str(tmp_path / "state"), "steps": steps}, indent=2))
    return str(path)


def backup_steps(tmp_path, **backup):
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "users.csv").write_text("alice\n")
    args = dict({"provider": "files", "provider_options": {"paths": [str(tmp_path / "app")]},
                 "dest": str(tmp_path / "backups"), "encryption": "none", "state_dir": str(tmp_path / "state")},
                **backup)
    return [{"module": "backup", "args": args},
            {"module": "backup_prune", "args": {"path": str(tmp_path / "backups"), "keep_last": 1,
                                                "state_dir": str(tmp_path / "state")}}]


def record(tmp_path, name="nightly"):
    return json.loads((tmp_path / "state" / "schedule" / (name + ".json")).read_text())


def test_a_run_backs_up_then_prunes_says_so_and_leaves_its_record(tmp_path, capsys):
    path = job_file(tmp_path, backup_steps(tmp_path))
    assert scheduled.main(["run", path]) == scheduled.OK
    assert scheduled.main(["run", path]) == scheduled.OK
    out = capsys.readouterr().out
    assert "job nightly: backup files-full-" in out and ": written (" in out
    assert "job nightly: prune: kept 1, removed 1" in out
    assert len([name for name in os.listdir(tmp_path / "backups") if name.startswith("files-")]) == 1
    done = record(tmp_path)
    assert (done["status"], done["exit_status"]) == ("ok", 0)
    assert [step["step"] for step in done["steps"]] == ["backup", "backup_prune"]
    assert oct(os.stat(tmp_path / "state" / "schedule").st_mode & 0o777) == "0o700"


def test_check_runs_the_modules_in_check_mode_and_writes_nothing(tmp_path, capsys):
    path = job_file(tmp_path, backup_steps(tmp_path))
    assert scheduled.main(["check", path]) == scheduled.OK
    assert not (tmp_path / "backups").exists() or not os.listdir(tmp_path / "backups")
    assert not (tmp_path / "state" / "schedule").exists()
    wrong = job_file(tmp_path, backup_steps(tmp_path, provider_options={"pathz": ["/etc"]}), name="wrong")
    assert scheduled.main(["check", wrong]) == scheduled.FAILED
    assert "job wrong: backup failed: " in capsys.readouterr().err


def test_a_failed_step_fails_the_run_and_the_steps_after_it_do_not_run(tmp_path, capsys):
    steps = backup_steps(tmp_path, provider_options={"paths": [str(tmp_path / "missing")]})
    assert scheduled.main(["run", job_file(tmp_path, steps)]) == scheduled.FAILED
    done = record(tmp_path)
    assert (done["status"], done["exit_status"]) == ("failed", 1)
    assert [step["step"] for step in done["steps"]] == ["backup"]
    assert "job nightly: backup failed: " in capsys.readouterr().err


def test_with_a_log_file_output_goes_there_and_only_a_failure_to_standard_error(tmp_path, capsys):
    log = tmp_path / "log" / "nightly.log"
    assert scheduled.main(["run", job_file(tmp_path, backup_steps(tmp_path)), "--log", str(log)]) == scheduled.OK
    assert capsys.readouterr() == ("", "")
    assert "INFO job nightly: backup files-full-" in log.read_text()
    assert scheduled.main(["run", str(tmp_path / "nope.json"), "--log", str(log)]) == scheduled.FAILED
    assert "cannot read job file %s" % (tmp_path / "nope.json") in capsys.readouterr().err


def hold(path):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.parametrize("lock, said", [
    ("schedule.lock", "job nightly was not run: another scheduled run holds %s/state/schedule.lock"),
    ("lock", "job nightly was not run: cannot start scheduled job nightly: another drkit.backup operation is running")])
def test_a_run_while_the_host_is_held_runs_nothing_and_exits_75(tmp_path, capsys, lock, said):
    path = job_file(tmp_path, backup_steps(tmp_path))
    fd = hold(str(tmp_path / "state" / lock))
    try:
        assert scheduled.main(["run", path]) == scheduled.BUSY
    finally:
        os.close(fd)
    assert (said % tmp_path if "%s" in said else said) in capsys.readouterr().err
    assert not (tmp_path / "backups").exists()


@pytest.mark.parametrize("content, said", [
    ("{", "is not JSON"),
    ('{"schema_version": 2, "job": "n", "steps": []}', "is not a drkit.backup job file of schema 1"),
    ('{"schema_version": 1, "job": "../n", "steps": [{"module": "backup"}]}', "job must be a name"),
    ('{"schema_version": 1, "job": "n", "steps": [{"module": "command", "args": {}}]}',
     "each step of job n is one of the modules backup, backup_prune, backup_verify"),
])
def test_a_wrong_job_file_is_named(tmp_path, capsys, content, said):
    path = tmp_path / "job.json"
    path.write_text(content)
    assert scheduled.main(["run", str(path)]) == scheduled.FAILED
    assert said in capsys.readouterr().err


def test_a_secret_reaches_the_module_and_nothing_else(tmp_path, capsys):
    secret = "Sched-S3cret-pw"
    steps = [{"module": "backup", "args": {
        "provider": "postgresql", "provider_options": {"host": "127.0.0.1", "port": 9, "user": "backup"},
        "provider_secrets": {"password": secret}, "dest": str(tmp_path / "backups"), "encryption": "none",
        "online": True, "state_dir": str(tmp_path / "state")}}]
    log = tmp_path / "nightly.log"
    assert scheduled.main(["run", job_file(tmp_path, steps), "--log", str(log)]) == scheduled.FAILED
    said = capsys.readouterr()
    assert "backup failed" in said.err
    for text in (said.out, said.err, log.read_text(), json.dumps(record(tmp_path))):
        assert secret not in text
