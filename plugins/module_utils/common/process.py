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
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput

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
    """What a program did: its exit code and its output (standard output and error together, secrets masked)."""

    def __init__(self, code: int, output: str):
        self.code = code
        self.output = output

    def tail(self, lines: int = 4) -> str:
        return tail(self.output, lines)


def run(argv, *, what=None, input=None, secrets=(), env=None, timeout=DEFAULT_TIMEOUT, cwd=None, check=True,
        ok=(0,), expect=None, refuse=(), error=ToolError, missing=None) -> Result:
    """Runs ``argv`` and returns its :class:`Result`.

    ``what`` names the run in messages ("stop of service slapd"; default the program's name). ``input`` is
    text for standard input (otherwise it is closed). ``env`` is added to this process's environment. With
    ``check`` (the default), an exit code not in ``ok``, an output that does not match the regular expression
    ``expect``, or one that matches any of ``refuse``, raises ``error`` with the tail of the output.
    ``missing`` is the advice given when the program is not installed.
    """
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(word, str) for word in argv):
        raise InvalidInput("a command must be a list of words, not %r" % (argv,))
    secrets = [secret for secret in secrets if secret]
    if any(secret in word for secret in secrets for word in argv):
        raise InvalidInput("refusing to run %s: a secret would be on its command line, where every user of "
                           "the host can read it" % os.path.basename(argv[0]))
    what = what or os.path.basename(argv[0])
    environment = dict(os.environ)
    environment.update(env or {})
    try:
        proc = subprocess.run(argv, input=input.encode() if input is not None else None,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment, cwd=cwd,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise error("%s failed: %s is not installed on this host (not found on PATH)%s"
                    % (what, argv[0], ": %s" % missing if missing else ""))
    except PermissionError:
        raise error("%s failed: %s cannot be run by this user" % (what, argv[0]))
    except subprocess.TimeoutExpired:
        raise error("%s did not finish within %d seconds and was stopped" % (what, timeout))
    result = Result(proc.returncode, mask(proc.stdout.decode("utf-8", "replace"), secrets))
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


@contextlib.contextmanager
def secret_file(secret: str, directory=None):
    """Yields the path of a new file readable by its owner only that holds ``secret``; removes it afterwards."""
    fd, path = tempfile.mkstemp(prefix=".drkit-secret-", dir=directory)
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(secret)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
