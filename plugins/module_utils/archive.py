# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup format: a directory with ``header.json`` and ``parts/``.

``header.json`` (canonical JSON) has two halves:

- ``manifest``: every piece of metadata and the list of parts, readable with
  no key; protected by ``manifestSha256`` (catches accidents) and, when
  encrypted, by ``manifestMac``, an HMAC under a key derived from the data key
  (catches any change by anyone without the key);
- ``keySlots``: the backup's random data key wrapped by one or more backup
  keys, each slot bound to the backup id. Rotation rewrites only the slots.

Each part is stored by :mod:`stream` under its own key, derived from the data
key, the backup id and the part name. A backup is built as
``<root>/.<name>.partial/`` and renamed into place once its header is written.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import os
import re
import shutil
import uuid

from ansible_collections.drkit.backup.plugins.module_utils import canonjson, crypto, faults, signing
from ansible_collections.drkit.backup.plugins.module_utils.fsutil import fsync_dir, mib, no_space
from ansible_collections.drkit.backup.plugins.module_utils.errors import (
    FormatError, IntegrityError, InvalidInput, KeyNotFound, NoSpace)
from ansible_collections.drkit.backup.plugins.module_utils.stream import (
    DEFAULT_CHUNK_SIZE, DEFAULT_LEVEL, BackgroundHash, ChunkCodec, PartReader, PartWriter)

FORMAT = "drkit-backup"
FORMAT_VERSION = "1.0"
HEADER = "header.json"
PARTS = "parts"
PARTIAL_SUFFIX = ".partial"
CAPTURE_SUFFIX = ".capture"
SCHEME_KEY = "aes-256-gcm-stream"
SCHEME_NONE = "none"
MAX_HEADER_BYTES = 16 * 1024 * 1024
NAME_RE = re.compile(r"^(?P<product>[a-z][a-z0-9_]*)-(?P<type>full|data)-"
                     r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})$")
PART_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# The fields of each kind of key slot (see protection.py), and of the header outside the manifest.
SLOT_FIELDS = {"backup-key": {"type", "keyId", "nonce", "ciphertext"}, "gpg": {"type", "keyId", "message"}}
TOP_LEVEL_FIELDS = {"format", "manifest", "manifestSha256", "manifestMac", "keySlots", "signature"}


# --- names and times -------------------------------------------------------

def backup_name(product: str, backup_type: str, moment: datetime.datetime) -> str:
    """``<product>-<full|data>-YYYY-MM-DD-HH-MM-SS`` in UTC, as ipa-backup names its own."""
    return "%s-%s-%s" % (product, backup_type, moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S"))


def check_part_name(name: str):
    if not isinstance(name, str) or not PART_NAME_RE.match(name) or name in (".", ".."):
        raise InvalidInput("part name %r is not allowed: use letters, digits, '.', '_' and '-' (at most 100)" % (name,))


# --- keys derived from the data key ------------------------------------------

def _part_key(data_key: bytes, backup_id: str, part: str) -> bytes:
    return crypto.derive(data_key, backup_id.encode(), b"drkit-part-v1\x00" + part.encode())


# --- the header ----------------------------------------------------------------

def _require(mapping, field, kind, where):
    value = mapping.get(field)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise FormatError("%s: field %r is missing or of the wrong type" % (where, field))
    return value


class Header:
    """A parsed, structurally checked ``header.json``."""

    def __init__(self, doc: dict, where: str):
        self.doc = doc
        self.where = where
        manifest = _require(doc, "manifest", dict, where)
        self.manifest = manifest
        version = _require(manifest, "formatVersion", str, where)
        major = version.split(".", maxsplit=1)[0]
        if not major.isdigit():
            raise FormatError("%s: format version %r is not understood" % (where, version))
        supported = FORMAT_VERSION.split(".", maxsplit=1)[0]
        if int(major) > int(supported):
            raise FormatError("%s was written in format %s by a newer drkit.backup; this release reads "
                              "format %s.x: upgrade the drkit.backup collection to read it"
                              % (where, version, supported))
        if doc.get("format") != FORMAT:
            raise FormatError("%s is not a drkit backup header" % where)
        for field in ("id", "name", "product", "type", "createdAt", "scope"):
            _require(manifest, field, str, where)
        encryption = _require(manifest, "encryption", dict, where)
        if encryption.get("scheme") not in (SCHEME_KEY, SCHEME_NONE):
            raise FormatError("%s: unknown encryption scheme %r" % (where, encryption.get("scheme")))
        chunk = _require(encryption, "chunkSize", int, where)
        if not 4096 <= chunk <= 64 * 1024 * 1024:
            raise FormatError("%s: chunk size %d is out of range" % (where, chunk))
        seen = set()
        for part in _require(manifest, "parts", list, where):
            if not isinstance(part, dict):
                raise FormatError("%s: a part entry is not an object" % where)
            name = _require(part, "name", str, where)
            if not PART_NAME_RE.match(name) or name in seen:
                raise FormatError("%s: part name %r is invalid or repeated" % (where, name))
            seen.add(name)
            for field in ("size", "storedSize"):
                if _require(part, field, int, where) < 0:
                    raise FormatError("%s: part %r has a negative %s" % (where, name, field))
            _require(part, "storedSha256", str, where)
        _require(doc, "manifestSha256", str, where)
        # Outside the manifest every field is checked too, so no byte of the header can change unseen.
        unknown = set(doc) - TOP_LEVEL_FIELDS
        if unknown:
            raise FormatError("%s has unknown fields %s: it was changed or damaged" % (where, ", ".join(sorted(unknown))))
        if ("manifestMac" in doc) != self.encrypted:
            raise FormatError("%s: its MAC does not fit its encryption scheme: it was changed" % where)
        slots = _require(doc, "keySlots", list, where)
        for slot in slots:
            if not isinstance(slot, dict) or set(slot) != SLOT_FIELDS.get(slot.get("type"), ()) \
                    or not all(isinstance(value, str) for value in slot.values()):
                raise FormatError("%s: a key slot is malformed: the header was changed or damaged" % where)
        signature = doc.get("signature")
        if signature is not None and (not isinstance(signature, dict) or set(signature) != signing.SIGNATURE_FIELDS
                                      or not all(isinstance(value, str) for value in signature.values())):
            raise FormatError("%s: its signature is malformed: the header was changed or damaged" % where)
        if self.encrypted != bool(slots):
            raise FormatError("%s: its key slots do not fit its encryption scheme: it was changed" % where)

    @classmethod
    def parse(cls, raw: bytes, where: str) -> "Header":
        return cls(canonjson.loads(raw, where), where)

    def to_bytes(self) -> bytes:
        return canonjson.dumps(self.doc)

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def parts(self) -> list:
        return self.manifest["parts"]

    def part(self, name: str) -> dict:
        for part in self.parts:
            if part["name"] == name:
                return part
        raise InvalidInput("backup %s has no part %r; its parts are: %s"
                           % (self.name, name, ", ".join(p["name"] for p in self.parts) or "none"))

    @property
    def encrypted(self) -> bool:
        return self.manifest["encryption"]["scheme"] != SCHEME_NONE

    @property
    def slots(self) -> list:
        return self.doc["keySlots"]

    @property
    def key_ids(self) -> list:
        """The backup keys that open this backup (GnuPG recipients are in :meth:`protection`)."""
        return [slot["keyId"] for slot in self.slots if slot["type"] == "backup-key"]

    def protection(self) -> dict:
        """How this backup is protected, for people and playbooks."""
        gpg = [slot["keyId"] for slot in self.slots if slot["type"] == "gpg"]
        hsm = self.manifest.get("hsm") if self.manifest.get("tiedToHSM") else None
        signature = self.doc.get("signature")
        try:
            signer = signing.signer_subject(signature, self.where) if signature else None
        except FormatError:
            signer = "(damaged certificate)"
        if self.encrypted:
            holders = ["backup key %s" % key for key in self.key_ids] + ["GnuPG key %s" % key for key in gpg]
            summary = "encrypted (%s), opened by %s" % (SCHEME_KEY, " or ".join(holders))
            if hsm:
                summary += ", and tied to HSM key %s on token %s" % (hsm.get("keyLabel"), hsm.get("tokenLabel"))
        else:
            summary = "not encrypted (checksums only)"
        if signer:
            summary += "; manifest signed by %s" % signer
        return {"encrypted": self.encrypted, "scheme": self.manifest["encryption"]["scheme"],
                "backupKeys": self.key_ids, "gpgRecipients": gpg, "tiedToHSM": bool(hsm), "hsm": hsm,
                "signed": bool(signature), "signer": signer, "summary": summary}

    def digest_ok(self) -> bool:
        return self.doc["manifestSha256"] == hashlib.sha256(canonjson.dumps(self.manifest)).hexdigest()

    def summary(self) -> dict:
        """What modules return about a backup: the manifest plus how it is protected."""
        info = dict(self.manifest)
        info["protection"] = self.protection()
        info["storedSize"] = sum(p["storedSize"] for p in self.parts)
        info["size"] = sum(p["size"] for p in self.parts)
        return info


def _mac_key(data_key: bytes, backup_id: str) -> bytes:
    return crypto.derive(data_key, backup_id.encode(), b"drkit-manifest-v1")


def mac_ok(header: Header, data_key: bytes) -> bool:
    """Whether the manifest authenticates under ``data_key`` (any change to it fails)."""
    return crypto.mac_ok(_mac_key(data_key, header.id), canonjson.dumps(header.manifest),
                         header.doc.get("manifestMac"))


def new_header(manifest: dict, data_key, slots: list, signer=None) -> Header:
    """Seal a complete manifest: digest, MAC (when encrypted), key slots, signature (when asked)."""
    raw = canonjson.dumps(manifest)
    doc = {"format": FORMAT, "manifest": manifest, "keySlots": slots,
           "manifestSha256": hashlib.sha256(raw).hexdigest()}
    if data_key is not None:
        doc["manifestMac"] = crypto.mac(_mac_key(data_key, manifest["id"]), raw)
    if signer is not None:
        doc["signature"] = signer.sign(raw)
    return Header(doc, "backup %s" % manifest["name"])


def codec_for(header: Header, data_key, part: str, level=0) -> ChunkCodec:
    key = _part_key(data_key, header.id, part) if data_key is not None else None
    return ChunkCodec(key, header.manifest["encryption"]["chunkSize"], level)


# --- where a backup lives: a directory (or, in packfile, a single file) -------

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


class BackupSource:
    """Read access to a stored backup; subclasses say where the bytes are."""

    form = None
    path = None
    name = None

    def header_bytes(self) -> bytes:
        raise NotImplementedError

    def stored_parts(self) -> dict:
        """Part name -> stored size, for what is actually present."""
        raise NotImplementedError

    def open_part(self, name):
        """(file object positioned at the part's start, byte limit or None)."""
        raise NotImplementedError

    def header(self) -> Header:
        return Header.parse(self.header_bytes(), "header.json of backup %s" % self.name)


class DirectorySource(BackupSource):
    form = "directory"

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.name = os.path.basename(self.path.rstrip("/"))
        if not os.path.isdir(self.path):
            raise InvalidInput("%s is not a backup directory" % self.path)
        if not os.path.isfile(os.path.join(self.path, HEADER)):
            raise InvalidInput("%s has no header.json: it is not a backup, or an incomplete one"
                               % self.path)

    def header_bytes(self) -> bytes:
        with open(os.path.join(self.path, HEADER), "rb") as handle:
            data = handle.read(MAX_HEADER_BYTES + 1)
        if len(data) > MAX_HEADER_BYTES:
            raise FormatError("header.json of %s is too large to be a drkit header" % self.name)
        return data

    def stored_parts(self) -> dict:
        found = {}
        parts_dir = os.path.join(self.path, PARTS)
        if os.path.isdir(parts_dir):
            for entry in os.scandir(parts_dir):
                found[entry.name] = entry.stat(follow_symlinks=False).st_size
        return found

    def open_part(self, name):
        check_part_name(name)
        return open(os.path.join(self.path, PARTS, name), "rb"), None


# --- checking --------------------------------------------------------------------

def check_backup(source: BackupSource, pool, unlocker=None, full=False, consumer=None, trusted=None):
    """Verify a backup; returns (header or None, list of problems as sentences).

    Without ``full``: the header's canonical form and digest, its signature (when
    signed) against its own certificate and, with ``trusted`` certificates,
    against them, and every stored part's presence, size and SHA-256: no key
    needed. With ``full``: also the data key (opened by ``unlocker``), the
    manifest MAC and every chunk of every part, decrypted and decompressed,
    against the recorded plaintext sizes and checksums. ``consumer(part,
    reader)``, when given, reads each part's plaintext during that same pass (a
    restore's dry run); the rest is drained and checked.
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
            problem = signing.check_trust(signature, header.manifest["createdAt"], trusted, where)
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
    handle, limit = source.open_part(name)
    with handle:
        hashing = _HashingReader(handle)
        try:
            if full:
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
    return None


def _drain_raw(reader, size):
    while size > 0:
        data = reader.read(min(size, 1 << 20))
        if not data:
            return
        size -= len(data)


def open_part_reader(source, header, data_key, part_name, pool):
    """A plaintext reader over one part of a backup that has been unlocked."""
    part = header.part(part_name)
    handle, limit = source.open_part(part_name)
    reader = PartReader(handle, codec_for(header, data_key, part_name), pool,
                        "part %s of backup %s" % (part_name, header.name), limit=limit,
                        hash_plaintext=bool(part.get("sha256")))
    return handle, reader, part


# --- writing ----------------------------------------------------------------------

def disk_full(path: str, name: str, written: int, estimate=None) -> NoSpace:
    """``estimate``: the data's raw size, an upper bound of what the backup needs (compression only shrinks)."""
    needed = max(estimate, written) if estimate is not None else None
    return no_space(path, needed, "backup %s (%s written when the disk filled)" % (name, mib(written)),
                    "the partial backup was removed and earlier backups are untouched",
                    "Free space or choose another dest")


class BackupWriter:
    """Builds one backup under ``<root>/.<name>.partial`` and renames it into place.

    Use as a context manager: leaving it with an exception removes the partial. ``estimate`` (a number
    of bytes, or a function that returns one) is the raw size a full disk's message says is needed.
    """

    def __init__(self, root, manifest, data_key, slots, pool, level=DEFAULT_LEVEL,
                 chunk_size=DEFAULT_CHUNK_SIZE, hash_plaintext=False, signer=None, estimate=None):
        self.root = root
        self._estimate = estimate
        self.name = manifest["name"]
        self.final = os.path.join(root, self.name)
        self.partial = os.path.join(root, "." + self.name + PARTIAL_SUFFIX)
        self._manifest = dict(manifest)
        self._manifest["encryption"] = {
            "scheme": SCHEME_KEY if data_key is not None else SCHEME_NONE, "chunkSize": chunk_size}
        self._manifest["compression"] = {"algorithm": "zstd", "level": level} if level else {"algorithm": "none"}
        self._manifest["parts"] = []
        self._data_key = data_key
        self._slots = slots
        self._signer = signer
        self._pool = pool
        self._level = level
        self._chunk_size = chunk_size
        # With no key nothing else authenticates the content: keep its checksum.
        self._hash_plaintext = hash_plaintext or data_key is None
        self.written = 0
        self.header = None

    def __enter__(self):
        os.mkdir(self.partial, 0o700)
        os.mkdir(os.path.join(self.partial, PARTS), 0o700)
        faults.checkpoint("writer.partial")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.partial, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                estimate = self._estimate() if callable(self._estimate) else self._estimate
                raise disk_full(self.root, self.name, self.written, estimate) from exc
        return False

    @contextlib.contextmanager
    def part(self, name: str, kind: str, **extra):
        """Yields a writable file; what is written becomes part ``name`` (``extra`` goes to the manifest)."""
        check_part_name(name)
        if any(p["name"] == name for p in self._manifest["parts"]):
            raise InvalidInput("part %s is written twice" % name)
        key = _part_key(self._data_key, self._manifest["id"], name) if self._data_key is not None else None
        codec = ChunkCodec(key, self._chunk_size, self._level)
        path = os.path.join(self.partial, PARTS, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            writer = PartWriter(out, codec, self._pool, hash_plaintext=self._hash_plaintext)
            try:
                yield writer
                writer.close()
            except BaseException:
                writer.abort()
                raise
            finally:
                self.written += writer.stored_size
            out.flush()
            os.fsync(out.fileno())
        faults.checkpoint("writer.part")
        entry = dict(extra)
        entry.update({"name": name, "kind": kind, "size": writer.size,
                      "storedSize": writer.stored_size, "storedSha256": writer.stored_sha256})
        if writer.sha256:
            entry["sha256"] = writer.sha256
        self._manifest["parts"].append(entry)

    def annotate(self, fields: dict):
        """Adds manifest fields known only after capture (the product's version, roles ...)."""
        for key, value in fields.items():
            if key in ("formatVersion", "id", "name", "parts", "encryption", "compression"):
                raise InvalidInput("a provider may not set the manifest field %s" % key)
            self._manifest[key] = value

    def commit(self) -> str:
        """Write the header last, then rename the partial into place."""
        self.header = new_header(self._manifest, self._data_key, self._slots, self._signer)
        fd = os.open(os.path.join(self.partial, HEADER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self.header.to_bytes())
            faults.checkpoint("writer.header")  # written, not yet flushed
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(os.path.join(self.partial, PARTS))
        fsync_dir(self.partial)
        faults.checkpoint("writer.rename")
        os.rename(self.partial, self.final)
        faults.checkpoint("writer.renamed")
        fsync_dir(self.root)
        return self.final


def new_manifest(**fields) -> dict:
    """The manifest fields every backup has; callers add the provider's own."""
    manifest = {"formatVersion": FORMAT_VERSION, "id": str(uuid.uuid4())}
    manifest.update(fields)
    return manifest
