# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backup root holds: finished backups, single-file backups and partials.

A root holds backups directly, and copies gathered from other hosts one level
down in ``<root>/<source host>/``. Partials (``.<name>.partial``) and captures
waiting to be sealed (``.<name>.capture``) are listed as incomplete and never
opened as backups. Directories whose names start with a dot (``.safety``
included) are not searched for host copies.

A backup that failed verification has a record beside it,
``<its directory>/.verify/<name>.json`` ({result, level, at, by, problems}):
it lists as ``failed_verification``, never satisfies ``max_age``, never
counts for retention, and is never copied off the host (DESIGN decision 23).

A reader that must not lose a backup while it works (a drill, a copy) pins it:
``<its directory>/.pins/<name>.<pin id>.json`` ({id, holder, purpose,
pinned_at, expires_at}). Prune and delete leave a backup alone while it has a
pin that has not expired (DESIGN decision 24); an expired pin counts for nothing.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import uuid

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import fsync_path, private_dir, remove_quietly, write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time, rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.format import names
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup

DEFAULT_ROOT = "/var/lib/drkit/backups"
COMPLETE = "complete"
INCOMPLETE = "incomplete"
FAILED_VERIFICATION = "failed_verification"
VERIFY_DIR = ".verify"
PINS_DIR = ".pins"
SAFETY_DIR = ".safety"
ROOTS = "roots.json"


def remember_root(state_dir: str, root: str):
    """Notes in the host's state directory that ``root`` holds backups (deleting a key looks in every one)."""
    known = known_roots(state_dir)
    if root not in known:
        private_dir(state_dir)
        write_atomic(os.path.join(state_dir, ROOTS), canonjson.dumps({"roots": sorted(known + [root])}))


def known_roots(state_dir: str) -> list:
    try:
        with open(os.path.join(state_dir, ROOTS)) as handle:
            roots = json.load(handle).get("roots", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [root for root in roots if isinstance(root, str)]


class Entry:
    """One item found in a backup root."""

    def __init__(self, name, path, status, form):
        self.name = name
        self.path = path
        self.status = status
        self.form = form

    @property
    def stamp(self) -> str:
        match = names.NAME_RE.match(self.name)
        return match.group("stamp") if match else ""

    @property
    def verification_record(self) -> str:
        return os.path.join(os.path.dirname(self.path), VERIFY_DIR, self.name + ".json")

    def failed_verification(self):
        """The record of this backup's failed verification, or None."""
        try:
            with open(self.verification_record) as handle:
                record = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            record = {"result": "failed", "problems": ["its verification record cannot be read"]}
        return record if record.get("result") == "failed" else None

    def record_failed_verification(self, level: str, problems, by: str):
        private_dir(os.path.dirname(self.verification_record))
        write_atomic(self.verification_record, canonjson.dumps(
            {"result": "failed", "level": level, "at": rfc3339(utc_now()), "by": by, "problems": list(problems)}))

    def clear_failed_verification(self) -> bool:
        """Forgets an earlier failure (the backup verified now); whether there was one."""
        if not os.path.exists(self.verification_record):
            return False
        os.unlink(self.verification_record)
        return True

    @property
    def pin_dir(self) -> str:
        return os.path.join(os.path.dirname(self.path), PINS_DIR)

    def _pin_files(self) -> list:
        try:
            names_there = os.listdir(self.pin_dir)
        except FileNotFoundError:
            return []
        prefix = self.name + "."
        return sorted(os.path.join(self.pin_dir, name) for name in names_there
                      if name.startswith(prefix) and name.endswith(".json"))

    def pins(self) -> list:
        """The pins on this backup that have not expired, oldest first."""
        now = utc_now()
        live = []
        for path in self._pin_files():
            try:
                with open(path) as handle:
                    pin = json.load(handle)
                expires = parse_time(pin["expires_at"])
            except (OSError, ValueError, KeyError, TypeError):
                # A pin that cannot be read still holds the backup: losing it is worse than keeping it.
                pin = {"id": os.path.basename(path)[len(self.name) + 1:-5], "holder": "?", "purpose": "?",
                       "expires_at": None, "problem": "its pin file %s cannot be read" % path}
                expires = None
            if expires is None or expires > now:
                live.append(pin)
        return sorted(live, key=lambda pin: str(pin.get("pinned_at")))

    def add_pin(self, holder: str, purpose: str, seconds: int) -> dict:
        now = utc_now()
        pin = {"id": str(uuid.uuid4()), "holder": holder, "purpose": purpose, "pinned_at": rfc3339(now),
               "expires_at": rfc3339(now + datetime.timedelta(seconds=seconds))}
        private_dir(self.pin_dir)
        write_atomic(os.path.join(self.pin_dir, "%s.%s.json" % (self.name, pin["id"])), canonjson.dumps(pin))
        return pin

    def remove_pin(self, pin_id: str) -> bool:
        path = os.path.join(self.pin_dir, "%s.%s.json" % (self.name, pin_id))
        if not os.path.exists(path):
            return False
        os.unlink(path)
        try:
            os.rmdir(self.pin_dir)  # the last pin gone: no empty directory left in the root
        except OSError:
            pass
        return True

    def pinned_by(self) -> str:
        """A sentence naming who pins this backup and until when, or '' when nothing does."""
        return "; ".join("pinned by %s for %s until %s"
                         % (pin.get("holder"), pin.get("purpose"), pin.get("expires_at") or "it is removed")
                         for pin in self.pins())

    def describe(self) -> dict:
        failed = self.failed_verification() if self.status == COMPLETE else None
        item = {"name": self.name, "path": self.path, "status": FAILED_VERIFICATION if failed else self.status,
                "form": self.form}
        if failed:
            item["verification"] = failed
        pins = self.pins() if self.status == COMPLETE else []
        if pins:
            item["pins"] = pins
        return item


def _classify(directory: str, entry) -> Entry:
    name = entry.name
    path = os.path.join(directory, name)
    is_dir = entry.is_dir(follow_symlinks=False)
    if name.startswith(".") and name.endswith(names.CAPTURE_SUFFIX) and is_dir:
        inner = name[1:-len(names.CAPTURE_SUFFIX)]
        return Entry(inner, path, INCOMPLETE, "capture") if names.NAME_RE.match(inner) else None
    if name.startswith(".") and name.endswith(names.PARTIAL_SUFFIX):
        inner = name[1:-len(names.PARTIAL_SUFFIX)]
        form = "directory" if is_dir else "file"
        if inner.endswith(names.PACKED_SUFFIX):
            inner = inner[:-len(names.PACKED_SUFFIX)]
        if names.NAME_RE.match(inner):
            return Entry(inner, path, INCOMPLETE, form)
        return None
    if is_dir and names.NAME_RE.match(name):
        status = COMPLETE if os.path.isfile(os.path.join(path, names.HEADER)) else INCOMPLETE
        return Entry(name, path, status, "directory")
    if entry.is_file(follow_symlinks=False) and name.endswith(names.PACKED_SUFFIX) \
            and names.NAME_RE.match(name[:-len(names.PACKED_SUFFIX)]):
        return Entry(name[:-len(names.PACKED_SUFFIX)], path, COMPLETE, "file")
    return None


def list_root(root: str) -> list:
    """Entries in ``root`` and its host subdirectories, newest first."""
    found = []
    if not os.path.isdir(root):
        return found
    for entry in os.scandir(root):
        item = _classify(root, entry)
        if item is not None:
            found.append(item)
        elif entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            for sub in os.scandir(entry.path):
                item = _classify(entry.path, sub)
                if item is not None:
                    found.append(item)
    found.sort(key=lambda e: (e.stamp, e.name, e.path), reverse=True)
    return found


def entries_at(path: str) -> list:
    """The backups that ``path`` names: one backup, or everything in a backup root."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise InvalidInput("%s does not exist" % path)
    if os.path.isfile(path):
        name = os.path.basename(path)
        if not name.endswith(names.PACKED_SUFFIX):
            raise InvalidInput("%s is not a single-file backup (a <name>%s file)" % (path, names.PACKED_SUFFIX))
        return [Entry(name[:-len(names.PACKED_SUFFIX)], path, COMPLETE, "file")]
    if os.path.isfile(os.path.join(path, names.HEADER)):
        return [Entry(os.path.basename(path), path, COMPLETE, "directory")]
    if names.NAME_RE.match(os.path.basename(path)) or \
            os.path.basename(path).endswith((names.PARTIAL_SUFFIX, names.CAPTURE_SUFFIX)):
        raise InvalidInput("%s has no header.json: it is an incomplete backup (a run was interrupted) or "
                           "not a backup" % path)
    return list_root(path)


def complete_headers(roots, include_failed=True) -> list:
    """(entry, header) for every finished backup under ``roots`` whose header parses (without those that failed
    verification, unless ``include_failed``)."""
    result = []
    for root in roots:
        for entry in list_root(root):
            if entry.status != COMPLETE or not include_failed and entry.failed_verification():
                continue
            try:
                header = open_backup(entry.path).header()
            except DrkitError:
                continue
            result.append((entry, header))
    return result


def remove(entry: Entry):
    """Deletes a finished backup so that an interruption never leaves it looking finished.

    A directory loses its ``header.json`` first (it then lists as incomplete),
    then the rest; a single file goes in one unlink.
    """
    pins = entry._pin_files()  # expired ones: nothing holds the backup any more
    if entry.form == "file":
        os.unlink(entry.path)
        remove_quietly(entry.verification_record)
        for pin in pins:
            remove_quietly(pin)
        return
    header = os.path.join(entry.path, names.HEADER)
    if os.path.exists(header):
        os.unlink(header)
        fsync_path(entry.path)
    shutil.rmtree(entry.path)
    remove_quietly(entry.verification_record)
    for pin in pins:
        remove_quietly(pin)
