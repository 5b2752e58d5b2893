# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checking a stored backup: its header, signature and parts, with or without its key."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, IntegrityError, InvalidInput, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import BackgroundHash, PartReader
from ansible_collections.drkit.backup.plugins.module_utils.format.header import codec_for
from ansible_collections.drkit.backup.plugins.module_utils.protection import signing


class _HashingReader:
    """Passes reads through and hashes what went by (stored-form checksums), on a thread of its own."""

    def __init__(self, raw):
        self._raw = raw
        self.hash = BackgroundHash()

    @property
    def count(self):
        return self.hash.count

    def read(self, count=-1):
        data = self._raw.read(count)
        self.hash.update(data)
        return data


def verify_backup(source, pool, unlocker=None, full=False, consumer=None, trusted=None):
    """Verify a backup; returns (header or None, list of problems as sentences).

    Without ``full``: the header's canonical form and digest, its signature (when
    signed) against its own certificate and, with ``trusted`` (a trust.Trust),
    that its signer is trusted now, and every stored part's presence, size and SHA-256: no key
    needed. With ``full``: also the data key (opened by ``unlocker``), the
    manifest MAC and every chunk of every part, decrypted and decompressed,
    against the recorded plaintext sizes and checksums. ``consumer(part,
    reader)``, when given, reads each part's plaintext during that same pass (a
    restore's dry run); the rest is drained and checked.

    A part in a codec of a newer drkit.backup (its ``codec``) cannot be
    decoded: with ``full`` it is a problem naming it (its stored bytes are
    still checked), and with ``consumer`` no part is read at all, so a restore
    refuses it before it stages or plans anything.
    """
    try:
        header = source.header()
    except (FormatError, InvalidInput) as exc:
        return None, [str(exc)]
    if not header.digest_ok():
        return header, ["header.json of backup %s does not match its checksum: it was changed" % source.name]
    problems = _signature_problems(header, trusted)
    if problems:
        return header, problems
    data_key = None
    if full:
        try:
            data_key = unlocker.data_key(header) if unlocker is not None else _no_unlocker(header)
        except (IntegrityError, KeyNotFound, InvalidInput) as exc:
            return header, [str(exc)]
        unreadable = [problem for problem in map(header.codec_problem, header.parts) if problem]
        if unreadable and consumer is not None:
            return header, unreadable
    stored = source.stored_parts()
    for extra in sorted(set(stored) - set(p["name"] for p in header.parts)):
        problems.append("backup %s holds a file %s that its header does not list" % (header.name, extra))
    for part in header.parts:
        problem = _check_part(source, header, part, stored, pool, data_key, full, consumer)
        if problem:
            problems.append(problem)
    return header, problems


def _no_unlocker(header):
    if header.encrypted:
        raise KeyNotFound("backup %s is encrypted: a keystore is needed to verify it fully" % header.name)
    return None


def _signature_problems(header, trusted) -> list:
    signature = header.doc.get("signature")
    where = "backup %s" % header.name
    if signature is None:
        return ["%s is not signed, and a trusted certificate was given" % where] if trusted else []
    try:
        problem = signing.check_signature(signature, canonjson.dumps(header.manifest), where)
        if not problem and trusted:
            problem = trusted.check(signature, header.manifest["createdAt"], where)
    except FormatError as exc:
        problem = str(exc)
    return [problem] if problem else []


def _check_part(source, header, part, stored, pool, data_key, full, consumer):
    name = part["name"]
    where = "part %s of backup %s" % (name, header.name)
    if name not in stored:
        return "%s is missing" % where
    if stored[name] != part["storedSize"]:
        return "%s has %d bytes where %d were written: it was truncated or extended" % (
            where, stored[name], part["storedSize"])
    unreadable = header.codec_problem(part) if full else ""
    handle, limit = source.open_part(name)
    with handle:
        hashing = _HashingReader(handle)
        try:
            if full and not unreadable:
                reader = PartReader(hashing, codec_for(header, data_key, name), pool, where, limit=limit,
                                    hash_plaintext=bool(part.get("sha256")))
                if consumer is not None:
                    consumer(part, reader)
                reader.drain()
                if reader.size != part["size"] or part.get("sha256") and reader.sha256 != part["sha256"]:
                    hashing.hash.cancel()
                    return "%s does not hold the data that was backed up (size or checksum differs)" % where
            else:
                _drain_raw(hashing, limit if limit is not None else part["storedSize"])
        except BaseException as exc:
            hashing.hash.cancel()
            if isinstance(exc, IntegrityError):
                return str(exc)
            raise
    if hashing.count != part["storedSize"] or hashing.hash.hexdigest() != part["storedSha256"]:
        return "%s does not match its checksum: it was changed or damaged" % where
    return unreadable or None


def _drain_raw(reader, size):
    while size > 0:
        data = reader.read(min(size, 1 << 20))
        if not data:
            return
        size -= len(data)


def open_part_reader(source, header, data_key, part_name, pool):
    """A plaintext reader over one part of a backup that has been unlocked."""
    part = header.part(part_name)
    codec = codec_for(header, data_key, part_name)
    handle, limit = source.open_part(part_name)
    reader = PartReader(handle, codec, pool,
                        "part %s of backup %s" % (part_name, header.name), limit=limit,
                        hash_plaintext=bool(part.get("sha256")))
    return handle, reader, part
