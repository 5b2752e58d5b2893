# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two stages of an offline backup (drkit.backup.backup ``stage``): capture, then seal.

capture: the raw parts into a root-only capture directory (host/capture.py),
with the services stopped only for that. seal: compress, encrypt and write the
backup from the capture, rename it into place, and remove the capture.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson, faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    CaptureError, DrkitError, InvalidInput, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import (
    COPY_BYTES, check_writable_dir, fsync_path, no_space, write_atomic)
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format import names
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import DEFAULT_LEVEL
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.writer import BackupWriter
from ansible_collections.drkit.backup.plugins.module_utils.host.capture import (
    CAPTURE_FORMAT, CAPTURE_RECORD, CAPTURE_VERSION, RAW, Capture, discard, register, wrap_data_key)
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.services import stopped
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.protection.signing import Signer


def raise_capture_error(exc, name, cleanup, services):
    """A capture that failed on an OSError, said plainly (a full disk is said by the caller)."""
    if exc.errno == errno.ENOSPC:
        raise exc
    raise CaptureError("backup %s failed while capturing: %s%s; %s and earlier backups are untouched%s"
                       % (name, exc.strerror or exc, ": %s" % exc.filename if exc.filename else "", cleanup,
                          "; the services were started again" if services else ""))


def capture_raw(plan, manifest, control, operation, durable=True) -> Capture:
    """Captures every raw part (services stopped only for this); returns the capture.

    With ``durable`` (a capture another run will seal), the raw parts are flushed to disk once the
    services are up again, before ``capture.json`` says the capture is complete: the flush never adds
    to the downtime, and a capture that survives a crash holds all of its data.
    """
    name = manifest["name"]
    path = os.path.join(plan.temp_dir, ".%s%s" % (name, names.CAPTURE_SUFFIX))
    entry = {"name": name, "capture": path, "keystore": plan.keystore.path, "key": manifest["id"]}
    register(plan.state_dir, name, path, plan.dest, plan.keystore.path, manifest["id"])
    os.mkdir(path, 0o700)
    operation.update(stage="capture", capture=path, keep_capture=durable)
    parts = plan.provider.parts(plan.backup_type)
    try:
        os.mkdir(os.path.join(path, RAW), 0o700)
        with contextlib.ExitStack() as stack:
            downtime = stack.enter_context(stopped(plan.services, control, operation)) if plan.services else None
            for part in parts:
                names.check_part_name(part.name)
                with open(os.path.join(path, RAW, part.name), "xb") as raw:
                    plan.provider.capture(part, raw)
                faults.checkpoint("capture.raw")  # services down, raw data half captured
        manifest.update(plan.provider.captured())  # counted inside the capture, sealed into the header with it
        if durable:
            for part in parts:
                fsync_path(os.path.join(path, RAW, part.name))
            fsync_path(os.path.join(path, RAW))
        # The data key is made and its slots written now (they may need the HSM or gpg, checked before the stop);
        # until the seal it waits wrapped by a capture key in the keystore, never in clear beside the plaintext.
        data_key, slots = plan.protection.new_data_key(manifest["id"])
        signer = plan.protection.signer
        record = {"format": CAPTURE_FORMAT, "version": CAPTURE_VERSION, "dest": plan.dest, "manifest": manifest,
                  "dataKeyWrapped": wrap_data_key(plan.keystore, manifest["id"], data_key), "keySlots": slots,
                  "keystore": plan.keystore.path, "stateDir": plan.state_dir,
                  "signing": {"certificate": signer.certificate_path, "key": signer.key_path} if signer else None,
                  "parts": [{"name": part.name, "kind": part.kind, "extra": part.extra} for part in parts],
                  "size": sum(os.path.getsize(os.path.join(path, RAW, part.name)) for part in parts)}
        if downtime is not None:
            record.update(servicesStopped=downtime.stopped, downtimeSeconds=round(downtime.seconds, 3))
        faults.checkpoint("capture.record")
        write_atomic(os.path.join(path, CAPTURE_RECORD), canonjson.dumps(record))
    except OSError as exc:
        discard(plan.state_dir, entry)
        if exc.errno == errno.ENOSPC:
            raise no_space(plan.temp_dir, plan.provider.estimate_size(plan.backup_type),
                           "the raw capture of backup %s" % name,
                           "the capture was removed%s and earlier backups are untouched"
                           % (", the services were started again" if plan.services else ""),
                           "Free space, or move the temporary directory (temp_dir)")
        raise_capture_error(exc, name, "the capture was removed", bool(plan.services))
    except BaseException:
        discard(plan.state_dir, entry)
        raise
    return Capture(path, record)


def seal(capture, compression_level, signer=None, signing_key_passphrase=None, operation=None) -> dict:
    """Compresses and encrypts the raw parts into the backup; removes each raw part once it is written.
    ``operation``: the running operation, told the progress."""
    record = capture.record
    dest = record["dest"]
    if signer is None and record.get("signing"):
        signer = Signer(record["signing"]["certificate"], record["signing"]["key"], signing_key_passphrase)
    check_writable_dir(dest, "backup root")
    manifest = dict(record["manifest"])
    for taken in (os.path.join(dest, capture.name), os.path.join(dest, "." + capture.name + names.PARTIAL_SUFFIX)):
        if os.path.lexists(taken):
            raise InvalidInput("cannot seal capture %s: %s already exists" % (capture.path, taken))
    data_key = capture.data_key()
    with worker_pool() as pool:
        if operation is not None:
            operation.bytes_total = record["size"]
        with BackupWriter(dest, manifest, data_key, record["keySlots"], pool, level=compression_level,
                          signer=signer, estimate=record["size"],
                          progress=operation.progress if operation is not None else None) as writer:
            for part in record["parts"]:
                raw_path = capture.raw(part["name"])
                with open(raw_path, "rb") as raw, writer.part(part["name"], part["kind"], **part["extra"]) as out:
                    shutil.copyfileobj(raw, out, COPY_BYTES)
                faults.checkpoint("seal.part")  # written, its raw part not yet removed
                os.unlink(raw_path)  # the space goes back as the backup grows
            path = writer.commit()
    result = {"changed": True, "path": path, "backup": writer.header.summary(), "capture": None}
    result.update(capture.downtime())
    return result


def seal_backup(capture, dest=None, compression_level=DEFAULT_LEVEL, state_dir=None, check_mode=False,
                signing_key_passphrase=None, lease_id=None):
    """The seal stage: turns a capture into a finished backup and removes the capture.

    A capture that is gone while ``<dest>/<name>`` is a finished backup was
    sealed already: nothing changes.
    """
    if not capture:
        raise InvalidInput("stage seal needs capture, the path that stage capture returned")
    capture = os.path.abspath(capture)
    base = os.path.basename(capture)
    if not os.path.exists(capture) and dest and base.startswith(".") and base.endswith(names.CAPTURE_SUFFIX):
        done = os.path.join(os.path.abspath(dest), base[1:-len(names.CAPTURE_SUFFIX)])
        if os.path.isfile(os.path.join(done, names.HEADER)):
            return {"changed": False, "stage": "seal", "path": done, "capture": None,
                    "backup": open_backup(done).header().summary(),
                    "msg": "capture %s was sealed already into %s" % (capture, done)}
    loaded = Capture.load(capture)
    state = StateDir(state_dir, lease_id)
    if check_mode:
        state.check_free("sealing %s" % loaded.name)
        target = os.path.join(loaded.record["dest"], loaded.name)
        return {"changed": True, "stage": "seal", "path": None, "backup": None, "capture": capture,
                "msg": "capture %s would be sealed into %s" % (capture, target)}
    with locked_operation(state, "backup", name=loaded.name, stage="seal", capture=capture,
                          dest=loaded.record["dest"]) as operation:
        began = time.monotonic()
        try:
            result = seal(loaded, compression_level, signing_key_passphrase=signing_key_passphrase, operation=operation)
        except (KeyNotFound, InvalidInput):
            raise  # nothing was consumed: the capture can be sealed once the cause is fixed
        except BaseException as exc:
            loaded.remove()
            if isinstance(exc, DrkitError):
                raise type(exc)("%s; the capture %s was removed: take the backup again" % (exc, capture))
            raise
        loaded.remove()
        result["duration_seconds"] = round(time.monotonic() - began, 3)
        result["stage"] = "seal"
        if operation.warnings:
            result["warnings"] = operation.warnings
    return result
