# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rotating a backup's data key (drkit.backup.backup_rekey with rotate_data_key): every part re-encrypted.

Rewriting key slots (operations/rekey.py) never changes the data key, so a key
that was removed still opens any older copy of the backup, and with the header
of such a copy the parts in place too. Here every part is decrypted and
encrypted again under a new random data key, chunk by chunk through the part
codec (memory stays a few chunks whatever the size of a part), with new slots
for exactly the holders asked for. The backup keeps its name, id and every
manifest field but the parts' stored sizes and checksums; the manifest gets a
new MAC, and a signature is made again with the signer given, or dropped.

Crash safety. The new backup is built and verified inside a hidden work
directory beside the old one, ``.<name>.rekey/<name>`` (``.<name>.drkit.rekey``
for a single file), which nothing else writes or lists. Then, for a directory:

1. the old backup is renamed to ``.<name>.rekey/old`` (a directory cannot be
   renamed over a non-empty one),
2. the new one is renamed to ``<name>``,
3. the work directory is removed.

A single file is packed from the new directory to ``.<name>.drkit.partial``
and renamed over the old file in one step. Killed anywhere, ``<name>`` holds
the old backup or the new one, complete, except between steps 1 and 2, where
it is missing and both are whole in the work directory. The next
``backup_rekey`` run on that path or root (under the host's lock) puts things
right before anything else, by what it finds (:func:`recover`): with
``<name>`` in place the work directory is only leftovers and goes; without
it, the new backup, verified before step 1, is moved into place (or the old
one back, if the new is not there).
"""

from __future__ import annotations

import copy
import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    IntegrityError, InvalidInput, KeyNotFound, NoSpace)
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import (
    fsync_path, mib, no_space, remove_quietly)
from ansible_collections.drkit.backup.plugins.module_utils.format import names, single_file
from ansible_collections.drkit.backup.plugins.module_utils.format.header import mac_ok
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import DirectorySource
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import open_part_reader, verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.writer import BackupWriter
from ansible_collections.drkit.backup.plugins.module_utils.protection.hsm import HsmKey
from ansible_collections.drkit.backup.plugins.module_utils.protection.signing import signer_subject
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Protection

WORK_SUFFIX = ".rekey"
OLD = "old"
# Part fields that the writer computes; every other field of a part entry is carried over as it is.
_COMPUTED = ("name", "kind", "size", "storedSize", "storedSha256", "sha256")


def work_dir(final: str) -> str:
    return os.path.join(os.path.dirname(final), "." + os.path.basename(final) + WORK_SUFFIX)


def _backup_name(final: str) -> str:
    base = os.path.basename(final)
    return base[:-len(names.PACKED_SUFFIX)] if base.endswith(names.PACKED_SUFFIX) else base


def _is_backup_name(base: str) -> bool:
    inner = base[:-len(names.PACKED_SUFFIX)] if base.endswith(names.PACKED_SUFFIX) else base
    return bool(names.NAME_RE.match(inner))


def pending(path: str) -> list:
    """(backup path, work directory) of every rotation a killed run may have left at ``path``.

    ``path`` is a backup (which may be missing, killed between the two renames) or a backup root, whose host
    subdirectories are searched as the catalog lists them.
    """
    path = os.path.abspath(path)
    base = os.path.basename(path)
    if not os.path.isdir(path) or os.path.isfile(os.path.join(path, names.HEADER)) or _is_backup_name(base):
        return [(path, work_dir(path))] if os.path.isdir(work_dir(path)) else []
    found = []
    places = [path] + [entry.path for entry in os.scandir(path) if entry.is_dir(follow_symlinks=False)
                       and not entry.name.startswith(".") and not names.NAME_RE.match(entry.name)]
    for place in places:
        for entry in os.scandir(place):
            inner = entry.name[1:-len(WORK_SUFFIX)]
            if entry.name.startswith(".") and entry.name.endswith(WORK_SUFFIX) and _is_backup_name(inner) \
                    and entry.is_dir(follow_symlinks=False):
                found.append((os.path.join(place, inner), entry.path))
    return sorted(found)


def _renamed(src, dst):
    os.rename(src, dst)
    fsync_path(os.path.dirname(dst))
    fsync_path(os.path.dirname(src))


def recover(final: str, work: str, check_mode=False) -> str:
    """Finishes or undoes the rotation a killed run left at ``final``; returns the sentence that says which."""
    built = os.path.join(work, _backup_name(final))
    old = os.path.join(work, OLD)
    if os.path.lexists(final):
        # Killed before the old backup was moved aside, or after the new one took its place.
        outcome = "the backup in place is whole, and what the run left %s removed"
        if not check_mode:
            shutil.rmtree(work)
            if final.endswith(names.PACKED_SUFFIX):
                remove_quietly(os.path.join(os.path.dirname(final), "." + os.path.basename(final)
                                            + names.PARTIAL_SUFFIX))
    elif os.path.isfile(os.path.join(built, names.HEADER)) and os.path.isdir(old):
        # Killed between the renames: the new backup was verified before the old one was moved aside.
        outcome = "the re-encrypted backup, verified before the swap began, %s put in place"
        if not check_mode:
            _renamed(built, final)
            shutil.rmtree(work)
    elif os.path.isfile(os.path.join(old, names.HEADER)):
        outcome = "the old backup %s put back in place"
        if not check_mode:
            _renamed(old, final)
            shutil.rmtree(work)
    else:
        outcome = "the backup is gone (deleted since), and what the run left %s removed"
        if not check_mode:
            shutil.rmtree(work)
    return "an earlier run rotating the data key of %s was killed before it finished: %s" % (
        final, outcome % ("would be" if check_mode else "was"))


class _NewKey:
    """Opens the re-encrypted backup for its verification: with what this host holds when it can (the slots
    then prove to open), else (new holders held elsewhere, such as an offline GnuPG key) with the new key."""

    def __init__(self, unlocker, data_key):
        self._unlocker = unlocker
        self._key = data_key

    def data_key(self, header):
        try:
            opened = self._unlocker.data_key(header)
        except KeyNotFound:
            opened = self._key
        if opened != self._key or not mac_ok(header, self._key):
            raise IntegrityError("the re-encrypted copy of backup %s does not open with its new key" % header.name)
        return self._key


class Plan:
    """A rotation worked out, and everything that could fail tried, before anything is written."""

    def __init__(self, source, header, unlocker, keys, gpg, gpg_recipients, hsm=None, signer=None):
        self.source = source
        self.header = header
        self.signer = signer
        self.warnings = []
        manifest = header.manifest
        major, _sep, minor = manifest["formatVersion"].partition(".")
        ours_major, _sep, ours_minor = names.FORMAT_VERSION.partition(".")
        if major != ours_major or not minor.isdigit() or int(minor) > int(ours_minor):
            raise InvalidInput("backup %s was written in format %s by a newer drkit.backup; rotating its data key "
                               "rewrites every part, which this release does for format %s only: upgrade the "
                               "collection on this host" % (header.name, manifest["formatVersion"],
                                                            names.FORMAT_VERSION))
        tied = None
        if manifest.get("tiedToHSM"):
            described = manifest.get("hsm") or {}
            if not hsm:
                raise KeyNotFound("backup %s is tied to HSM key %s on token %s: rotating its data key needs that "
                                  "token to wrap the new key: give hsm (module and pin), on a host where that key "
                                  "is present" % (header.name, described.get("keyLabel"), described.get("tokenLabel")))
            for option, field in (("token_label", "tokenLabel"), ("key_label", "keyLabel")):
                if hsm.get(option) and hsm[option] != described.get(field):
                    raise InvalidInput("backup %s is tied to HSM %s %s, not %s: drop hsm.%s (the new data key is "
                                       "wrapped by the same HSM key)" % (header.name, field, described.get(field),
                                                                         hsm[option], option))
            tied = HsmKey(hsm.get("module"), described.get("tokenLabel"), described.get("keyLabel"), hsm.get("pin"))
        self.protection = Protection(keys=keys, gpg=gpg, gpg_recipients=gpg_recipients, hsm=tied)
        if not self.protection.encrypted:
            raise InvalidInput("rotating the data key of %s would leave no way to open it: give key_ids or "
                               "gpg_recipients" % header.name)
        # Keys of the right scope, every GnuPG recipient and the HSM key tried now, before any byte is written.
        self.protection.check(manifest["scope"], manifest.get("domain"))
        self.data_key = unlocker.data_key(header)  # the old key opens, and the manifest authenticates
        self.unlocker = unlocker
        signature = header.doc.get("signature")
        if signature is not None and signer is None:
            self.warnings.append("backup %s was signed by %s; its re-encrypted manifest is not signed, since the "
                                 "signer's key is not part of a rekey: give signing_certificate and signing_key to "
                                 "sign it again" % (header.name, signer_subject(signature, header.name)))
        self.signature = "signed" if signer is not None else "dropped" if signature is not None else "none"
        self.needed = self.stored_size + len(source.header_bytes())
        if source.form == "file":
            self.needed *= 2  # the new directory, then the new single file packed from it
        self.new_key = None
        where = os.path.dirname(source.path)
        free = shutil.disk_usage(where).free
        if free < self.needed:
            raise NoSpace("the file system holding %s has %s free, and rotating the data key of backup %s needs about "
                          "%s for the re-encrypted copy built beside it: nothing was written and the backup is "
                          "unchanged. Free space there, or move the backup to a larger file system, and run again"
                          % (where, mib(free), header.name, mib(self.needed)))

    @property
    def stored_size(self) -> int:
        return sum(part["storedSize"] for part in self.header.parts)

    def _what(self):
        return "rotating the data key of backup %s (its re-encrypted copy is built beside it)" % self.header.name

    def describe(self, stored_size=None) -> dict:
        return {"path": self.source.path, "parts": [part["name"] for part in self.header.parts],
                "size": sum(part["size"] for part in self.header.parts),
                "stored_size": self.stored_size if stored_size is None else stored_size,
                "signature": self.signature}

    def run(self, pool) -> dict:
        """Re-encrypts, verifies and swaps in the backup; returns :meth:`describe` of the new one."""
        final = self.source.path
        work = work_dir(final)
        if os.path.isdir(work):
            shutil.rmtree(work)  # recover() has run: with the backup in place, this is only leftovers
        os.mkdir(work, 0o700)
        try:
            try:
                built, header = self._build(work, pool)
            except NoSpace as exc:
                raise no_space(os.path.dirname(final), self.needed, self._what(),
                               "what was written was removed and the backup is unchanged",
                               "Free space there, or move the backup to a larger file system, and run again") from exc
            self._check(header, built, pool)
            faults.checkpoint("rotate.verified")
            if self.source.form == "directory":
                _renamed(final, os.path.join(work, OLD))
                faults.checkpoint("rotate.aside")
                _renamed(built, final)
            else:
                try:
                    single_file.pack(DirectorySource(built), final)
                except NoSpace as exc:
                    raise no_space(os.path.dirname(final), self.needed, self._what(),
                                   "what was written was removed and the backup is unchanged",
                                   "Free space there and run again") from exc
            faults.checkpoint("rotate.swapped")
        except BaseException:
            # Whatever failed, the backup is whole at its path again (the old one, or the verified new one).
            recover(final, work)
            raise
        shutil.rmtree(work)
        fsync_path(os.path.dirname(final))
        return self.describe(sum(part["storedSize"] for part in header.parts))

    def _build(self, work, pool):
        manifest = self.header.manifest
        compression = manifest.get("compression") or {}
        level = compression.get("level", 0) if compression.get("algorithm") == "zstd" else 0
        parts = self.header.parts
        new_key, slots = self.protection.new_data_key(self.header.id)
        self.new_key = new_key
        with BackupWriter(work, manifest, new_key, slots, pool, level=level,
                          chunk_size=manifest["encryption"]["chunkSize"], signer=self.signer,
                          hash_plaintext=bool(parts) and all(part.get("sha256") for part in parts)) as writer:
            for part in parts:
                self._reencrypt(part, writer, pool)
            return writer.commit(), writer.header

    def _reencrypt(self, part, writer, pool):
        """One part, chunk by chunk: decrypted and authenticated under the old key, stored under the new one."""
        handle, reader, _part = open_part_reader(self.source, self.header, self.data_key, part["name"], pool)
        extra = {field: value for field, value in part.items() if field not in _COMPUTED}
        with handle:
            try:
                with writer.part(part["name"], part.get("kind"), **extra) as out:
                    while True:
                        chunk = reader.read_chunk()
                        if not chunk:
                            break
                        out.write(chunk)
                    if reader.size != part["size"] or part.get("sha256") and reader.sha256 != part["sha256"]:
                        raise IntegrityError("part %s of backup %s does not hold the data that was backed up (size "
                                             "or checksum differs): its data key was not rotated and the backup "
                                             "was left as it was" % (part["name"], self.header.name))
            finally:
                reader.close()

    def _check(self, header, built, pool):
        """The new backup's manifest is the old one but for the stored parts, and it verifies in full."""
        expected = copy.deepcopy(self.header.manifest)
        for entry, written in zip(expected["parts"], header.parts):
            entry.update(storedSize=written["storedSize"], storedSha256=written["storedSha256"])
        if header.manifest != expected:
            changed = sorted(field for field in set(expected) | set(header.manifest)
                             if expected.get(field) != header.manifest.get(field))
            raise IntegrityError("re-encrypting backup %s would change its manifest (%s), which only its stored "
                                 "parts may: the backup was left as it was" % (self.header.name, ", ".join(changed)))
        _header, problems = verify_backup(DirectorySource(built), pool, _NewKey(self.unlocker, self.new_key),
                                          full=True)
        if problems:
            raise IntegrityError("the re-encrypted copy of backup %s did not verify, and the backup was left as it "
                                 "was: %s" % (self.header.name, " ".join(problems)))
