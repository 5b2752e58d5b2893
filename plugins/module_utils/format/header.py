# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``header.json``: the manifest, its checksums and MAC, the key slots and the signature.

``header.json`` (canonical JSON) has two halves:

- ``manifest``: every piece of metadata and the list of parts, readable with
  no key; protected by ``manifestSha256`` (catches accidents) and, when
  encrypted, by ``manifestMac``, an HMAC under a key derived from the data key
  (catches any change by anyone without the key);
- ``keySlots``: the backup's random data key wrapped by one or more backup
  keys, each slot bound to the backup id (see protection/slots.py). Rotation
  rewrites only the slots.

Each part is stored (format/codec.py) under its own key, derived from the data
key, the backup id and the part name.
"""

from __future__ import annotations

import hashlib
import uuid

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import ChunkCodec
from ansible_collections.drkit.backup.plugins.module_utils.format.names import (
    FORMAT, FORMAT_VERSION, PART_NAME_RE, SCHEME_KEY, SCHEME_NONE)
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto, signing

# The fields of each kind of key slot (see protection.py), and of the header outside the manifest.
SLOT_FIELDS = {"backup-key": {"type", "keyId", "nonce", "ciphertext"}, "gpg": {"type", "keyId", "message"}}
TOP_LEVEL_FIELDS = {"format", "manifest", "manifestSha256", "manifestMac", "keySlots", "signature"}


def part_key(data_key: bytes, backup_id: str, part: str) -> bytes:
    return crypto.derive(data_key, backup_id.encode(), b"drkit-part-v1\x00" + part.encode())


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
        if signature is not None and (not isinstance(signature, dict)
                                      or not signing.SIGNATURE_FIELDS <= set(signature)
                                      <= signing.SIGNATURE_FIELDS | signing.OPTIONAL_SIGNATURE_FIELDS
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
    """The header of a complete manifest: digest, MAC (when encrypted), key slots, signature (when asked)."""
    raw = canonjson.dumps(manifest)
    doc = {"format": FORMAT, "manifest": manifest, "keySlots": slots,
           "manifestSha256": hashlib.sha256(raw).hexdigest()}
    if data_key is not None:
        doc["manifestMac"] = crypto.mac(_mac_key(data_key, manifest["id"]), raw)
    if signer is not None:
        doc["signature"] = signer.sign(raw)
    return Header(doc, "backup %s" % manifest["name"])


def codec_for(header: Header, data_key, part: str, level=0) -> ChunkCodec:
    key = part_key(data_key, header.id, part) if data_key is not None else None
    return ChunkCodec(key, header.manifest["encryption"]["chunkSize"], level)


def new_manifest(**fields) -> dict:
    """The manifest fields every backup has; callers add the provider's own."""
    manifest = {"formatVersion": FORMAT_VERSION, "id": str(uuid.uuid4())}
    manifest.update(fields)
    return manifest
