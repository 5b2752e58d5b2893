# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What stands in for systemd in the emulators: ``service start|stop|status|restart UNIT`` on one daemon whose pid
is kept in a file. Start waits until the daemon answers; stop sends SIGTERM, then SIGKILL after 20 s.
Messages and exit codes are those of systemctl (status: 0 running, 3 dead)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


class Unit:
    def __init__(self, name, pid_file, log_file, argv, answers, start_timeout=30):
        self.name, self.pid_file, self.log_file, self.argv = name, pid_file, log_file, argv
        self.answers, self.start_timeout = answers, start_timeout

    def running_pid(self):
        try:
            with open(self.pid_file, encoding="utf-8") as handle:
                pid = int(handle.read().strip())
            with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
                state = handle.read().rpartition(")")[2].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        # An exited child that init has not reaped yet is not running: PID 1 here reaps only every second or so.
        return None if state == "Z" else pid

    def act(self, action):
        if action == "status":
            pid = self.running_pid()
            print("%s: %s" % (self.name, "active (running), pid %d" % pid if pid else "inactive (dead)"))
            return 0 if pid else 3
        if action in ("stop", "restart"):
            self._stop()
            if action == "stop":
                return 0
        return self._start()

    def _stop(self):
        pid = self.running_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while self.running_pid() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.running_pid():
                os.kill(pid, signal.SIGKILL)
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)

    def _start(self):
        if self.running_pid():
            return 0
        with open(self.log_file, "ab") as out:
            child = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        with open(self.pid_file, "w", encoding="utf-8") as handle:
            handle.write("%d\n" % child.pid)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                os.unlink(self.pid_file)
                print("%s.service: main process exited, code=exited, status=%d (see %s)"
                      % (self.name, child.returncode, self.log_file), file=sys.stderr)
                return 1
            if self.answers():
                return 0
            time.sleep(0.1)
        print("%s.service: start operation timed out" % self.name, file=sys.stderr)
        return 1
