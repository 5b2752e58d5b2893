# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking a backup (drkit.backup.backup): planned before anything is stopped or written, then taken.

Online, the parts stream from the provider through the codec into the
backup. Offline, the services are stopped only while the raw parts are
captured (operations/stages.py), and the capture is sealed once they are up
again. A product that makes its backup itself (its tool, an appliance) makes
it once, and its files are sealed.
"""

from __future__ import annotations

import datetime
import errno
import getpass
import os
import shutil
import socket
import time

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, InvalidInput, NoSpace
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import (
    COPY_BYTES, check_writable_dir, nearest_existing, private_dir)
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import (
    parse_duration, parse_time, rfc3339, utc_now)
from ansible_collections.drkit.backup.plugins.module_utils.common.version import TOOL
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format import names
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import DEFAULT_LEVEL
from ansible_collections.drkit.backup.plugins.module_utils.format.header import new_manifest
from ansible_collections.drkit.backup.plugins.module_utils.format.writer import BackupWriter
from ansible_collections.drkit.backup.plugins.module_utils.host.capture import default_dir as default_capture_dir
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.services import ServiceControl
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.operations.stages import (
    capture_raw, raise_capture_error, seal)
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import check_scope
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import plan_protection
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import WholeProvider
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog
from ansible_collections.drkit.backup.plugins.module_utils.store.catalog import DEFAULT_ROOT


def source_host_name() -> str:
    return socket.getfqdn()


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
    for entry, header in catalog.complete_headers([dest], include_failed=False):
        if os.path.dirname(entry.path) != os.path.abspath(dest):
            continue
        try:
            created = parse_time(header.manifest["createdAt"])
        except ValueError:
            continue
        if created >= horizon and _same_kind(header, **kind):
            return entry, header
    return None


def _free_name(dest, product, backup_type, temp_dir=None, fixed=None) -> tuple:
    """A name not yet used in ``dest`` (nor by a capture); a name already taken waits for the next second.

    With ``fixed`` (a capture time already known), that time names the backup or nothing does.
    """
    while True:
        moment = fixed or utc_now()
        name = names.backup_name(product, backup_type, moment)
        taken = [os.path.join(dest, name), os.path.join(dest, "." + name + names.PARTIAL_SUFFIX),
                 os.path.join(dest, name + names.PACKED_SUFFIX)]
        taken += [os.path.join(where, "." + name + names.CAPTURE_SUFFIX) for where in (dest, temp_dir or dest)]
        if not any(os.path.lexists(path) for path in taken):
            return name, moment
        if fixed is not None:
            raise InvalidInput("a backup named %s is already in %s and holds another capture: move it away "
                               "or choose another dest" % (name, dest))
        time.sleep(1.0 - moment.microsecond / 1e6 + 0.01)


class _Plan:
    """A backup worked out before anything is stopped or written."""

    def __init__(self, keystore, provider, provider_options, backup_type, online, dest, scope, domain,
                 description, temp_dir, source_host, state_dir, protection_options, provider_secrets=None):
        check_scope(scope, domain)
        self.keystore = keystore
        self.state_dir = StateDir(state_dir).path
        self.provider = get_provider(provider, provider_options, provider_secrets, verb="backup")
        self.provider.check_backup(backup_type, online)
        # The product makes the backup itself (its tool, or an appliance): no capture stage, no services to stop.
        self.whole = isinstance(self.provider, WholeProvider)
        self.protection = plan_protection(keystore, scope, domain, **protection_options)
        # A missing or expired GPG recipient, a wrong HSM PIN, a key of another scope: found before anything stops.
        self.protection.check(scope, domain)
        self.services = [] if online or self.whole else self.provider.services()
        # The product's own tool stops its services for an offline backup (ipa-backup): nothing for the role to stop
        # or start, but the backup still takes the service down.
        self.tool_stops_services = self.provider.tool_stops(backup_type, online)
        self.stops_services = bool(self.services) or self.tool_stops_services
        self.described = self.provider.describe()
        self.backup_type = backup_type
        self.online = online
        self.scope = scope
        self.domain = domain
        self.description = description or ""
        self.dest = os.path.abspath(dest)
        # Raw captures are not encrypted: by default they go to the state directory, not the backup root.
        self.temp_dir = os.path.abspath(temp_dir) if temp_dir else default_capture_dir(self.state_dir)
        for path, what in ((self.dest, "backup root"), (self.temp_dir, "temporary directory")):
            if os.path.exists(path):
                check_writable_dir(path, what)
            else:
                check_writable_dir(nearest_existing(path), "the parent of %s" % what)
        self.host = source_host or self.provider.host() or source_host_name()

    def existing(self):
        """A finished backup that already holds what this capture would produce (adopting a native one)."""
        return self.provider.existing([(entry, header) for entry, header in catalog.complete_headers([self.dest])
                                      if os.path.dirname(entry.path) == self.dest])

    def recent(self, max_age):
        return _recent_backup(self.dest, max_age, product=self.provider.name, host=self.host, scope=self.scope,
                              domain=self.domain, backup_type=self.backup_type, online=self.online,
                              described=self.described)

    def space(self, staged) -> dict:
        """Free space where the backup goes (and where it is captured first), against the data's size."""
        estimate = self.provider.estimate_size(self.backup_type)
        places = [("dest", self.dest)] + ([("temp_dir", self.temp_dir)] if staged else [])
        devices = {}
        report = {"estimated_bytes": estimate, "enough": True}
        for label, path in places:
            usage_at = nearest_existing(path)
            device = os.stat(usage_at).st_dev
            devices[device] = devices.get(device, 0) + (estimate or 0)
            report[label] = {"path": path, "free_bytes": shutil.disk_usage(usage_at).free, "device": device}
        for label, _path in places:
            place = report[label]
            # A capture and the backup sealed from it on one file system need room for both.
            place["needed_bytes"] = devices[place.pop("device")] if estimate is not None else None
            if estimate is not None and place["free_bytes"] < place["needed_bytes"]:
                report["enough"] = False
        return report

    def manifest(self, name, moment) -> dict:
        described = dict(self.described)
        return new_manifest(
            name=name, product=self.provider.name, productVersion=self.provider.product_version(),
            restorableTo=self.provider.restorable_to(self.provider.product_version()),
            type=self.backup_type, online=self.online, scope=self.scope, domain=self.domain,
            createdAt=rfc3339(moment), sourceHost=self.host, serverRoles=described.pop("serverRoles", []),
            creator=getpass.getuser(), tool=TOOL, description=self.description, provider=described,
            **self.protection.manifest_fields())


def create_backup(keystore, provider, provider_options=None, backup_type="full", online=False,
                  dest=DEFAULT_ROOT, scope="system", domain=None, description="", max_age=0,
                  compression_level=DEFAULT_LEVEL, stop_command=None, start_command=None, stage="all",
                  temp_dir=None, source_host=None, state_dir=None, check_mode=False, lease_id=None,
                  if_nothing_to_save="fail", provider_secrets=None, **protection_options):
    """Takes one backup (``stage`` all), or captures its raw parts for :func:`seal_backup` (``capture``).

    Offline, the provider's services are stopped only while the raw parts are
    captured; ``all`` is the capture stage followed by the seal stage in one
    run. Online, ``all`` streams the parts straight into the backup. A product
    that makes its backup itself (a :class:`WholeProvider`) makes it once, in ``all``.
    ``max_age``: seconds, or a duration such as ``20h``. ``protection_options`` go to :func:`plan_protection`.
    ``if_nothing_to_save``: ``report`` returns ``nothing_to_save`` (the provider's reason) and writes nothing
    when the product is not there to back up (a fresh host), where ``fail`` lets the product's refusal fail.
    ``provider_secrets``: the provider's passwords (a database role's), never recorded anywhere.
    """
    if stage not in ("all", "capture"):
        raise InvalidInput("stage must be all or capture here; a capture is sealed by seal_backup")
    if if_nothing_to_save not in ("fail", "report"):
        raise InvalidInput("if_nothing_to_save must be fail or report, not %r" % (if_nothing_to_save,))
    if if_nothing_to_save == "report":
        reason = get_provider(provider, provider_options, provider_secrets, verb="backup").nothing_to_save()
        if reason:
            return {"changed": False, "stage": stage, "path": None, "backup": None, "capture": None, "services": [],
                    "stops_services": False, "tool_stops_services": False, "nothing_to_save": reason,
                    "msg": "nothing was backed up: %s" % reason}
    max_age = parse_duration(max_age, "max_age")
    plan = _Plan(keystore, provider, provider_options, backup_type, online, dest, scope, domain, description,
                 temp_dir, source_host, state_dir, protection_options, provider_secrets)
    if stage == "capture" and plan.whole:
        raise InvalidInput("provider %s captures with the product's own tool, whose output is its raw capture: "
                           "use stage all" % plan.provider.name)
    control = ServiceControl(stop_command, start_command)  # checks the templates, even with no service to stop
    staged = stage == "capture" or bool(plan.services)
    for found, why in ((plan.existing(), "already holds this capture: nothing was written"),
                       (plan.recent(max_age), "is younger than max_age: nothing was stopped or written")):
        if found is not None:
            entry, header = found
            return {"changed": False, "stage": stage, "path": entry.path, "backup": header.summary(),
                    "capture": None, "services": plan.services, "stops_services": plan.stops_services,
                    "tool_stops_services": plan.tool_stops_services, "msg": "backup %s %s" % (entry.name, why)}
    state = StateDir(state_dir, lease_id)
    if check_mode:
        state.check_free("a backup")
        return {"changed": True, "stage": stage, "path": None, "backup": None, "capture": None,
                "services": plan.services, "stops_services": plan.stops_services,
                "tool_stops_services": plan.tool_stops_services, "space": plan.space(staged),
                "msg": "a %s backup of %s would be written to %s%s" % (
                    plan.backup_type, plan.provider.name, plan.dest,
                    " with services stopped: %s" % ", ".join(plan.services) if plan.services else
                    " by the product's own tool" if plan.whole else "")}
    if staged:
        _check_capture_space(plan)
    with locked_operation(state, "backup", stage=stage, dest=plan.dest) as operation:
        private_dir(plan.dest)
        catalog.remember_root(state.path, plan.dest)
        private_dir(plan.temp_dir)
        name, moment = _free_name(plan.dest, plan.provider.name, plan.backup_type, plan.temp_dir,
                                  plan.provider.fixed_moment())
        operation.update(name=name)
        manifest = plan.manifest(name, moment)
        began = time.monotonic()
        if plan.whole:
            result = _backup_whole(plan, manifest, compression_level, operation)
        elif stage == "capture":
            result = capture_raw(plan, manifest, control, operation).result()
        elif plan.services:
            # Sealed at once by this run: the raw parts need not reach the disk first.
            capture = capture_raw(plan, manifest, control, operation, durable=False)
            try:
                operation.update(stage="seal")
                result = seal(capture, compression_level, plan.protection.signer, operation=operation)
            finally:
                capture.remove()
        else:
            result = _write_streaming(plan, manifest, compression_level, operation)
        result["duration_seconds"] = round(time.monotonic() - began, 3)
        result["stage"] = stage
        result["stops_services"] = plan.stops_services
        result["tool_stops_services"] = plan.tool_stops_services
        result.update(plan.provider.report)
        warnings = list(result.get("warnings", []))
        warnings += [text for text in plan.provider.warnings + list(operation.warnings) if text not in warnings]
        if warnings:
            result["warnings"] = warnings
    return result


def _check_capture_space(plan):
    estimate = plan.provider.estimate_size(plan.backup_type)
    if estimate is None:
        return
    free = shutil.disk_usage(nearest_existing(plan.temp_dir)).free
    if free < estimate:
        raise NoSpace("the temporary directory %s has %d MiB free, and the raw data to capture takes about %d "
                      "MiB: nothing was stopped or written. Free space, or move the temporary directory "
                      "(temp_dir) to a larger file system" % (plan.temp_dir, free >> 20, -(-estimate >> 20)))


def _write_streaming(plan, manifest, compression_level, operation):
    """Online: each part goes from the provider through the pipeline into the backup."""
    data_key, slots = plan.protection.new_data_key(manifest["id"])
    # The total of the progress (and what a full disk's message asks for); the files provider walks its tree.
    operation.bytes_total = plan.provider.estimate_size(plan.backup_type)
    with worker_pool() as pool:
        with BackupWriter(plan.dest, manifest, data_key, slots, pool, level=compression_level,
                          signer=plan.protection.signer, estimate=operation.bytes_total,
                          progress=operation.progress) as writer:
            try:
                for part in plan.provider.parts(plan.backup_type):
                    faults.checkpoint("capture.part")
                    with writer.part(part.name, part.kind, **part.extra) as out:
                        plan.provider.capture(part, out)
            except OSError as exc:
                raise_capture_error(exc, manifest["name"], "the partial backup was removed", False)
            writer.annotate(plan.provider.captured())
            path = writer.commit()
    return {"changed": True, "path": path, "backup": writer.header.summary(), "capture": None}


def _files_size(paths):
    """What the files take, or None when one cannot be read (the copy below then says why)."""
    try:
        return sum(os.path.getsize(path) for path in paths)
    except OSError:
        return None


def _backup_whole(plan, manifest, level, operation):
    """The product makes its backup (its tool stops and starts its services itself); then its files are sealed."""
    provider = plan.provider
    capture = provider.capture_whole(plan.backup_type, plan.online)
    data_key, slots = plan.protection.new_data_key(manifest["id"])
    committed = False
    try:
        operation.update(stage="seal")
        operation.bytes_total = _files_size(raw_path for _part, raw_path in capture.parts)
        with worker_pool() as pool:
            with BackupWriter(plan.dest, manifest, data_key, slots, pool, level=level,
                              signer=plan.protection.signer, progress=operation.progress) as writer:
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
                                       % (manifest["name"], provider.name, exc.strerror or exc,
                                          ": %s" % exc.filename if exc.filename else ""))
                path = writer.commit()
        committed = True
    finally:
        capture.finish(committed)
    result = {"changed": True, "path": path, "backup": writer.header.summary(), "capture": None}
    result.update(capture.report)
    if provider.warnings:
        result["warnings"] = list(provider.warnings)
    return result
