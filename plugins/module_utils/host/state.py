# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's state directory: the lock, the running operation's record, services left stopped.

The host's state directory (default ``/var/lib/drkit``, root-only) holds:

- ``lock``: an empty file on which the running operation holds an exclusive
  ``flock``. The kernel drops the lock when the process ends, however it ends,
  so a killed run never blocks the next one. The file itself is never removed
  (removing a lock file that others may have open breaks the lock).
- ``operation.json``: the running operation's record: what it is (backup,
  restore, prune, services), the backup it works on, its pid, host, start time,
  stage, its progress (part, bytes done and expected, ETA) and the services it
  has stopped. A service is recorded *before* its stop command is issued and
  removed once its start command has returned, so the record never misses a
  service that may be down.
- ``interrupted.json``: services that a run left stopped (it was killed, or a
  start command failed), with that run's record. A service leaves this list
  when a later run starts it again; the file goes when the list is empty.

- ``lease.json``: a lease ({id, holder, purpose, expires_at, seconds}) that a
  role takes to hold the host across several module calls (a restore, its
  health check and its rollback). While it lasts, only calls that pass its id
  may take the lock, and each of them renews it; it lapses ``seconds`` after
  the last call, so a controller that died does not hold the host for ever.

A record found while the lock is free was left by a process that is gone: the
next operation (host/operation.py) moves its services to ``interrupted.json``,
clears what the run left, says so in a warning, and goes on. Reading the status takes a shared lock for an instant;
an operation that finds the lock taken retries for up to ``LOCK_WAIT`` seconds
before it gives up, so a status read never makes an operation fail.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import os
import socket
import time
import uuid

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, InvalidInput, OperationInProgress)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time, rfc3339, utc_now

DEFAULT_STATE_DIR = "/var/lib/drkit"
LOCK = "lock"
OPERATION = "operation.json"
LEASE = "lease.json"
INTERRUPTED = "interrupted.json"
LOCK_WAIT = 2.0
LOCK_POLL = 0.05
MAX_RECORD_BYTES = 1 << 20
PROGRESS_EVERY = 1.0  # seconds between two writes of a running operation's progress


def describe(record) -> str:
    """``backup files-full-2026-11-23-02-00-00 (pid 4242 on idm1, started ..., stage capture)``."""
    if not record:
        return "an operation whose record cannot be read"
    words = [str(record.get("operation") or "operation")]
    if record.get("name"):
        words.append(str(record["name"]))
    details = []
    if record.get("pid"):
        details.append("pid %s%s" % (record["pid"], " on %s" % record["host"] if record.get("host") else ""))
    if record.get("started_at"):
        details.append("started %s" % record["started_at"])
    if record.get("stage"):
        details.append("stage %s" % record["stage"])
    if details:
        words.append("(%s)" % ", ".join(details))
    return " ".join(words)


class Operation:
    """The running operation: its record, kept up to date in ``operation.json``."""

    def __init__(self, state, record):
        self._state = state
        self.record = record
        self.warnings = []
        # Why services still recorded as stopped at the end are left so (kept in interrupted.json).
        self.leave_reason = "it ended with services it could not start"
        self.bytes_total = None  # what the data's size is expected to be, once known (for the ETA)
        self._flow_began = None
        self._told_at = None

    def update(self, **fields):
        self.record.update(fields)
        self._state.write_record(OPERATION, self.record)

    def progress(self, part: str, bytes_done: int, parts_done: int, force=False):
        """Notes how far the data has got in ``progress`` of the record, which backup_info shows while an async
        task runs: at most every ``PROGRESS_EVERY`` seconds (and when ``force``, at a part's end), so that the
        pipeline is not slowed by its own record. The ETA assumes the rate so far holds."""
        now = time.monotonic()
        if self._flow_began is None:
            self._flow_began = now
        if not force and self._told_at is not None and now - self._told_at < PROGRESS_EVERY:
            return
        self._told_at = now
        total = self.bytes_total
        rate = bytes_done / (now - self._flow_began) if bytes_done and now > self._flow_began else None
        left = max(total - bytes_done, 0) if total is not None else None
        self.update(progress={
            "stage": self.record.get("stage"), "part": part, "parts_done": parts_done, "bytes_done": bytes_done,
            "bytes_total": total, "percent": min(round(100.0 * bytes_done / total, 1), 100.0) if total else None,
            "eta_seconds": round(left / rate, 1) if rate and left is not None else None,
            "updated_at": rfc3339(utc_now())})

    # The journal that services.stopped() keeps.
    def stopping(self, service: str):
        if service not in self.record["services_stopped"]:
            self.update(services_stopped=self.record["services_stopped"] + [service])

    def started(self, service: str):
        self.update(services_stopped=[s for s in self.record["services_stopped"] if s != service])
        self._state.forget_interrupted(service)


class StateDir:
    """A host's state directory: the lock, the running operation, services left stopped."""

    def __init__(self, path=None, lease_id=None):
        path = path or DEFAULT_STATE_DIR
        if not os.path.isabs(path):
            raise InvalidInput("state_dir must be an absolute path, not %r" % (path,))
        self.path = os.path.abspath(path)
        # The lease the caller holds (a role's sequence), or None.
        self.lease_id = lease_id

    def __str__(self):
        return "state directory %s" % self.path

    def _file(self, name):
        return os.path.join(self.path, name)

    # --- records -------------------------------------------------------------

    def read_record(self, name):
        """The record in ``name``, None when there is none, ``{}`` when it cannot be read."""
        try:
            with open(self._file(name), "rb") as handle:
                raw = handle.read(MAX_RECORD_BYTES)
        except (FileNotFoundError, PermissionError):
            return None  # no record, or not ours to read (a user other than root reading the status)
        try:
            return canonjson.loads(raw, self._file(name))
        except FormatError:
            return {}

    def write_record(self, name, record):
        write_atomic(self._file(name), canonjson.dumps(record))

    def _remove(self, name):
        try:
            os.unlink(self._file(name))
        except FileNotFoundError:
            pass

    def forget_interrupted(self, service: str):
        """``service`` was started again: it no longer counts as left stopped."""
        record = self.read_record(INTERRUPTED)
        if not record or service not in record.get("services_stopped", []):
            return
        left = [s for s in record["services_stopped"] if s != service]
        if left:
            record["services_stopped"] = left
            self.write_record(INTERRUPTED, record)
        else:
            self._remove(INTERRUPTED)

    def keep_interrupted(self, record, reason):
        """Adds ``record``'s stopped services to ``interrupted.json``."""
        services = list(record.get("services_stopped") or [])
        if not services:
            return
        earlier = self.read_record(INTERRUPTED) or {}
        for service in earlier.get("services_stopped", []):
            if service not in services:
                services.append(service)
        kept = dict(record)
        kept.update(services_stopped=services, reason=reason, recorded_at=rfc3339(utc_now()))
        self.write_record(INTERRUPTED, kept)

    # --- status --------------------------------------------------------------

    def _held(self) -> bool:
        """Whether a running process holds the lock (a shared lock taken and dropped at once)."""
        try:
            fd = os.open(self._file(LOCK), os.O_RDONLY)
        except (FileNotFoundError, PermissionError):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return True
            raise
        finally:
            os.close(fd)  # closing drops the shared lock too
        return False

    def status(self) -> dict:
        """The running operation (or None), and the services runs left stopped."""
        running = self._held()
        record = self.read_record(OPERATION)
        operation = None
        if running:
            operation = record if record else {"operation": "unknown", "note": "its record cannot be read"}
        interrupted = self.read_record(INTERRUPTED) or None
        if not running and record:
            # A run that is gone left its record; the next operation will clear it.
            interrupted = dict(record, reason="the process ended without finishing",
                               services_stopped=list(record.get("services_stopped") or []) + [
                                   s for s in (interrupted or {}).get("services_stopped", [])
                                   if s not in (record.get("services_stopped") or [])])
        stopped = list((operation or {}).get("services_stopped") or [])
        for service in (interrupted or {}).get("services_stopped", []):
            if service not in stopped:
                stopped.append(service)
        return {"state_dir": self.path, "operation": operation, "interrupted": interrupted,
                "services_stopped": stopped}

    def check_free(self, what: str):
        """Refuses (without taking the lock) when another operation is running or the host is leased to
        another holder: for check mode."""
        if self._held():
            raise OperationInProgress(self._busy_message(what))
        self.admit(what, renew=False)

    # --- the lease -------------------------------------------------------------

    def lease(self):
        """The lease in force (expired ones are no lease), or None."""
        record = self.read_record(LEASE)
        if not record or not isinstance(record.get("expires_at"), str):
            return None
        try:
            expires = parse_time(record["expires_at"])
        except ValueError:
            return None
        return record if expires > utc_now() else None

    def admit(self, what: str, renew=True):
        """Refuses ``what`` when another holder's lease is in force, or when the caller's own lease was lost;
        renews the caller's lease (call it holding the lock)."""
        held = self.lease()
        if held is not None and held.get("id") != self.lease_id:
            raise OperationInProgress(
                "cannot start %s: this host is held by a lease for %s (holder %s, until %s, or sooner when released)"
                ": wait for it to end, or release it with drkit.backup.backup_lease (state absent, force true) if "
                "its holder is gone" % (what, held.get("purpose"), held.get("holder"), held.get("expires_at")))
        if self.lease_id and held is None:
            raise OperationInProgress(
                "cannot start %s: lease %s on this host has expired or was released, so the sequence it held the "
                "host for no longer holds it; start the sequence again" % (what, self.lease_id))
        if held is not None and renew:
            self.renew_lease()

    def renew_lease(self):
        """Extends the caller's lease from now (when it still holds it): a call renews it as it starts and ends."""
        held = self.lease()
        if held is not None and self.lease_id and held.get("id") == self.lease_id:
            self.write_record(LEASE, dict(held, expires_at=rfc3339(utc_now() + datetime.timedelta(
                seconds=held["seconds"]))))

    def take_lease(self, holder: str, purpose: str, seconds: int) -> dict:
        """A new lease for ``seconds`` after each call (call it holding the lock)."""
        held = self.lease()
        if held is not None and held.get("id") != self.lease_id:
            self.admit("a lease for %s" % purpose)  # says who holds the host
        record = {"id": self.lease_id or str(uuid.uuid4()), "holder": holder, "purpose": purpose,
                  "seconds": seconds, "taken_at": rfc3339(utc_now()),
                  "expires_at": rfc3339(utc_now() + datetime.timedelta(seconds=seconds))}
        self.write_record(LEASE, record)
        return record

    def release_lease(self, force=False):
        """Ends the caller's lease (or, with ``force``, any); returns the lease ended, or None."""
        held = self.lease()
        if held is None or (held.get("id") != self.lease_id and not force):
            if held is not None:
                self.admit("releasing lease %s" % self.lease_id)  # says whose lease it is
            return None
        self._remove(LEASE)
        return held

    def _busy_message(self, what):
        return ("cannot start %s: another drkit.backup operation is running on this host: %s. One backup or "
                "restore runs at a time per host (%s); wait for it to finish and try again"
                % (what, describe(self.read_record(OPERATION)), self))

    # --- the lock ------------------------------------------------------------

    def _lock(self, what):
        private_dir(self.path)
        fd = os.open(self._file(LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if time.monotonic() >= deadline:
                message = self._busy_message(what)
                os.close(fd)
                raise OperationInProgress(message)
            time.sleep(LOCK_POLL)

    @contextlib.contextmanager
    def locked(self, what: str):
        """Holds the host's lock for the ``with`` body; yields the record a killed run left, or None."""
        fd = self._lock(what)
        try:
            yield self.read_record(OPERATION)
        finally:
            os.close(fd)

    def begin(self, operation: str, name=None, **details) -> Operation:
        """Records the operation that holds the lock now."""
        record = {"operation": operation, "name": name, "pid": os.getpid(), "host": socket.getfqdn(),
                  "started_at": rfc3339(utc_now()), "services_stopped": []}
        record.update(details)
        self.write_record(OPERATION, record)
        return Operation(self, record)

    def end(self, current: Operation):
        """Forgets the operation's record; services it still has stopped go to ``interrupted.json``."""
        if current.record["services_stopped"]:
            self.keep_interrupted(current.record, current.leave_reason)
        self._remove(OPERATION)
