# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thread pool that compresses, encrypts and hashes, and the process settings it needs.

zstandard, cryptography (50+) and hashlib release the GIL, so a few threads use
every core. Two settings of the Python process decide whether they do:

- the GIL switch interval: a thread back from a C call waits up to this long
  for the GIL while the reading thread runs Python code (default 5 ms);
- glibc's mmap threshold: chunk buffers of about 1 MiB are otherwise mapped and
  unmapped for every chunk, and the page faults cost more than the cipher.
  On 2 cores these two took creating a backup of 1 GiB from about 250 to 650-800 MiB/s.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import os
import sys

SWITCH_INTERVAL = 0.0005
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_IN_HEAP = 32 << 20
_allocator_tuned = False


def _tune_allocator():
    """Keeps chunk-sized buffers on the heap (glibc only; elsewhere nothing changes)."""
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_IN_HEAP)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 * _KEEP_IN_HEAP)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def worker_pool():
    """Threads for compression, encryption and hashing, with the process tuned for them."""
    _tune_allocator()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                                                 thread_name_prefix="drkit")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        sys.setswitchinterval(previous)
