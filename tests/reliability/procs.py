# -*- coding: utf-8 -*-
"""What the fault tests share: modules run as real processes, a real daemon as a service, a small tmpfs.

A module runs as Ansible runs it on a host: its own Python process, its arguments in a JSON file, its result
on standard output. ``crash_at`` names a crash point (``DRKIT_BACKUP_CRASH_AT``, see
plugins/module_utils/common/faults.py): the process kills itself there with SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

from ansible_collections.drkit.backup.plugins.module_utils.common import faults

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
KILLED = -signal.SIGKILL


class Result:
    def __init__(self, rc, stdout, stderr):
        self.rc = rc
        self.stderr = stderr
        try:
            self.json = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            self.json = {"failed": True, "msg": "not JSON: %s" % stdout[-2000:]}

    @property
    def killed(self):
        return self.rc == KILLED

    @property
    def ok(self):
        return self.rc == 0 and self.json is not None and not self.json.get("failed")

    @property
    def msg(self):
        return (self.json or {}).get("msg", "")

    def __repr__(self):
        return "rc %s, result %s, stderr %s" % (self.rc, self.json, self.stderr[-2000:])


def module_env(crash_at=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (COLLECTIONS, env.get("PYTHONPATH")) if p)
    env.pop(faults.ENV, None)
    if crash_at:
        env[faults.ENV] = crash_at
    return env


def start_module(name, args, workdir, crash_at=None):
    """Starts drkit.backup.<name> with ``args``; returns the Popen (stdout and stderr are pipes)."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "args-%s-%d.json" % (name, len(os.listdir(workdir))))
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    return subprocess.Popen([sys.executable, "-m", "ansible_collections.drkit.backup.plugins.modules.%s" % name,
                             path], env=module_env(crash_at), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, cwd=workdir)


def finish(proc, timeout=180) -> Result:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    return Result(proc.returncode, stdout, stderr)


def run_module(name, args, workdir, crash_at=None, timeout=180) -> Result:
    return finish(start_module(name, args, workdir, crash_at), timeout)


SVCCTL = """#!/bin/sh
# svcctl start|stop SERVICE: each service is a real process (sleep), its pid in %(dir)s/SERVICE.pid.
# Starting a running service and stopping a stopped one succeed. Every call is logged.
set -u
pidfile=%(dir)s/$2.pid
echo "$1 $2" >> %(dir)s/service.log
running() { [ -s "$pidfile" ] && [ -e /proc/"$(cat "$pidfile")" ] && ! grep -q '^State:.*[ZX]' /proc/"$(cat "$pidfile")"/status; }
case "$1" in
  start) running || { sleep 86400 </dev/null >/dev/null 2>&1 & echo $! > "$pidfile"; } ;;
  stop) if running; then kill -TERM "$(cat "$pidfile")"; fi; rm -f "$pidfile" ;;
  *) exit 2 ;;
esac
"""


class Services:
    """Services that are real processes, stopped and started by a control script (no systemd here)."""

    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.script = os.path.join(self.dir, "svcctl")
        with open(self.script, "w") as handle:
            handle.write(SVCCTL % {"dir": self.dir})
        os.chmod(self.script, 0o755)
        self.stop_command = self.script + " stop {service}"
        self.start_command = self.script + " start {service}"
        self._started = set()

    def commands(self):
        return {"stop_command": self.stop_command, "start_command": self.start_command}

    def _pid(self, name):
        try:
            with open(os.path.join(self.dir, name + ".pid")) as handle:
                return int(handle.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def start(self, name):
        subprocess.run([self.script, "start", name], check=True)
        self._started.add(name)

    def running(self, name) -> bool:
        pid = self._pid(name)
        if not pid:
            return False
        self._started.add(name)
        try:
            with open("/proc/%d/status" % pid) as handle:
                state = [line for line in handle if line.startswith("State:")][0]
        except (OSError, IndexError):
            return False
        return not any(flag in state for flag in ("Z", "X"))

    def cleanup(self):
        """Ends the daemons these tests started (by their recorded pid)."""
        for name in self._started:
            pid = self._pid(name)
            if pid and self.running(name):
                os.kill(pid, signal.SIGTERM)


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of ``size`` mounted at ``path`` for the ``with`` body (root only); always unmounted."""
    os.makedirs(str(path), exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", str(path)], check=True)
    try:
        yield str(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
