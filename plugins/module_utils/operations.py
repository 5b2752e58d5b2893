# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operations the modules run: back up, restore, inspect, delete, pack.

Each works out what it would do first; in check mode it stops there and
reports the plan. The modules only parse parameters and report.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import getpass
import os
import shutil
import socket
import time

from ansible_collections.drkit.backup.plugins.module_utils import archive, catalog, packfile
from ansible_collections.drkit.backup.plugins.module_utils.errors import (
    CaptureError, DrkitError, IntegrityError, InvalidInput, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.fsutil import check_writable_dir, private_dir, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.gpg import Gpg
from ansible_collections.drkit.backup.plugins.module_utils.hsm import HsmKey
from ansible_collections.drkit.backup.plugins.module_utils.keys import check_scope, scope_label
from ansible_collections.drkit.backup.plugins.module_utils.protection import Protection, rewrap
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.services import ServiceControl, stopped
from ansible_collections.drkit.backup.plugins.module_utils.signing import Signer
from ansible_collections.drkit.backup.plugins.module_utils.timeutil import parse_time, rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.version import TOOL
from ansible_collections.drkit.backup.plugins.module_utils.workers import worker_pool

DEFAULT_DEST = "/var/lib/drkit/backups"
CHANGES_SHOWN = 50
COPY_BYTES = 1 << 20


def source_host() -> str:
    return socket.getfqdn()


# --- backup ----------------------------------------------------------------------

def plan_protection(keystore, scope="system", domain=None, encryption="key", key_id=None, escrow_key_ids=(),
                    gpg_home=None, gpg_recipients=(), tied_to_hsm=False, hsm=None, signing_certificate=None,
                    signing_key=None, signing_key_passphrase=None):
    """How a new backup will be protected, from the module options; refuses combinations that do not fit.

    ``encryption``: ``key`` (a backup key: ``key_id``, or the scope's default), ``gpg`` (GnuPG recipients
    only) or ``none``. ``escrow_key_ids`` and, with ``key``, ``gpg_recipients`` add slots (escrow).
    ``hsm`` holds module, token_label, key_label and pin.
    """
    if tied_to_hsm and not hsm:
        raise InvalidInput("tied_to_hsm needs hsm (module, token_label, key_label, pin)")
    if bool(signing_certificate) != bool(signing_key):
        raise InvalidInput("signing needs both signing_certificate and signing_key")
    if encryption not in ("key", "gpg", "none"):
        raise InvalidInput("encryption must be key, gpg or none, not %r" % (encryption,))
    if encryption == "none":
        for given, name in ((key_id, "key_id"), (escrow_key_ids, "escrow_key_ids"),
                            (gpg_recipients, "gpg_recipients"), (tied_to_hsm, "tied_to_hsm")):
            if given:
                raise InvalidInput("encryption none was asked for together with %s%s: drop %s, or use encryption "
                                   "key" % (name, " %s" % given if name == "key_id" else "", name))
    if encryption == "gpg" and (key_id or not gpg_recipients):
        raise InvalidInput("encryption gpg takes gpg_recipients (at least one) and no key_id")
    keys = []
    if encryption == "key":
        if key_id:
            keys.append(keystore.require(key_id))
        else:
            default = keystore.default_key(scope, domain)
            if default is None:
                raise KeyNotFound("there is no default backup key for the %s scope in %s: create one with "
                                  "drkit.backup.backup_key (default: true), or give key_id"
                                  % (scope_label(scope, domain), keystore))
            keys.append(default)
    keys += [keystore.require(escrow) for escrow in escrow_key_ids or ()]
    return Protection(
        keys=keys, gpg=Gpg(gpg_home) if gpg_recipients else None, gpg_recipients=gpg_recipients or (),
        hsm=HsmKey(hsm.get("module"), hsm.get("token_label"), hsm.get("key_label"), hsm.get("pin"))
        if tied_to_hsm else None,
        signer=Signer(signing_certificate, signing_key, signing_key_passphrase) if signing_certificate else None)


def _same_kind(header, product, host, scope, domain, backup_type, online, described) -> bool:
    manifest = header.manifest
    return (manifest.get("product"), manifest.get("sourceHost"), manifest.get("scope"), manifest.get("domain"),
            manifest.get("type"), manifest.get("online"), manifest.get("provider")) == (
                product, host, scope, domain, backup_type, online, described)


def _recent_backup(dest, max_age, **kind):
    """A finished backup of the same kind younger than ``max_age`` seconds, or None."""
    if not max_age:
        return None
    horizon = utc_now() - datetime.timedelta(seconds=max_age)
    for entry, header in catalog.complete_headers([dest]):
        if os.path.dirname(entry.path) != os.path.abspath(dest):
            continue
        try:
            created = parse_time(header.manifest["createdAt"])
        except ValueError:
            continue
        if created >= horizon and _same_kind(header, **kind):
            return entry, header
    return None


def _free_name(dest, product, backup_type, fixed=None) -> tuple:
    """A name not yet used in ``dest``; a name already taken waits for the next second.

    With ``fixed`` (a capture time already known), that time names the backup or nothing does.
    """
    while True:
        moment = fixed or utc_now()
        name = archive.backup_name(product, backup_type, moment)
        taken = [os.path.join(dest, name), os.path.join(dest, "." + name + archive.PARTIAL_SUFFIX),
                 os.path.join(dest, name + packfile.SUFFIX)]
        if not any(os.path.lexists(path) for path in taken):
            return name, moment
        if fixed is not None:
            raise InvalidInput("a backup named %s is already in %s and holds another capture: move it away "
                               "or choose another dest" % (name, dest))
        time.sleep(1.0 - moment.microsecond / 1e6 + 0.01)


def create_backup(keystore, provider, provider_options=None, backup_type="full", online=False,
                  dest=DEFAULT_DEST, scope="system", domain=None, description="", max_age=0,
                  compression_level=archive.DEFAULT_LEVEL, stop_command=None, start_command=None,
                  check_mode=False, **protection_options):
    """Takes one backup; returns the module result. ``protection_options`` go to :func:`plan_protection`."""
    check_scope(scope, domain)
    adapter = get_provider(provider, provider_options)
    adapter.check_backup(backup_type, online)
    protection = plan_protection(keystore, scope, domain, **protection_options)
    # A missing or expired GPG recipient, a wrong HSM PIN, a key of another scope: found before anything stops.
    protection.check(scope, domain)
    services = [] if online or adapter.tool_stops_services else adapter.services()
    control = ServiceControl(stop_command, start_command)  # checks the templates, even with no service to stop
    described = adapter.describe()
    dest = os.path.abspath(dest)
    if os.path.exists(dest):
        check_writable_dir(dest, "backup root")
    else:
        check_writable_dir(_existing_parent(dest), "the parent of backup root")
    host = adapter.host() or source_host()
    found = adapter.existing([(entry, header) for entry, header in catalog.complete_headers([dest])
                              if os.path.dirname(entry.path) == dest])
    if found is not None:
        entry, header = found
        return {"changed": False, "path": entry.path, "backup": header.summary(),
                "msg": "backup %s already holds this capture: nothing was written" % entry.name}
    recent = _recent_backup(dest, max_age, product=adapter.name, host=host, scope=scope, domain=domain,
                            backup_type=backup_type, online=online, described=described)
    if recent is not None:
        entry, header = recent
        return {"changed": False, "path": entry.path, "backup": header.summary(),
                "msg": "backup %s is younger than max_age: nothing was stopped or written" % entry.name}
    if check_mode:
        return {"changed": True, "path": None, "backup": None,
                "msg": "a %s backup of %s would be written to %s%s" % (
                    backup_type, adapter.name, dest,
                    " with services stopped: %s" % ", ".join(services) if services else
                    " by the product's own tool" if adapter.captures_with_tool else "")}
    private_dir(dest)
    began = time.monotonic()
    name, moment = _free_name(dest, adapter.name, backup_type, adapter.fixed_moment())
    manifest = archive.new_manifest(
        name=name, product=adapter.name, productVersion=adapter.product_version(), type=backup_type,
        online=online, scope=scope, domain=domain, createdAt=rfc3339(moment), sourceHost=host,
        serverRoles=described.pop("serverRoles", []), creator=getpass.getuser(), tool=TOOL,
        description=description or "", provider=described, **protection.manifest_fields())
    data_key, slots = protection.seal(manifest["id"])
    if adapter.captures_with_tool:
        return _backup_with_tool(adapter, backup_type, online, manifest, data_key, slots, dest,
                                 compression_level, began, protection.signer)
    parts = adapter.parts(backup_type)
    downtime = None
    with worker_pool() as pool:
        with archive.BackupWriter(dest, manifest, data_key, slots, pool, level=compression_level,
                                  signer=protection.signer) as writer:
            try:
                if services:
                    downtime = _capture_offline(adapter, parts, services, control, writer, dest, name)
                else:
                    for part in parts:
                        with writer.part(part.name, part.kind, **part.extra) as out:
                            adapter.capture(part, out)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise
                raise CaptureError("backup %s failed while capturing: %s%s; the partial backup was removed "
                                   "and earlier backups are untouched%s"
                                   % (name, exc.strerror or exc, ": %s" % exc.filename if exc.filename else "",
                                      "; the services were started again" if services else ""))
            path = writer.commit()
    result = {"changed": True, "path": path, "backup": writer.header.summary(),
              "duration_seconds": round(time.monotonic() - began, 3)}
    if downtime is not None:
        result["downtime_seconds"] = round(downtime.seconds, 3)
        result["services_stopped"] = downtime.stopped
    return result


def _backup_with_tool(adapter, backup_type, online, manifest, data_key, slots, dest, level, began, signer):
    """One run of the product's tool (it stops and starts its services); then its files are sealed."""
    capture = adapter.capture_with_tool(backup_type, online)
    committed = False
    try:
        with worker_pool() as pool:
            with archive.BackupWriter(dest, manifest, data_key, slots, pool, level=level, signer=signer) as writer:
                writer.annotate(capture.manifest)
                try:
                    for part, raw_path in capture.parts:
                        with open(raw_path, "rb") as raw, writer.part(part.name, part.kind, **part.extra) as out:
                            shutil.copyfileobj(raw, out, COPY_BYTES)
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        raise
                    raise CaptureError("backup %s failed while reading the output of %s's tool: %s%s; the partial "
                                       "backup was removed and the tool's own output was kept"
                                       % (manifest["name"], adapter.name, exc.strerror or exc,
                                          ": %s" % exc.filename if exc.filename else ""))
                path = writer.commit()
        committed = True
    finally:
        capture.finish(committed)
    result = {"changed": True, "path": path, "backup": writer.header.summary(),
              "duration_seconds": round(time.monotonic() - began, 3)}
    result.update(capture.report)
    if adapter.warnings:
        result["warnings"] = list(adapter.warnings)
    return result


def _existing_parent(path):
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return parent or "/"


def _capture_offline(adapter, parts, services, control, writer, dest, name):
    """Services are down only while the raw parts are copied; sealing runs after they are up."""
    capture_dir = os.path.join(dest, ".%s.capture" % name)
    private_dir(capture_dir)
    try:
        with stopped(services, control) as downtime:
            for part in parts:
                with open(os.path.join(capture_dir, part.name), "xb") as raw:
                    adapter.capture(part, raw)
        for part in parts:
            raw_path = os.path.join(capture_dir, part.name)
            with open(raw_path, "rb") as raw, writer.part(part.name, part.kind, **part.extra) as out:
                shutil.copyfileobj(raw, out, COPY_BYTES)
            os.unlink(raw_path)
    finally:
        shutil.rmtree(capture_dir, ignore_errors=True)
    return downtime


def delete_backup(dest, name, check_mode=False):
    """Removes one backup (directory or single file) from ``dest``."""
    if not name or not archive.NAME_RE.match(name):
        raise InvalidInput("state absent needs name, a backup name such as files-full-2026-01-31-02-00-00")
    dest = os.path.abspath(dest)
    found = [entry for entry in catalog.list_root(dest)
             if entry.name == name and os.path.dirname(entry.path) == dest]
    if not found:
        return {"changed": False, "path": None, "msg": "backup %s is not in %s" % (name, dest)}
    if not check_mode:
        for entry in found:
            if os.path.isdir(entry.path):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
    return {"changed": True, "path": found[0].path, "removed": [entry.path for entry in found]}


# --- inspect and verify ------------------------------------------------------------

def _entries(path):
    """The backups that ``path`` names: one backup, or everything in a backup root."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise InvalidInput("%s does not exist" % path)
    if os.path.isfile(path):
        name = os.path.basename(path)
        if not name.endswith(packfile.SUFFIX):
            raise InvalidInput("%s is not a single-file backup (a <name>%s file)" % (path, packfile.SUFFIX))
        return [catalog.Entry(name[:-len(packfile.SUFFIX)], path, catalog.COMPLETE, "file")]
    if os.path.isfile(os.path.join(path, archive.HEADER)):
        return [catalog.Entry(os.path.basename(path), path, catalog.COMPLETE, "directory")]
    if archive.NAME_RE.match(os.path.basename(path)) or os.path.basename(path).endswith(archive.PARTIAL_SUFFIX):
        raise InvalidInput("%s has no header.json: it is an incomplete backup (a run was interrupted) or "
                           "not a backup" % path)
    return catalog.list_root(path)


def backup_info(path, verify="none", unlocker=None, trusted=None):
    """Lists (and optionally verifies) the backups at ``path``; ``trusted``: certificates a signer must match."""
    if verify not in ("none", "checksum", "full"):
        raise InvalidInput("verify must be none, checksum or full")
    listed, problems = [], []
    with worker_pool() as pool:
        for entry in _entries(path):
            item = entry.describe()
            if entry.status == catalog.COMPLETE:
                item.update(_inspect(entry, verify, unlocker, trusted, pool))
                problems.extend(item.get("problems", []))
            listed.append(item)
    result = {"changed": False, "backups": listed}
    if verify != "none":
        result["verified"] = not problems and any(b["status"] == catalog.COMPLETE for b in listed)
        result["problems"] = problems
    return result


def _inspect(entry, verify, unlocker, trusted, pool) -> dict:
    try:
        source = packfile.open_backup(entry.path)
        if verify == "none":
            return {"header": source.header().summary()}
        header, problems = archive.check_backup(source, pool, unlocker, full=verify == "full", trusted=trusted)
    except (IntegrityError, InvalidInput) as exc:
        return {"status": "damaged", "verified": False, "problems": [str(exc)]}
    item = {"verified": not problems, "problems": problems}
    if header is not None:
        item["header"] = header.summary()
    else:
        item["status"] = "damaged"
    return item


# --- restore ----------------------------------------------------------------------

def restore_backup(unlocker, backup, provider=None, provider_options=None, parts=None,
                   stop_command=None, start_command=None, check_mode=False, trusted=None, provider_secrets=None):
    """Verifies the whole backup, plans the restore, and (unless checking) applies it."""
    source = packfile.open_backup(backup)
    header = source.header()
    product = header.manifest["product"]
    if provider and provider != product:
        raise InvalidInput("backup %s was taken by provider %s; it cannot be restored with provider %s"
                           % (header.name, product, provider))
    adapter = get_provider(product, provider_options, provider_secrets)
    control = ServiceControl(stop_command, start_command)
    selected = list(parts) if parts else [part["name"] for part in header.parts]
    for name in selected:
        header.part(name)
    if adapter.restores_with_tool and set(selected) != set(part["name"] for part in header.parts):
        raise InvalidInput("provider %s restores the whole backup with the product's own tool: drop parts"
                           % adapter.name)
    problems = adapter.check_restore(header)
    if problems:
        raise InvalidInput("backup %s does not fit this server: %s" % (header.name, "; ".join(problems)))
    if adapter.restores_with_tool:
        return _restore_with_tool(source, header, unlocker, adapter, check_mode, trusted)

    planned = {}

    def dry_run(part, reader):
        if part["name"] in selected:
            planned[part["name"]] = adapter.restore_part(part, reader, check_mode=True)

    unlocker.data_key(header)  # a missing key or a forged header, said plainly before anything else
    with worker_pool() as pool:
        header, problems = archive.check_backup(source, pool, unlocker, full=True, consumer=dry_run,
                                                trusted=trusted)
        if problems:
            raise IntegrityError("backup %s failed verification and nothing was restored: %s"
                                 % (source.name, " ".join(problems)))
        to_apply = [name for name in selected if planned.get(name)]
        applied = planned
        if to_apply and not check_mode:
            applied = _apply_restore(source, header, unlocker, adapter, to_apply, pool, control)
    restored = [{"name": name, "changed": len(applied.get(name, [])),
                 "changes": applied.get(name, [])[:CHANGES_SHOWN]} for name in selected]
    changed_paths = [path for name in selected for path in applied.get(name, [])]
    return {"changed": bool(changed_paths), "restored_parts": restored, "backup": header.summary(),
            "diff": {"prepared": "\n".join(changed_paths[:1000])} if changed_paths else {}}


def _restore_with_tool(source, header, unlocker, adapter, check_mode, trusted):
    """Verifies every part while writing its plaintext to the provider's stage, then runs the tool on it."""
    unlocker.data_key(header)  # a missing key or a forged header, said plainly before anything else

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

    with worker_pool() as pool:
        if check_mode:
            header, problems = archive.check_backup(source, pool, unlocker, full=True, trusted=trusted)
            if problems:
                raise IntegrityError("backup %s failed verification: %s" % (source.name, " ".join(problems)))
            actions = adapter.restore_plan(header)
        else:
            with adapter.restore_stage(header) as stage_dir:
                header, problems = archive.check_backup(source, pool, unlocker, full=True,
                                                        consumer=stage_part(stage_dir), trusted=trusted)
                if problems:
                    raise IntegrityError("backup %s failed verification and nothing was restored: %s"
                                         % (source.name, " ".join(problems)))
                actions = adapter.restore_with_tool(header, stage_dir)
    result = {"changed": True, "actions": actions, "backup": header.summary(),
              "restored_parts": [{"name": part["name"], "changed": 1, "changes": []} for part in header.parts],
              "diff": {"prepared": "\n".join(actions)}}
    result.update(adapter.report)
    if adapter.warnings:
        result["warnings"] = list(adapter.warnings)
    return result


def _apply_restore(source, header, unlocker, adapter, names, pool, control):
    data_key = unlocker.data_key(header)
    services = adapter.services()
    applied = {}
    with contextlib.ExitStack() as stack:
        if services:
            stack.enter_context(stopped(services, control))
        for name in names:
            handle, reader, part = archive.open_part_reader(source, header, data_key, name, pool)
            with handle:
                applied[name] = adapter.restore_part(part, reader, check_mode=False)
                reader.drain()
    return applied


# --- single-file form ---------------------------------------------------------------

def pack_backup(src, dest, check_mode=False):
    """Packs backup directory ``src`` into one ``.drkit`` file, or unpacks one into root ``dest``."""
    source = packfile.open_backup(src)
    header = source.header()
    if source.form == "directory":
        target = dest if dest.endswith(packfile.SUFFIX) else os.path.join(dest, source.name + packfile.SUFFIX)
        target = os.path.abspath(target)
        if os.path.exists(target):
            existing = packfile.PackedSource(target)
            if existing.header_bytes() == source.header_bytes():
                return {"changed": False, "path": target, "backup": header.summary(), "operation": "pack"}
            raise InvalidInput("%s already exists and holds another backup: remove it or choose another dest"
                               % target)
        if not check_mode:
            private_dir(os.path.dirname(target))
            packfile.pack(source, target)
        return {"changed": True, "path": target, "backup": header.summary(), "operation": "pack"}
    root = os.path.abspath(dest)
    target = os.path.join(root, header.name)
    if os.path.exists(target):
        if os.path.isfile(os.path.join(target, archive.HEADER)) and \
                archive.DirectorySource(target).header_bytes() == source.header_bytes():
            return {"changed": False, "path": target, "backup": header.summary(), "operation": "unpack"}
        raise InvalidInput("%s already exists and holds another backup: remove it or choose another dest"
                           % target)
    if not check_mode:
        private_dir(root)
        packfile.unpack(source, root)
    return {"changed": True, "path": target, "backup": header.summary(), "operation": "unpack"}


# --- keys ----------------------------------------------------------------------------

def backups_only_opened_by(key, keystore, roots) -> list:
    """Backups under ``roots`` that nothing else opens: no other key in ``keystore``, no GnuPG recipient."""
    others = {other.id for other in keystore.keys()} - {key.id}
    return [entry.path for entry, header in catalog.complete_headers(roots)
            if key.id in header.key_ids and not set(header.key_ids) & others
            and not header.protection()["gpgRecipients"]]


def rekey_backups(unlocker, path, key_ids=(), gpg_home=None, gpg_recipients=(), check_mode=False):
    """Makes every backup at ``path`` open with exactly ``key_ids`` and ``gpg_recipients``.

    Only the key slots in the header change, through a temporary file and a
    rename, so a crash leaves each backup with its old header or its new one.
    """
    keys = [unlocker.keystore.require(key_id) for key_id in key_ids or ()]
    gpg = Gpg(gpg_home) if gpg_recipients else None
    result = {"changed": False, "rekeyed": [], "unchanged": [], "failed": []}
    for entry in _entries(path):
        if entry.status != catalog.COMPLETE:
            continue
        try:
            source = packfile.open_backup(entry.path)
            header = source.header()
            if not header.digest_ok():
                raise IntegrityError("header.json of backup %s does not match its checksum: it was changed"
                                     % header.name)
            if not header.encrypted:
                raise InvalidInput("backup %s is not encrypted: there are no keys to change" % header.name)
            if not header.manifest.get("tiedToHSM"):
                unlocker.data_key(header)  # the manifest must authenticate before new slots vouch for it
            slots = rewrap(header, unlocker, keys, gpg, gpg_recipients or ())
        except DrkitError as exc:
            result["failed"].append({"path": entry.path, "msg": str(exc)})
            continue
        if slots == header.slots:
            result["unchanged"].append(entry.path)
            continue
        if not check_mode:
            doc = dict(header.doc, keySlots=slots)
            raw = archive.Header(doc, header.where).to_bytes()
            if source.form == "directory":
                write_atomic(os.path.join(source.path, archive.HEADER), raw)
            else:
                packfile.pack(source, source.path, header_raw=raw)
        result["rekeyed"].append(entry.path)
        result["changed"] = True
    return result
