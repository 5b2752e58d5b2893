# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way drkit runs another program: service commands, vendor tools, database clients.

- ``argv`` is a list, never a shell string;
- a secret goes to the program's standard input (``input``), an environment
  variable (``env``) or a root-only file (:func:`secret_file`), never into
  ``argv``: a call whose ``argv`` holds one of its ``secrets`` is refused;
- every run has a timeout;
- the exit code is checked, and so is the output (``expect``, ``refuse``),
  because several vendor tools exit 0 on failure;
- errors name the program and end with the tail of its output, every secret
  masked.

:func:`stream` is the same for a program whose standard output is the data (a
database dump): it goes straight into a file object, never to disk first.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import COPY_BYTES

DEFAULT_TIMEOUT = 600
MASK = "********"


class ToolError(DrkitError):
    """A program failed: its exit code or its output says so, or it could not be run."""


def tail(output: str, lines: int = 4) -> str:
    """The last ``lines`` non-blank lines of ``output``, joined by " / " (for one-line messages)."""
    kept = [line.strip() for line in (output or "").strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "no output"


def mask(text: str, secrets) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class Result:
    """What a program did: its exit code and its output (standard output and error together, secrets masked;
    with ``errors_apart``, its standard output alone, and ``errors`` its standard error)."""

    def __init__(self, code: int, output: str, errors=""):
        self.code = code
        self.output = output
        self.errors = errors

    def tail(self, lines: int = 4) -> str:
        return tail(self.errors or self.output, lines)


def _checked_argv(argv, secrets) -> list:
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(word, str) for word in argv):
        raise InvalidInput("a command must be a list of words, not %r" % (argv,))
    secrets = [secret for secret in secrets if secret]
    if any(secret in word for secret in secrets for word in argv):
        raise InvalidInput("refusing to run %s: a secret would be on its command line, where every user of "
                           "the host can read it" % os.path.basename(argv[0]))
    return secrets


def run(argv, *, what=None, input=None, secrets=(), env=None, timeout=DEFAULT_TIMEOUT, cwd=None, check=True,
        ok=(0,), expect=None, refuse=(), error=ToolError, missing=None, user=None, errors_apart=False,
        stdin_path=None) -> Result:
    """Runs ``argv`` and returns its :class:`Result`.

    ``what`` names the run in messages ("stop of service slapd"; default the program's name). ``input`` is
    text for standard input, ``stdin_path`` a file read as it (otherwise it is closed). ``env`` is added to this process's environment. With
    ``check`` (the default), an exit code not in ``ok``, an output that does not match the regular expression
    ``expect``, or one that matches any of ``refuse``, raises ``error`` with the tail of the output.
    ``missing`` is the advice given when the program is not installed. ``user`` runs it as that user (root only).
    ``errors_apart`` keeps standard error out of the output (a query's rows), for the messages.
    """
    secrets = _checked_argv(argv, secrets)
    what = what or os.path.basename(argv[0])
    environment = dict(os.environ)
    environment.update(env or {})
    with contextlib.ExitStack() as stack:
        stdin = stack.enter_context(open(stdin_path, "rb")) if stdin_path else (
            None if input is not None else subprocess.DEVNULL)
        try:
            proc = subprocess.run(argv, input=input.encode() if input is not None else None, stdin=stdin,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE if errors_apart else subprocess.STDOUT,
                                  env=environment, cwd=cwd, timeout=timeout, check=False, user=user)
        except (FileNotFoundError, PermissionError) as exc:
            raise _not_run(exc, what, argv[0], missing, error)
        except subprocess.TimeoutExpired:
            raise error("%s did not finish within %d seconds and was stopped" % (what, timeout))
    result = Result(proc.returncode, mask(proc.stdout.decode("utf-8", "replace"), secrets),
                    mask(proc.stderr.decode("utf-8", "replace"), secrets) if errors_apart else "")
    if not check:
        return result
    if result.code not in ok:
        raise error("%s failed (exit %d): %s" % (what, result.code, result.tail()))
    for pattern in refuse:
        if re.search(pattern, result.output):
            raise error("%s exited %d but its output says it failed: %s" % (what, result.code, result.tail()))
    if expect is not None and not re.search(expect, result.output):
        raise error("%s exited %d but did not report success: %s" % (what, result.code, result.tail()))
    return result


def _not_run(exc, what, program, missing, error):
    if isinstance(exc, FileNotFoundError):
        return error("%s failed: %s is not installed on this host (not found on PATH)%s"
                     % (what, program, ": %s" % missing if missing else ""))
    return error("%s failed: %s cannot be run by this user" % (what, program))


def stream(argv, out, *, what=None, secrets=(), env=None, error=ToolError, missing=None, user=None,
           refuse=(), expect=None) -> int:
    """Runs ``argv`` and copies its standard output into the binary file object ``out`` as it comes; returns
    the bytes copied.

    Its standard error is kept aside (in a private temporary file, so a chatty program never blocks) for the
    message when it fails: an exit code other than 0, an error output matching any of ``refuse``, or one that
    does not match ``expect`` (the line a tool writes when it has done its work). When
    anything goes wrong on this side (``out`` cannot take more), the program is killed. No timeout: a dump
    takes as long as the data.
    """
    secrets = _checked_argv(argv, secrets)
    what = what or os.path.basename(argv[0])
    environment = dict(os.environ)
    environment.update(env or {})
    copied = 0
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                    env=environment, user=user)
        except (FileNotFoundError, PermissionError) as exc:
            raise _not_run(exc, what, argv[0], missing, error)
        try:
            with proc.stdout:
                while True:
                    data = proc.stdout.read1(COPY_BYTES)
                    if not data:
                        break
                    out.write(data)
                    copied += len(data)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        errors.seek(0)
        output = mask(errors.read().decode("utf-8", "replace"), secrets)
    if code != 0:
        how = "was killed by signal %d" % -code if code < 0 else "failed (exit %d)" % code
        raise error("%s %s after %d bytes: %s" % (what, how, copied, tail(output)))
    for pattern in refuse:
        if re.search(pattern, output):
            raise error("%s exited 0 but its output says it failed: %s" % (what, tail(output)))
    if expect is not None and not re.search(expect, output):
        raise error("%s exited 0 but did not say it completed: %s" % (what, tail(output)))
    return copied


def find_tool(name: str, bin_dir=None, also=()):
    """The path of the executable ``name``: in ``bin_dir`` when given, else on PATH, then in the directories
    ``also``; None when it is not there (the caller says what to install)."""
    if bin_dir:
        path = os.path.join(bin_dir, name)
        return path if os.access(path, os.X_OK) else None
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", "")] + list(also)))


def running_pid(pid_file, command: str):
    """The pid that ``pid_file`` names while a process of ``command`` runs with it; else None (no file, or a
    stale one whose pid is gone or taken by another program)."""
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().split()[0])
        with open("/proc/%d/comm" % pid) as handle:
            return pid if command in handle.read() else None
    except (OSError, ValueError, IndexError, TypeError):
        return None


def stop_server(child, pid_file, command: str, what: str, grace: float = 60.0) -> list:
    """Stops a server a drill started: ``child`` (its Popen, when this process started it: wait() both stops and
    reaps it), else the process ``pid_file`` names while it runs ``command`` (one a killed drill left; never the
    pid of a stale file). Problems as sentences, [] once it is gone."""
    if child is not None:
        child.terminate()
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return ["%s (pid %d) did not stop within %d s and was killed" % (what, child.pid, grace)]
        return []
    pid = running_pid(pid_file, command)
    if pid is None:
        return []
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if running_pid(pid_file, command) != pid:
            return []
        time.sleep(0.2)
    return ["%s (pid %d) did not stop within %d s" % (what, pid, grace)]


@contextlib.contextmanager
def secret_file(secret: str, directory=None, owner=None):
    """Yields the path of a new file readable by its owner only that holds ``secret``; removes it afterwards.

    ``owner``: the user (name) who reads it, when a program runs as another user than this one.
    """
    fd, path = tempfile.mkstemp(prefix=".drkit-secret-", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)
            if owner is not None:
                entry = pwd.getpwnam(owner)
                os.fchown(out.fileno(), entry.pw_uid, entry.pw_gid)
            out.write(secret)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
