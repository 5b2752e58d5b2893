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

from ansible_collections.drkit.backup.plugins.module_utils import archive, canonjson, catalog, crypto, faults, packfile
from ansible_collections.drkit.backup.plugins.module_utils.errors import (
    CaptureError, DrkitError, FormatError, IntegrityError, InvalidInput, KeyNotFound, NoSpace, ServiceError)
from ansible_collections.drkit.backup.plugins.module_utils.fsutil import (
    check_writable_dir, fsync_dir, no_space, private_dir, write_atomic)
from ansible_collections.drkit.backup.plugins.module_utils.gpg import Gpg
from ansible_collections.drkit.backup.plugins.module_utils.hsm import HsmKey
from ansible_collections.drkit.backup.plugins.module_utils.keys import check_scope, scope_label
from ansible_collections.drkit.backup.plugins.module_utils.locking import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.protection import Protection, rewrap
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.services import ServiceControl, stopped
from ansible_collections.drkit.backup.plugins.module_utils.signing import Signer
from ansible_collections.drkit.backup.plugins.module_utils.staging import Staging
from ansible_collections.drkit.backup.plugins.module_utils.timeutil import parse_time, rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.version import TOOL
from ansible_collections.drkit.backup.plugins.module_utils.workers import worker_pool

DEFAULT_DEST = "/var/lib/drkit/backups"
CHANGES_SHOWN = 50
COPY_BYTES = 1 << 20


def source_host_name() -> str:
    return socket.getfqdn()


def _existing_parent(path):
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return parent or "/"


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


def _free_name(dest, product, backup_type, temp_dir=None, fixed=None) -> tuple:
    """A name not yet used in ``dest`` (nor by a capture); a name already taken waits for the next second.

    With ``fixed`` (a capture time already known), that time names the backup or nothing does.
    """
    while True:
        moment = fixed or utc_now()
        name = archive.backup_name(product, backup_type, moment)
        taken = [os.path.join(dest, name), os.path.join(dest, "." + name + archive.PARTIAL_SUFFIX),
                 os.path.join(dest, name + packfile.SUFFIX)]
        taken += [os.path.join(where, "." + name + archive.CAPTURE_SUFFIX) for where in (dest, temp_dir or dest)]
        if not any(os.path.lexists(path) for path in taken):
            return name, moment
        if fixed is not None:
            raise InvalidInput("a backup named %s is already in %s and holds another capture: move it away "
                               "or choose another dest" % (name, dest))
        time.sleep(1.0 - moment.microsecond / 1e6 + 0.01)


class _Plan:
    """A backup worked out before anything is stopped or written."""

    def __init__(self, keystore, provider, provider_options, backup_type, online, dest, scope, domain,
                 description, temp_dir, source_host, protection_options):
        check_scope(scope, domain)
        self.adapter = get_provider(provider, provider_options)
        self.adapter.check_backup(backup_type, online)
        self.protection = plan_protection(keystore, scope, domain, **protection_options)
        # A missing or expired GPG recipient, a wrong HSM PIN, a key of another scope: found before anything stops.
        self.protection.check(scope, domain)
        self.services = [] if online or self.adapter.tool_stops_services else self.adapter.services()
        # The product's own tool stops its services for an offline backup (ipa-backup): nothing for the role to stop
        # or start, but the backup still takes the service down.
        self.tool_stops_services = self.adapter.tool_stops(backup_type, online)
        self.stops_services = bool(self.services) or self.tool_stops_services
        self.described = self.adapter.describe()
        self.backup_type = backup_type
        self.online = online
        self.scope = scope
        self.domain = domain
        self.description = description or ""
        self.dest = os.path.abspath(dest)
        self.temp_dir = os.path.abspath(temp_dir) if temp_dir else self.dest
        for path, what in ((self.dest, "backup root"), (self.temp_dir, "temporary directory")):
            if os.path.exists(path):
                check_writable_dir(path, what)
            else:
                check_writable_dir(_existing_parent(path), "the parent of %s" % what)
        self.host = source_host or self.adapter.host() or source_host_name()

    def existing(self):
        """A finished backup that already holds what this capture would produce (adopting a native one)."""
        return self.adapter.existing([(entry, header) for entry, header in catalog.complete_headers([self.dest])
                                      if os.path.dirname(entry.path) == self.dest])

    def recent(self, max_age):
        return _recent_backup(self.dest, max_age, product=self.adapter.name, host=self.host, scope=self.scope,
                              domain=self.domain, backup_type=self.backup_type, online=self.online,
                              described=self.described)

    def space(self, staged) -> dict:
        """Free space where the backup goes (and where it is captured first), against the data's size."""
        estimate = self.adapter.estimate_size(self.backup_type)
        places = [("dest", self.dest)] + ([("temp_dir", self.temp_dir)] if staged else [])
        devices = {}
        report = {"estimated_bytes": estimate, "enough": True}
        for label, path in places:
            usage_at = _existing_parent(path) if not os.path.exists(path) else path
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
        return archive.new_manifest(
            name=name, product=self.adapter.name, productVersion=self.adapter.product_version(),
            type=self.backup_type, online=self.online, scope=self.scope, domain=self.domain,
            createdAt=rfc3339(moment), sourceHost=self.host, serverRoles=described.pop("serverRoles", []),
            creator=getpass.getuser(), tool=TOOL, description=self.description, provider=described,
            **self.protection.manifest_fields())


def create_backup(keystore, provider, provider_options=None, backup_type="full", online=False,
                  dest=DEFAULT_DEST, scope="system", domain=None, description="", max_age=0,
                  compression_level=archive.DEFAULT_LEVEL, stop_command=None, start_command=None, stage="all",
                  temp_dir=None, source_host=None, state_dir=None, check_mode=False, **protection_options):
    """Takes one backup (``stage`` all), or captures its raw parts for :func:`seal_backup` (``capture``).

    Offline, the provider's services are stopped only while the raw parts are
    captured; ``all`` is the capture stage followed by the seal stage in one
    run. Online, ``all`` streams the parts straight into the backup. A product
    whose own tool captures (``captures_with_tool``) runs it once, in ``all``.
    ``protection_options`` go to :func:`plan_protection`.
    """
    if stage not in ("all", "capture"):
        raise InvalidInput("stage must be all or capture here; a capture is sealed by seal_backup")
    plan = _Plan(keystore, provider, provider_options, backup_type, online, dest, scope, domain, description,
                 temp_dir, source_host, protection_options)
    if stage == "capture" and plan.adapter.captures_with_tool:
        raise InvalidInput("provider %s captures with the product's own tool, whose output is its raw capture: "
                           "use stage all" % plan.adapter.name)
    control = ServiceControl(stop_command, start_command)  # checks the templates, even with no service to stop
    staged = stage == "capture" or bool(plan.services)
    found = plan.existing()
    if found is not None:
        entry, header = found
        return {"changed": False, "stage": stage, "path": entry.path, "backup": header.summary(),
                "capture": None, "services": plan.services, "stops_services": plan.stops_services,
                "tool_stops_services": plan.tool_stops_services,
                "msg": "backup %s already holds this capture: nothing was written" % entry.name}
    recent = plan.recent(max_age)
    if recent is not None:
        entry, header = recent
        return {"changed": False, "stage": stage, "path": entry.path, "backup": header.summary(),
                "capture": None, "services": plan.services, "stops_services": plan.stops_services,
                "tool_stops_services": plan.tool_stops_services,
                "msg": "backup %s is younger than max_age: nothing was stopped or written" % entry.name}
    state = StateDir(state_dir)
    if check_mode:
        state.check_free("a backup")
        return {"changed": True, "stage": stage, "path": None, "backup": None, "capture": None,
                "services": plan.services, "stops_services": plan.stops_services,
                "tool_stops_services": plan.tool_stops_services, "space": plan.space(staged),
                "msg": "a %s backup of %s would be written to %s%s" % (
                    plan.backup_type, plan.adapter.name, plan.dest,
                    " with services stopped: %s" % ", ".join(plan.services) if plan.services else
                    " by the product's own tool" if plan.adapter.captures_with_tool else "")}
    if staged:
        _check_capture_space(plan)
    with state.operation("backup", stage=stage, dest=plan.dest) as operation:
        private_dir(plan.dest)
        private_dir(plan.temp_dir)
        name, moment = _free_name(plan.dest, plan.adapter.name, plan.backup_type, plan.temp_dir,
                                  plan.adapter.fixed_moment())
        operation.update(name=name)
        manifest = plan.manifest(name, moment)
        began = time.monotonic()
        if plan.adapter.captures_with_tool:
            result = _backup_with_tool(plan, manifest, compression_level)
        elif stage == "capture":
            result = _capture(plan, manifest, control, operation).result()
        elif plan.services:
            # Sealed at once by this run: the raw parts need not reach the disk first.
            capture = _capture(plan, manifest, control, operation, durable=False)
            try:
                operation.update(stage="seal")
                result = _seal(capture, compression_level, plan.protection.signer)
            finally:
                capture.remove()
        else:
            result = _write_streaming(plan, manifest, compression_level)
        result["duration_seconds"] = round(time.monotonic() - began, 3)
        result["stage"] = stage
        result["stops_services"] = plan.stops_services
        result["tool_stops_services"] = plan.tool_stops_services
        if operation.warnings:
            result["warnings"] = operation.warnings
    return result


def _check_capture_space(plan):
    estimate = plan.adapter.estimate_size(plan.backup_type)
    if estimate is None:
        return
    where = plan.temp_dir if os.path.exists(plan.temp_dir) else _existing_parent(plan.temp_dir)
    free = shutil.disk_usage(where).free
    if free < estimate:
        raise NoSpace("the temporary directory %s has %d MiB free, and the raw data to capture takes about %d "
                      "MiB: nothing was stopped or written. Free space, or move the temporary directory "
                      "(temp_dir) to a larger file system" % (plan.temp_dir, free >> 20, -(-estimate >> 20)))


def _write_streaming(plan, manifest, compression_level):
    """Online: each part goes from the provider through the pipeline into the backup."""
    data_key, slots = plan.protection.seal(manifest["id"])
    with worker_pool() as pool:
        with archive.BackupWriter(plan.dest, manifest, data_key, slots, pool, level=compression_level,
                                  signer=plan.protection.signer,
                                  estimate=lambda: plan.adapter.estimate_size(plan.backup_type)) as writer:
            try:
                for part in plan.adapter.parts(plan.backup_type):
                    faults.checkpoint("capture.part")
                    with writer.part(part.name, part.kind, **part.extra) as out:
                        plan.adapter.capture(part, out)
            except OSError as exc:
                _raise_capture_error(exc, manifest["name"], "the partial backup was removed", False)
            path = writer.commit()
    return {"changed": True, "path": path, "backup": writer.header.summary(), "capture": None}


def _backup_with_tool(plan, manifest, level):
    """One run of the product's tool (it stops and starts its services); then its files are sealed."""
    adapter = plan.adapter
    capture = adapter.capture_with_tool(plan.backup_type, plan.online)
    data_key, slots = plan.protection.seal(manifest["id"])
    committed = False
    try:
        with worker_pool() as pool:
            with archive.BackupWriter(plan.dest, manifest, data_key, slots, pool, level=level,
                                      signer=plan.protection.signer) as writer:
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
    result = {"changed": True, "path": path, "backup": writer.header.summary(), "capture": None}
    result.update(capture.report)
    if adapter.warnings:
        result["warnings"] = list(adapter.warnings)
    return result


def _raise_capture_error(exc, name, cleanup, services):
    if exc.errno == errno.ENOSPC:
        raise exc
    raise CaptureError("backup %s failed while capturing: %s%s; %s and earlier backups are untouched%s"
                       % (name, exc.strerror or exc, ": %s" % exc.filename if exc.filename else "", cleanup,
                          "; the services were started again" if services else ""))


# --- the two stages of an offline backup --------------------------------------------
#
# capture: raw parts into <temp_dir>/.<name>.capture/raw/ (root-only), with the
#          services stopped only for that; capture.json, written last, is what
#          the seal stage needs (the manifest so far, the key id, the parts).
# seal:    compress, encrypt and write <dest>/.<name>.partial/, rename it into
#          place, and remove the capture.

CAPTURE_FORMAT = "drkit-capture"
CAPTURE_VERSION = 1
CAPTURE_RECORD = "capture.json"
RAW = "raw"


class Capture:
    """The raw parts of one backup, waiting to be sealed."""

    def __init__(self, path, record):
        self.path = path
        self.record = record

    @property
    def name(self):
        return self.record["manifest"]["name"]

    def raw(self, part_name):
        archive.check_part_name(part_name)
        return os.path.join(self.path, RAW, part_name)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def result(self) -> dict:
        record = self.record
        result = {"changed": True, "path": None, "backup": None, "capture": self.path, "name": self.name,
                  "dest": record["dest"], "size": record["size"]}
        if record.get("servicesStopped"):
            result["services_stopped"] = record["servicesStopped"]
            result["downtime_seconds"] = record["downtimeSeconds"]
        return result

    @classmethod
    def load(cls, path):
        path = os.path.abspath(path)
        base = os.path.basename(path)
        if not (base.startswith(".") and base.endswith(archive.CAPTURE_SUFFIX)):
            raise InvalidInput("%s is not a capture (a .<name>%s directory written by stage capture)"
                               % (path, archive.CAPTURE_SUFFIX))
        if not os.path.isdir(path):
            raise InvalidInput("capture %s does not exist: it was sealed or removed already" % path)
        try:
            with open(os.path.join(path, CAPTURE_RECORD), "rb") as handle:
                raw = handle.read(archive.MAX_HEADER_BYTES)
        except FileNotFoundError:
            raise InvalidInput("capture %s has no %s: its capture was interrupted and it cannot be sealed; "
                               "remove it and take the backup again" % (path, CAPTURE_RECORD))
        record = canonjson.loads(raw, "%s of capture %s" % (CAPTURE_RECORD, path))
        manifest = record.get("manifest")
        if record.get("format") != CAPTURE_FORMAT or record.get("version") != CAPTURE_VERSION \
                or not isinstance(manifest, dict) or not isinstance(record.get("parts"), list) \
                or not isinstance(record.get("keySlots"), list) \
                or not isinstance(record.get("dest"), str) or base != ".%s%s" % (
                    manifest.get("name"), archive.CAPTURE_SUFFIX):
            raise FormatError("%s of capture %s is not a capture record this release understands"
                              % (CAPTURE_RECORD, path))
        capture = cls(path, record)
        for part in record["parts"]:
            if not os.path.isfile(capture.raw(part.get("name", ""))):
                raise IntegrityError("capture %s lacks its part %s: it cannot be sealed; remove it and take the "
                                     "backup again" % (path, part.get("name")))
        return capture


def _capture(plan, manifest, control, operation, durable=True) -> Capture:
    """Captures every raw part (services stopped only for this); returns the capture.

    With ``durable`` (a capture another run will seal), the raw parts are flushed to disk once the
    services are up again, before ``capture.json`` says the capture is complete: the flush never adds
    to the downtime, and a capture that survives a crash holds all of its data.
    """
    name = manifest["name"]
    path = os.path.join(plan.temp_dir, ".%s%s" % (name, archive.CAPTURE_SUFFIX))
    os.mkdir(path, 0o700)
    operation.update(stage="capture", capture=path, keep_capture=durable)
    parts = plan.adapter.parts(plan.backup_type)
    try:
        os.mkdir(os.path.join(path, RAW), 0o700)
        with contextlib.ExitStack() as stack:
            downtime = stack.enter_context(stopped(plan.services, control, operation)) if plan.services else None
            for part in parts:
                archive.check_part_name(part.name)
                with open(os.path.join(path, RAW, part.name), "xb") as raw:
                    plan.adapter.capture(part, raw)
                faults.checkpoint("capture.raw")  # services down, raw data half captured
        if durable:
            for part in parts:
                _fsync_file(os.path.join(path, RAW, part.name))
            fsync_dir(os.path.join(path, RAW))
        # The data key is made and wrapped now (the slots may need the HSM or gpg, checked before the stop);
        # it waits in the root-only capture beside the plaintext it will encrypt, and goes with it.
        data_key, slots = plan.protection.seal(manifest["id"])
        signer = plan.protection.signer
        record = {"format": CAPTURE_FORMAT, "version": CAPTURE_VERSION, "dest": plan.dest, "manifest": manifest,
                  "dataKey": crypto.b64e(data_key) if data_key is not None else None, "keySlots": slots,
                  "signing": {"certificate": signer.certificate_path, "key": signer.key_path} if signer else None,
                  "parts": [{"name": part.name, "kind": part.kind, "extra": part.extra} for part in parts],
                  "size": sum(os.path.getsize(os.path.join(path, RAW, part.name)) for part in parts)}
        if downtime is not None:
            record.update(servicesStopped=downtime.stopped, downtimeSeconds=round(downtime.seconds, 3))
        faults.checkpoint("capture.record")
        write_atomic(os.path.join(path, CAPTURE_RECORD), canonjson.dumps(record))
    except OSError as exc:
        shutil.rmtree(path, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise no_space(plan.temp_dir, plan.adapter.estimate_size(plan.backup_type),
                           "the raw capture of backup %s" % name,
                           "the capture was removed%s and earlier backups are untouched"
                           % (", the services were started again" if plan.services else ""),
                           "Free space, or move the temporary directory (temp_dir)")
        _raise_capture_error(exc, name, "the capture was removed", bool(plan.services))
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return Capture(path, record)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seal(capture, compression_level, signer=None, signing_key_passphrase=None) -> dict:
    """Compresses and encrypts the raw parts into the backup; removes each raw part once it is written."""
    record = capture.record
    dest = record["dest"]
    if signer is None and record.get("signing"):
        signer = Signer(record["signing"]["certificate"], record["signing"]["key"], signing_key_passphrase)
    check_writable_dir(dest, "backup root")
    manifest = dict(record["manifest"])
    for taken in (os.path.join(dest, capture.name), os.path.join(dest, "." + capture.name + archive.PARTIAL_SUFFIX)):
        if os.path.lexists(taken):
            raise InvalidInput("cannot seal capture %s: %s already exists" % (capture.path, taken))
    data_key = crypto.b64d(record["dataKey"], "capture data key", crypto.KEY_BYTES) if record["dataKey"] else None
    with worker_pool() as pool:
        with archive.BackupWriter(dest, manifest, data_key, record["keySlots"], pool, level=compression_level,
                                  signer=signer, estimate=record["size"]) as writer:
            for part in record["parts"]:
                raw_path = capture.raw(part["name"])
                with open(raw_path, "rb") as raw, writer.part(part["name"], part["kind"], **part["extra"]) as out:
                    shutil.copyfileobj(raw, out, COPY_BYTES)
                faults.checkpoint("seal.part")  # written, its raw part not yet removed
                os.unlink(raw_path)  # the space goes back as the backup grows
            path = writer.commit()
    result = {"changed": True, "path": path, "backup": writer.header.summary(), "capture": None}
    if record.get("servicesStopped"):
        result["services_stopped"] = record["servicesStopped"]
        result["downtime_seconds"] = record["downtimeSeconds"]
    return result


def seal_backup(capture, dest=None, compression_level=archive.DEFAULT_LEVEL, state_dir=None, check_mode=False,
                signing_key_passphrase=None):
    """The seal stage: turns a capture into a finished backup and removes the capture.

    A capture that is gone while ``<dest>/<name>`` is a finished backup was
    sealed already: nothing changes.
    """
    if not capture:
        raise InvalidInput("stage seal needs capture, the path that stage capture returned")
    capture = os.path.abspath(capture)
    base = os.path.basename(capture)
    if not os.path.exists(capture) and dest and base.startswith(".") and base.endswith(archive.CAPTURE_SUFFIX):
        done = os.path.join(os.path.abspath(dest), base[1:-len(archive.CAPTURE_SUFFIX)])
        if os.path.isfile(os.path.join(done, archive.HEADER)):
            return {"changed": False, "stage": "seal", "path": done, "capture": None,
                    "backup": packfile.open_backup(done).header().summary(),
                    "msg": "capture %s was sealed already into %s" % (capture, done)}
    loaded = Capture.load(capture)
    state = StateDir(state_dir)
    if check_mode:
        state.check_free("sealing %s" % loaded.name)
        target = os.path.join(loaded.record["dest"], loaded.name)
        return {"changed": True, "stage": "seal", "path": None, "backup": None, "capture": capture,
                "msg": "capture %s would be sealed into %s" % (capture, target)}
    with state.operation("backup", name=loaded.name, stage="seal", capture=capture,
                         dest=loaded.record["dest"]) as operation:
        began = time.monotonic()
        try:
            result = _seal(loaded, compression_level, signing_key_passphrase=signing_key_passphrase)
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


def delete_backup(dest, name, state_dir=None, check_mode=False):
    """Removes one backup (directory or single file) from ``dest``."""
    if not name or not archive.NAME_RE.match(name):
        raise InvalidInput("state absent needs name, a backup name such as files-full-2026-01-31-02-00-00")
    dest = os.path.abspath(dest)
    found = [entry for entry in catalog.list_root(dest)
             if entry.name == name and os.path.dirname(entry.path) == dest]
    if not found:
        return {"changed": False, "path": None, "msg": "backup %s is not in %s" % (name, dest)}
    state = StateDir(state_dir)
    if check_mode:
        state.check_free("deleting backup %s" % name)
    else:
        with state.operation("delete", name=name):
            for entry in found:
                catalog.remove(entry)
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
    if archive.NAME_RE.match(os.path.basename(path)) or \
            os.path.basename(path).endswith((archive.PARTIAL_SUFFIX, archive.CAPTURE_SUFFIX)):
        raise InvalidInput("%s has no header.json: it is an incomplete backup (a run was interrupted) or "
                           "not a backup" % path)
    return catalog.list_root(path)


def backup_info(path, verify="none", unlocker=None, trusted=None, state_dir=None):
    """Lists (and optionally verifies) the backups at ``path``; with ``state_dir``, the host's status too.

    ``trusted``: certificates a signed backup's signer must be, or be issued by.
    """
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
    if state_dir:
        status = StateDir(state_dir).status()
        result.update(operation=status["operation"], interrupted=status["interrupted"],
                      services_stopped=status["services_stopped"])
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

def restore_backup(unlocker, backup, provider=None, provider_options=None, parts=None, stop_command=None,
                   start_command=None, state_dir=None, check_mode=False, trusted=None, provider_secrets=None):
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
    unlocker.data_key(header)  # a missing key or a forged header, said plainly before anything else
    state = StateDir(state_dir)
    if check_mode:
        state.check_free("a restore of %s" % header.name)
    with contextlib.ExitStack() as stack:
        operation = None
        if not check_mode:
            operation = stack.enter_context(state.operation("restore", name=header.name, stage="verify",
                                                            backup=source.path))
        pool = stack.enter_context(worker_pool())
        if adapter.restores_with_tool:
            result = _restore_with_tool(source, header, unlocker, adapter, check_mode, trusted, pool)
        else:
            result = _restore_parts(source, header, unlocker, adapter, selected, check_mode, trusted, pool,
                                    control, operation, state)
    if operation is not None and operation.warnings:
        result.setdefault("warnings", []).extend(operation.warnings)
    return result


def _restore_parts(source, header, unlocker, adapter, selected, check_mode, trusted, pool, control, operation,
                   state):
    """Part by part, in one pass: every part is verified while the selected ones are planned (check mode) or
    staged beside their targets; only a backup that verified whole is committed, services down for that alone."""
    changes = {}
    staging = None if check_mode else Staging(state.path)

    def read(part, reader):
        if part["name"] in selected:
            changes[part["name"]] = adapter.plan_part(part, reader) if staging is None else \
                adapter.stage_part(part, reader, staging)

    try:
        header, problems = archive.check_backup(source, pool, unlocker, full=True, consumer=read, trusted=trusted)
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
            services = adapter.services()
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


def _restore_with_tool(source, header, unlocker, adapter, check_mode, trusted, pool):
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


# --- services left stopped ------------------------------------------------------------

def control_services(state="started", services=None, stop_command=None, start_command=None, state_dir=None,
                     check_mode=False):
    """Starts services (by default those runs left stopped) in reverse order, or stops services in order.

    Starting is how services that an interrupted run left stopped come back:
    each one leaves the host's record once its start command has returned.
    Services stopped here stay recorded as stopped until something starts them.
    """
    if state not in ("started", "stopped"):
        raise InvalidInput("state must be started or stopped, not %r" % (state,))
    status_dir = StateDir(state_dir)
    if services is None:
        if state == "stopped":
            raise InvalidInput("state stopped needs services, the services to stop in order")
        services = status_dir.status()["services_stopped"]
    services = list(services)
    if any(not isinstance(service, str) or not service for service in services):
        raise InvalidInput("services must be a list of service names")
    ordered = list(reversed(services)) if state == "started" else services
    result = {"changed": bool(ordered), "services": ordered, "state": state}
    if check_mode:
        status_dir.check_free("%s services" % ("starting" if state == "started" else "stopping"))
        return result
    if not ordered:
        result["services_stopped"] = status_dir.status()["services_stopped"]
        return result
    control = ServiceControl(stop_command, start_command)
    with status_dir.operation("services", stage=state) as operation:
        if state == "stopped":
            operation.leave_reason = "drkit.backup.backup_services stopped them on purpose"
            for service in ordered:
                operation.stopping(service)
                control.stop(service)
        else:
            failures = []
            for service in ordered:
                operation.stopping(service)  # until its start returns, it counts as down
                try:
                    control.start(service)
                except ServiceError as exc:
                    failures.append(str(exc))
                else:
                    operation.started(service)
            if failures:
                raise ServiceError("; ".join(failures) + ": start it by hand; the host's state still records "
                                   "it as stopped")
        if operation.warnings:
            result["warnings"] = operation.warnings
    result["services_stopped"] = status_dir.status()["services_stopped"]
    return result


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
