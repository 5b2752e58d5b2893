# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database client kept open (a transaction that holds a snapshot, a lock), fed statement by statement."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile

# What the client prints after each statement's rows: their end.
END = "--drkit-end-of-result--"


class ClientSession:
    """One client process reading statements from its standard input and printing rows, one per line, fields
    split by ``separator``; ``marker`` is what makes it print :data:`END` after a statement."""

    def __init__(self, argv, env, user, error, explain, what, separator, marker):
        self.error = error
        self.explain = explain
        self.what = what
        self.separator = separator
        self.marker = marker
        self._errors = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                                          env=dict(os.environ, **env), user=user)
        except (FileNotFoundError, PermissionError) as exc:
            self._errors.close()
            raise error("%s could not be run: %s" % (os.path.basename(argv[0]), exc))

    def query(self, sql: str) -> list:
        """The rows of ``sql``, each a list of strings."""
        try:
            self._proc.stdin.write(("%s\n%s\n" % (sql, self.marker)).encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # the client has ended: its error output says why, below
        rows = []
        while True:
            line = self._proc.stdout.readline()
            if not line:
                self._proc.wait()
                self._errors.seek(0)
                message = self._errors.read().decode("utf-8", "replace").strip() or "it ended"
                raise self.error(self.explain("%s failed: %s" % (self.what, message)))
            text = line.decode("utf-8", "replace").rstrip("\n")
            if text == END:
                return rows
            if text:
                rows.append(text.split(self.separator))

    def close(self):
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        self._errors.close()
