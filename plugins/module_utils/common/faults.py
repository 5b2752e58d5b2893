# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named crash points, for the reliability suite only.

``checkpoint("writer.header")`` marks a point in the engine where a crash must
be survivable. It does nothing unless the environment variable
``DRKIT_BACKUP_CRASH_AT`` names that point: then the process kills itself with
SIGKILL, as a power cut or the OOM killer would (no ``finally``, no cleanup,
buffers not flushed). ``name@N`` kills on the N-th time the point is reached
(counting from 1), to land in the middle of a stream. Production never sets
the variable; tests/reliability/test_crashes.py sets it in the processes it
kills, and lists every point.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "DRKIT_BACKUP_CRASH_AT"
_hits = {}
_lock = threading.Lock()


def checkpoint(name: str):
    """Kills this process here when ``DRKIT_BACKUP_CRASH_AT`` names ``name`` (see the module's text)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _sep, nth = wanted.partition("@")
    if point != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        reached = _hits[name]
    if reached >= (int(nth) if nth.isdigit() else 1):
        os.kill(os.getpid(), signal.SIGKILL)
