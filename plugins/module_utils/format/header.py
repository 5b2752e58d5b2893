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
    FORMAT, FORMAT_VERSION, PART_CODECS, PART_NAME_RE, SCHEME_KEY, SCHEME_NONE)
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto, signing

# The fields of each kind of key slot (see protection/slots.py), and of the header outside the manifest.
SLOT_FIELDS = {"backup-key": {"type", "keyId", "nonce", "ciphertext"}, "gpg": {"type", "keyId", "message"}}
TOP_LEVEL_FIELDS = {"format", "manifest", "manifestSha256", "manifestMac", "keySlots", "signature"}


def part_key(data_key: bytes, backup_id: str, part: str) -> bytes:
    return crypto.derive(data_key, backup_id.encode(), b"drkit-part-v1\x00" + part.encode())


def _known_strings(mapping, fields, problem):
    if not fields <= set(mapping) or not all(isinstance(mapping[field], str) for field in fields):
        raise FormatError(problem)


def _require(mapping, field, kind, where):
    value = mapping.get(field)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise FormatError("%s: field %r is missing or of the wrong type" % (where, field))
    return value


def format_version(version: str, where: str) -> tuple:
    """``(major, minor)`` of a ``formatVersion``; a newer major is refused, naming it."""
    major, dot, minor = version.partition(".")
    if not (major.isdigit() and major.isascii() and minor.isdigit() and minor.isascii() and dot):
        raise FormatError("%s: format version %r is not understood: it was changed or damaged" % (where, version))
    supported = FORMAT_VERSION.split(".", maxsplit=1)[0]
    if int(major) > int(supported):
        raise FormatError("%s was written in format %s by a newer drkit.backup; this release reads "
                          "format %s.x: upgrade the drkit.backup collection to read it"
                          % (where, version, supported))
    return int(major), int(minor)


THIS_VERSION = format_version(FORMAT_VERSION, "this release")


class Header:
    """A parsed, structurally checked ``header.json``.

    Outside the manifest every field is known to this release, so a header of
    its format minor (or an older one) holding any other field was changed or
    damaged. A newer minor may add fields there (decision 31): they are kept as
    they are (a rekey carries them over) but ignored, since nothing this
    release can check covers them (``ignored`` lists them). Fields added inside
    the manifest or a part are covered by its checksum and MAC as written.
    """

    def __init__(self, doc: dict, where: str):
        self.doc = doc
        self.where = where
        manifest = _require(doc, "manifest", dict, where)
        self.manifest = manifest
        self.newer_minor = format_version(_require(manifest, "formatVersion", str, where), where) > THIS_VERSION
        self.ignored = []
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
            if "codec" in part:
                codec = _require(part, "codec", str, where)
                # A new encoding comes with a newer minor: in any other header it is a change, not an upgrade.
                if codec not in PART_CODECS and not self.newer_minor:
                    raise FormatError("%s: part %r names codec %r, which format %s does not have: the header was "
                                      "changed or damaged" % (where, name, codec, manifest["formatVersion"]))
        _require(doc, "manifestSha256", str, where)
        # Outside the manifest: only fields this release knows, or (in a newer minor) fields kept but ignored.
        unknown = sorted(set(doc) - TOP_LEVEL_FIELDS)
        self._extra_fields(unknown, "", "%s has unknown fields %s: it was changed or damaged"
                           % (where, ", ".join(unknown)))
        if ("manifestMac" in doc) != self.encrypted:
            raise FormatError("%s: its MAC does not fit its encryption scheme: it was changed" % where)
        slots = _require(doc, "keySlots", list, where)
        for index, slot in enumerate(slots):
            malformed = "%s: a key slot is malformed: the header was changed or damaged" % where
            if not isinstance(slot, dict) or not isinstance(slot.get("type"), str):
                raise FormatError(malformed)
            known = SLOT_FIELDS.get(slot["type"])
            if known is None:
                # A holder a newer minor added: skipped when opening, so another slot may open the backup.
                if not self.newer_minor:
                    raise FormatError(malformed)
                continue
            _known_strings(slot, known, malformed)
            self._extra_fields(set(slot) - known, "keySlots[%d]." % index, malformed)
        signature = doc.get("signature")
        if signature is not None:
            malformed = "%s: its signature is malformed: the header was changed or damaged" % where
            if not isinstance(signature, dict):
                raise FormatError(malformed)
            _known_strings(signature, signing.SIGNATURE_FIELDS, malformed)
            optional = set(signature) & signing.OPTIONAL_SIGNATURE_FIELDS
            if not all(isinstance(signature[field], str) for field in optional):
                raise FormatError(malformed)
            self._extra_fields(set(signature) - signing.SIGNATURE_FIELDS - optional, "signature.", malformed)
        if self.encrypted != bool(slots):
            raise FormatError("%s: its key slots do not fit its encryption scheme: it was changed" % where)

    def _extra_fields(self, fields, prefix, refusal):
        """Fields outside the manifest this release does not know: ignored in a newer minor, else ``refusal``."""
        if fields and not self.newer_minor:
            raise FormatError(refusal)
        self.ignored.extend(prefix + field for field in sorted(fields))

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
    def unknown_slot_types(self) -> list:
        """Kinds of key slot a newer minor added, which this release skips when opening the backup."""
        return sorted(set(slot["type"] for slot in self.slots if slot["type"] not in SLOT_FIELDS))

    def codec_problem(self, part: dict) -> str:
        """Why this release cannot decode ``part`` (a codec of a newer drkit.backup), or ''."""
        codec = part.get("codec")
        if codec is None or codec in PART_CODECS:
            return ""
        return ("part %s of backup %s uses codec %s, made by a newer drkit.backup (format %s): upgrade the "
                "drkit.backup collection to read it" % (part["name"], self.name, codec, self.manifest["formatVersion"]))

    def newer_format(self):
        """What this release ignores in a header of a newer format minor, for backup_info; None for others."""
        if not self.newer_minor:
            return None
        version = self.manifest["formatVersion"]
        unreadable = [part["name"] for part in self.parts if self.codec_problem(part)]
        said = ["backup %s was written in format %s by a newer drkit.backup; this release writes format %s and "
                "ignores what %s added" % (self.name, version, FORMAT_VERSION, version)]
        if self.ignored:
            said.append("the fields %s, outside the manifest, are kept but neither checked nor trusted"
                        % ", ".join(self.ignored))
        if self.unknown_slot_types:
            said.append("its key slots of type %s cannot be opened here" % ", ".join(self.unknown_slot_types))
        if unreadable:
            said.append("its parts %s use a codec this release cannot read: their checksums can be checked, but "
                        "they cannot be restored" % ", ".join(unreadable))
        return {"formatVersion": version, "readBy": FORMAT_VERSION, "ignoredFields": list(self.ignored),
                "unknownSlotTypes": self.unknown_slot_types, "unreadableParts": unreadable,
                "summary": "; ".join(said) + ": upgrade the drkit.backup collection to use all of it"}

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
            holders = ["backup key %s" % key for key in self.key_ids] + ["GnuPG key %s" % key for key in gpg] + [
                "a key slot of type %s (of a newer drkit.backup)" % kind for kind in self.unknown_slot_types]
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
        if self.newer_minor:
            info["newerFormat"] = self.newer_format()
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
    problem = header.codec_problem(header.part(part))
    if problem:
        raise FormatError(problem)
    key = part_key(data_key, header.id, part) if data_key is not None else None
    return ChunkCodec(key, header.manifest["encryption"]["chunkSize"], level)


def new_manifest(**fields) -> dict:
    """The manifest fields every backup has; callers add the provider's own."""
    manifest = {"formatVersion": FORMAT_VERSION, "id": str(uuid.uuid4())}
    manifest.update(fields)
    return manifest
