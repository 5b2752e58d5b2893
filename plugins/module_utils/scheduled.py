# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""drkit-backup: the command that systemd timers and cron entries run (DESIGN decision 32).

    drkit-backup run JOB.json [--log FILE] [--random-delay SECONDS]
    drkit-backup check JOB.json

A job file (written by the drkit.backup.schedule role, root-only since it holds the job's secrets) lists steps.
A step is one of this collection's modules with its parameters, run as Ansible runs a module (its arguments on
standard input, never in a process's arguments), or, on a controller, an ``ansible-playbook`` run (a drill).
The steps run in order and a failed step ends the run.

Exit status: 0 when every step succeeded; 1 when one failed; 75 (EX_TEMPFAIL) when nothing ran because another
scheduled run, another drkit.backup operation or a lease holds the host. Scheduled runs take their own ``flock``
on ``<state_dir>/schedule.lock``, a different file from the engine's lock (decision 24); each run leaves its
record in ``<state_dir>/schedule/<job>.json``. ``check`` runs the module steps in check mode and checks the
playbooks' syntax: the role runs it when it installs a job.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import logging
import logging.handlers
import os
import random
import re
import subprocess
import sys
import time

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    DrkitError, OperationInProgress, os_error_message)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.host.state import DEFAULT_STATE_DIR, StateDir

OK, FAILED, BUSY = 0, 1, 75
SCHEMA_VERSION = 1
MODULES = ("backup", "backup_prune", "backup_verify")
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # no ".": cron skips such files
LOG_MAX_BYTES, LOG_KEEP = 10 << 20, 5
# The directory that holds ansible_collections/ (this file is ansible_collections/drkit/backup/plugins/module_utils/).
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))


class JobError(DrkitError):
    """The job file cannot be run as it is."""


def load_job(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            job = json.load(handle)
    except OSError as exc:
        raise JobError("cannot read job file %s: %s" % (path, exc.strerror)) from None
    except ValueError as exc:
        raise JobError("job file %s is not JSON (%s): install the job again with the drkit.backup.schedule "
                       "role" % (path, exc)) from None
    if not isinstance(job, dict) or job.get("schema_version") != SCHEMA_VERSION:
        raise JobError("%s is not a drkit.backup job file of schema %d: install the job again with the "
                       "drkit.backup.schedule role" % (path, SCHEMA_VERSION))
    if not isinstance(job.get("job"), str) or not JOB_NAME.match(job["job"]):
        raise JobError("%s: job must be a name of letters, digits, '_' and '-'" % path)
    steps = job.get("steps")
    if not isinstance(steps, list) or not steps:
        raise JobError("%s: job %s has no steps" % (path, job["job"]))
    for step in steps:
        if not isinstance(step, dict) or not (step.get("module") in MODULES or isinstance(step.get("playbook"), str)):
            raise JobError("%s: each step of job %s is one of the modules %s with its args, or a playbook"
                           % (path, job["job"], ", ".join(MODULES)))
    job.setdefault("state_dir", DEFAULT_STATE_DIR)
    return job


# --- the steps ------------------------------------------------------------------------------------------------

def run_module(name: str, args: dict, check_mode=False) -> dict:
    """The module's result, run as Ansible runs it on a host; a run that gives no result fails with its output."""
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_no_log=False)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_ROOT)
    done = subprocess.run([sys.executable, "-m", "ansible_collections.drkit.backup.plugins.modules." + name],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": payload}), capture_output=True, text=True,
                          env=env, check=False)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"failed": True, "msg": "module %s gave no result (exit status %d): %s"
                                       % (name, done.returncode, " / ".join(tail) or "no output")}
    result.pop("invocation", None)  # its arguments, secrets masked: nothing a summary needs
    return result


def run_playbook(step: dict, log, check_mode=False) -> dict:
    """An ansible-playbook run on a controller (a drill), its output passed to the log as it comes."""
    command = [step.get("ansible_playbook") or "ansible-playbook", step["playbook"]]
    if step.get("inventory"):
        command += ["-i", step["inventory"]]
    if check_mode:
        command.append("--syntax-check")
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   cwd=os.path.dirname(step["playbook"]) or None)
    except OSError as exc:
        return {"failed": True, "msg": "cannot run %s: %s" % (command[0], exc.strerror)}
    for line in process.stdout:
        if line.strip():
            log.info("  %s", line.rstrip())
    code = process.wait()
    if code:
        return {"failed": True, "msg": "ansible-playbook %s ended with exit status %d" % (step["playbook"], code)}
    return {"changed": not check_mode, "msg": "succeeded"}


def describe_step(step: dict) -> str:
    return step["module"] if "module" in step else "playbook %s" % os.path.basename(step["playbook"])


def summarise(step: dict, result: dict) -> str:
    """One line a person reads in the journal, the log or cron's mail."""
    if result.get("failed"):
        return "%s failed: %s" % (describe_step(step), result.get("msg", "no message"))
    backup = result.get("backup")
    if step.get("module") == "backup" and isinstance(backup, dict):
        return "backup %s: %s (%.1f MiB stored, %.1f s%s)" % (
            backup.get("name"), "written" if result.get("changed") else "a recent one kept (max_age)",
            (backup.get("storedSize") or 0) / 1048576.0, result.get("duration_seconds") or 0,
            ", %.1f s of downtime" % result["downtime_seconds"] if result.get("downtime_seconds") else "")
    if step.get("module") == "backup_prune":
        return "prune: kept %d, removed %d" % (len(result.get("kept") or []), len(result.get("removed") or []))
    return "%s: %s" % (describe_step(step), result.get("msg") or ("changed" if result.get("changed") else "ok"))


# --- the run ----------------------------------------------------------------------------------------------------

def _schedule_lock(state_dir: str, job: str):
    """The scheduled runs' own lock (an fd), or OperationInProgress naming the run that holds it."""
    private_dir(state_dir)
    path = os.path.join(state_dir, "schedule.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "a run that has not said which"
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise OperationInProgress("job %s was not run: another scheduled run holds %s (%s); runs never overlap, "
                                      "so it runs at its next time" % (job, path, holder)) from None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, ("job %s, pid %d, since %s\n" % (job, os.getpid(), rfc3339(utc_now()))).encode())
    return fd


def _record(state_dir: str, record: dict):
    directory = private_dir(os.path.join(state_dir, "schedule"))
    write_atomic(os.path.join(directory, record["job"] + ".json"), canonjson.dumps(record))


def run_job(job: dict, log, check_mode=False) -> int:
    """Runs the job's steps under the scheduled runs' lock; returns the exit status and leaves the run's record."""
    state_dir, name = job["state_dir"], job["job"]
    record = {"job": name, "started_at": rfc3339(utc_now()), "check_mode": check_mode, "steps": []}
    try:
        fd = _schedule_lock(state_dir, name)
    except OperationInProgress as exc:
        log.error("%s", exc)
        return BUSY
    try:
        try:
            StateDir(state_dir).check_free("scheduled job %s" % name)
        except OperationInProgress as exc:
            log.error("job %s was not run: %s", name, exc)
            record.update(status="busy", exit_status=BUSY, msg=str(exc))
            return BUSY
        started = time.monotonic()
        status = OK
        for step in job["steps"]:
            if "module" in step:
                result = run_module(step["module"], step.get("args") or {}, check_mode)
            else:
                result = run_playbook(step, log, check_mode)
            line = summarise(step, result)
            record["steps"].append({"step": describe_step(step), "failed": bool(result.get("failed")),
                                    "changed": bool(result.get("changed")), "summary": line})
            for warning in result.get("warnings") or []:
                log.warning("%s warning: %s", describe_step(step), warning)
            if result.get("failed"):
                log.error("job %s: %s", name, line)
                status = FAILED
                break
            log.info("job %s: %s", name, line)
        record.update(status="ok" if status == OK else "failed", exit_status=status,
                      duration_seconds=round(time.monotonic() - started, 1))
        log.info("job %s %s in %.1f s", name, "succeeded" if status == OK else "FAILED", record["duration_seconds"])
        return status
    finally:
        record["ended_at"] = rfc3339(utc_now())
        if not check_mode:
            _record(state_dir, record)
        os.close(fd)


def _logger(log_file) -> logging.Logger:
    """Errors go to standard error; the other lines to standard output (the journal), or with a log file there
    (rotated at 10 MiB, 5 kept) with the errors too, so that cron mails only what failed."""
    log = logging.getLogger("drkit-backup")
    log.setLevel(logging.INFO)
    log.handlers.clear()
    errors = logging.StreamHandler(sys.stderr)
    errors.setLevel(logging.ERROR)
    if log_file:
        private_dir(os.path.dirname(os.path.abspath(log_file)))
        lines = logging.handlers.RotatingFileHandler(log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_KEEP)
        lines.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    else:
        lines = logging.StreamHandler(sys.stdout)
        lines.addFilter(lambda record: record.levelno < logging.ERROR)
    log.handlers += [lines, errors]
    return log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="drkit-backup", description="Run a drkit.backup scheduled job.")
    parser.add_argument("action", choices=("run", "check"))
    parser.add_argument("job_file")
    parser.add_argument("--log", help="append to this file (rotated) instead of standard output")
    parser.add_argument("--random-delay", type=int, default=0, metavar="SECONDS",
                        help="wait a random time up to this before starting (cron has no RandomizedDelaySec)")
    args = parser.parse_args(argv)
    log = _logger(args.log)
    try:
        job = load_job(args.job_file)
        if args.action == "run" and args.random_delay > 0:
            time.sleep(random.uniform(0, args.random_delay))
        return run_job(job, log, check_mode=args.action == "check")
    except DrkitError as exc:
        log.error("%s", exc)
        return FAILED
    except OSError as exc:
        log.error("%s", os_error_message(exc))
        return FAILED


if __name__ == "__main__":
    raise SystemExit(main())
