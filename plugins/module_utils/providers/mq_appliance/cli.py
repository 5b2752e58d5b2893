# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IBM MQ Appliance's command line over SSH, driven as IBM's own client (mqcli-client/mqcli.py) drives it.

The appliance's SSH server is not a shell: it shows its own ``login: `` and ``Password: `` prompts in a terminal
session, then the prompt ``mqa# ``; ``mqcli`` leads to the MQ commands (``mqbackup``, ``userbackup``...) at the
prompt ``mqa(mqcli)# ``, and each command's output ends at the next prompt. Errors start with ``%``, or are MQ's
AMQnnnnE messages; there are no exit codes. The password goes to the session's input, never to a process's
arguments, and the login's output (where it was typed) is never kept.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import tempfile
import time

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError

TOP_PROMPT, MQCLI_PROMPT = "mqa# ", "mqa(mqcli)# "
LOGIN_PROMPT, PASSWORD_PROMPT = "login: ", "Password: "
ERROR_LINE = re.compile(r"^(%.*|AMQ\d{4}E:.*)$", re.MULTILINE)


class CliError(DrkitError):
    """The appliance's command line could not be reached or refused a command (its own words)."""


class Session:
    """One login to the appliance's command line, in its mqcli mode (a context manager)."""

    def __init__(self, host, port, username, password, host_key=None, ssh_options=(), timeout=60):
        self.host, self.port, self.username, self.password = host, int(port), username, password
        self.host_key, self.ssh_options, self.timeout = host_key, list(ssh_options or ()), timeout
        self._process, self._buffer, self._known = None, "", None

    def describe(self) -> str:
        return "the CLI of %s (ssh port %d)" % (self.host, self.port)

    def __enter__(self):
        argv = ["ssh", "-tt", "-p", str(self.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
                "-o", "ServerAliveInterval=15", "-o", "LogLevel=ERROR", "-o", "StrictHostKeyChecking=yes"]
        if self.host_key:
            self._known = tempfile.mkdtemp(prefix=".drkit-mqa-ssh-")
            known = os.path.join(self._known, "known_hosts")
            with open(known, "w", encoding="ascii") as out:
                name = self.host if self.port == 22 else "[%s]:%d" % (self.host, self.port)
                out.write("%s %s\n" % (name, self.host_key.strip()))
            argv += ["-o", "UserKnownHostsFile=" + known, "-o", "GlobalKnownHostsFile=/dev/null"]
        if not shutil.which("ssh"):
            raise CliError("%s needs the OpenSSH client (ssh), which this host lacks" % self.describe())
        self._process = subprocess.Popen(argv + self.ssh_options + [self.host], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
        try:
            self._expect([LOGIN_PROMPT], "it showed no login prompt")
            self._send(self.username)
            self._expect([PASSWORD_PROMPT], "it asked for no password")
            self._send(self.password)
            seen, _text = self._expect([TOP_PROMPT, LOGIN_PROMPT, "%"], "the login did not finish")
            if seen != TOP_PROMPT:
                raise CliError("%s refused the login of %s: check provider_secrets.password (a reinitialized "
                               "appliance wants admin's password changed at its console first)"
                               % (self.describe(), self.username))
            self._send("mqcli")
            self._expect([MQCLI_PROMPT], "mqcli did not start")
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *_exc):
        try:
            if self._process and self._process.poll() is None:
                self._send("exit")
                self._send("exit")
        except OSError:
            pass
        self._close()

    def run(self, command, timeout=None) -> str:
        """``command``'s output (its echo left out); CliError with the appliance's words when it refused."""
        self._send(command)
        _seen, text = self._expect([MQCLI_PROMPT], "%s did not finish" % command.split()[0], timeout)
        lines = text.split("\n")
        if lines and lines[0].strip() == command.strip():
            lines = lines[1:]
        output = "\n".join(line.rstrip() for line in lines).strip()
        refused = ERROR_LINE.search(output)
        if refused:
            raise CliError("%s refused %s: %s" % (self.describe(), command.split()[0], refused.group(1)))
        return output

    def _send(self, text):
        self._process.stdin.write(text.encode("utf-8") + b"\n")
        self._process.stdin.flush()

    def _expect(self, wanted, failure, timeout=None) -> tuple:
        """Reads until one of ``wanted`` shows: (which, the text before it)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        stream = self._process.stdout.fileno()
        while True:
            found = [(self._buffer.find(item), item) for item in wanted if item in self._buffer]
            if found:
                index, item = min(found)
                text, self._buffer = self._buffer[:index], self._buffer[index + len(item):]
                return item, text
            left = deadline - time.monotonic()
            ready = select.select([stream], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(stream, 65536) if ready else b""
            if not chunk:
                # The session's last words (ssh's own, as "Host key verification failed."), never a password
                said = [line for line in self._buffer.strip().splitlines()[-1:] if self.password not in line]
                raise CliError("%s: %s %s%s" % (self.describe(), failure,
                                                "(the session ended)" if ready else "within %d s" % (
                                                    timeout or self.timeout),
                                                ": %s" % said[0] if said else ""))
            self._buffer += chunk.decode("utf-8", "replace").replace("\r", "")

    def _close(self):
        if self._process:
            try:
                self._process.stdin.close()
            except OSError:
                pass
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
            self._process = None
        if self._known:
            shutil.rmtree(self._known, ignore_errors=True)
            self._known = None
