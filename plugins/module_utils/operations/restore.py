# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a backup (drkit.backup.restore): verified whole before anything changes.

Part by part (a :class:`PartsProvider`), every part is verified while the
chosen ones are planned (check mode) or prepared beside their targets
(host/staging.py); only a backup that verified whole is committed, with the
services down for that step alone. A product that restores as a whole (its
tool, an appliance, a database dump) gets the verified plaintext staged in its own layout.
"""

from __future__ import annotations

import contextlib
import errno
import os

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import no_space
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.services import ServiceControl, stopped
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import Staging
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.protection.trust import load_trusted
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider

# How many changed paths of each part a result lists (all of them are counted).
CHANGES_SHOWN = 50


def restore_backup(unlocker, backup, provider=None, provider_options=None, parts=None, stop_command=None,
                   start_command=None, state_dir=None, check_mode=False, trusted_certificates=None,
                   provider_secrets=None, trusted_crls=None, signature_expired="refuse", lease_id=None,
                   force_release=False):
    """Verifies the whole backup, plans the restore, and (unless checking) applies it."""
    trusted = load_trusted(trusted_certificates, trusted_crls, signature_expired)
    source = open_backup(backup)
    header = source.header()
    product = header.manifest["product"]
    if provider and provider != product:
        raise InvalidInput("backup %s was taken by provider %s; it cannot be restored with provider %s"
                           % (header.name, product, provider))
    chosen = get_provider(product, provider_options, provider_secrets, verb="restore")
    control = ServiceControl(stop_command, start_command)
    selected = list(parts) if parts else [part["name"] for part in header.parts]
    for name in selected:
        header.part(name)
    whole = chosen.restores_whole()
    if whole and set(selected) != set(part["name"] for part in header.parts):
        raise InvalidInput("provider %s restores the whole backup with the product's own tool: drop parts"
                           % chosen.name)
    # Before anything stops: the server, then the release rule the backup was made under (decision 22).
    problems = chosen.check_restore(header) + chosen.check_release(header, force_release)
    if problems:
        raise InvalidInput("backup %s does not fit this server: %s" % (header.name, "; ".join(problems)))
    unlocker.data_key(header)  # a missing key or a forged header, said plainly before anything else
    state = StateDir(state_dir, lease_id)
    if check_mode:
        state.check_free("a restore of %s" % header.name)
    with contextlib.ExitStack() as stack:
        operation = None
        if not check_mode:
            operation = stack.enter_context(locked_operation(state, "restore", name=header.name, stage="verify",
                                                             backup=source.path))
        pool = stack.enter_context(worker_pool())
        chosen.service_control, chosen.journal = control, operation
        if whole:
            result = _restore_whole(source, header, unlocker, chosen, check_mode, trusted, pool)
        else:
            result = _restore_parts(source, header, unlocker, chosen, selected, check_mode, trusted, pool,
                                    control, operation, state)
    if operation is not None and operation.warnings:
        result.setdefault("warnings", []).extend(operation.warnings)
    if trusted is not None and trusted.warnings:  # a signer accepted only by signature_expired=allow
        result.setdefault("warnings", []).extend(trusted.warnings)
    return result


def _restore_parts(source, header, unlocker, provider, selected, check_mode, trusted, pool, control, operation,
                   state):
    """Part by part, in one pass: every part is verified while the selected ones are planned (check mode) or
    staged beside their targets; only a backup that verified whole is committed, services down for that alone."""
    changes = {}
    staging = None if check_mode else Staging(state.path, header.name)
    done = [0]  # plaintext bytes of the selected parts staged so far
    if operation is not None:
        operation.bytes_total = sum(header.part(name)["size"] for name in selected)

    def read(part, reader):
        if part["name"] not in selected:
            return
        if staging is None:
            changes[part["name"]] = provider.plan_part(part, reader)
            return
        operation.update(stage="stage")
        told = _ToldReader(reader, lambda count: operation.progress(part["name"], done[0] + count, len(changes)))
        changes[part["name"]] = provider.stage_part(part, told, staging)
        done[0] += told.count
        operation.progress(part["name"], done[0], len(changes), True)

    try:
        header, problems = verify_backup(source, pool, unlocker, full=True, consumer=read, trusted=trusted)
        if problems:
            raise IntegrityError("backup %s failed verification and nothing was restored: %s"
                                 % (source.name, " ".join(problems)))
    except BaseException as exc:
        if staging is not None:
            staging.discard()
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                # New contents are staged beside their targets: at most the selected parts' plaintext.
                raise no_space(staging.last_path or state.path,
                               sum(header.part(name)["size"] for name in selected),
                               "restoring backup %s (new files are prepared beside the ones they replace)"
                               % header.name, "what it had prepared was removed and nothing was changed",
                               "Free space there and restore again") from exc
        raise
    faults.checkpoint("restore.verified")
    if staging is not None:
        if staging.steps:
            operation.update(stage="commit", parts=[name for name in selected if changes.get(name)])
            services = provider.services()
            with contextlib.ExitStack() as stack:
                if services:
                    stack.enter_context(stopped(services, control, operation))
                staging.commit()
        else:
            staging.discard()
    restored = [{"name": name, "changed": len(changes.get(name, [])),
                 "changes": changes.get(name, [])[:CHANGES_SHOWN]} for name in selected]
    changed_paths = [path for name in selected for path in changes.get(name, [])]
    return {"changed": bool(changed_paths), "restored_parts": restored, "backup": header.summary(),
            "diff": {"prepared": "\n".join(changed_paths[:1000])} if changed_paths else {}}


def _restore_whole(source, header, unlocker, provider, check_mode, trusted, pool):
    """Verifies every part while writing its plaintext to the provider's stage, then runs the tool on it."""

    def stage_part(stage_dir):
        def consume(part, reader):
            fd = os.open(os.path.join(stage_dir, part["name"]), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while True:
                    data = reader.read_chunk()
                    if not data:
                        break
                    out.write(data)
        return consume

    if check_mode:
        header, problems = verify_backup(source, pool, unlocker, full=True, trusted=trusted)
        if problems:
            raise IntegrityError("backup %s failed verification: %s" % (source.name, " ".join(problems)))
        actions = provider.restore_plan(header)
    else:
        with provider.restore_stage(header) as stage_dir:
            header, problems = verify_backup(source, pool, unlocker, full=True,
                                             consumer=stage_part(stage_dir), trusted=trusted)
            if problems:
                raise IntegrityError("backup %s failed verification and nothing was restored: %s"
                                     % (source.name, " ".join(problems)))
            actions = provider.restore_whole(header, stage_dir)
    result = {"changed": True, "actions": actions, "backup": header.summary(),
              "restored_parts": [{"name": part["name"], "changed": 1, "changes": []} for part in header.parts],
              "diff": {"prepared": "\n".join(actions)}}
    result.update(provider.report)
    if provider.warnings:
        result["warnings"] = list(provider.warnings)
    return result


class _ToldReader:
    """A part's plaintext reader that tells how much of it was read (the restore's progress)."""

    def __init__(self, reader, tell):
        self._reader = reader
        self._tell = tell
        self.count = 0

    def read(self, size=-1):
        data = self._reader.read(size)
        self.count += len(data)
        self._tell(self.count)
        return data

    def readinto(self, buffer):
        count = self._reader.readinto(buffer)
        self.count += count or 0
        self._tell(self.count)
        return count

    def __getattr__(self, name):
        return getattr(self._reader, name)
