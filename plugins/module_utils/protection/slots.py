# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a backup's data key is protected: key slots, the HSM, and opening them again.

Every backup has one random data key. When the backup is tied to an HSM, the
token first wraps that key; what the slots hold (the *slot secret*) is then
the token's output, so a slot alone opens nothing. Each slot wraps the slot
secret for one holder, bound to the backup id:

- ``backup-key``: AES-256-GCM under a backup key of the keystore;
- ``gpg``: an OpenPGP message to one recipient's public key.

A slot of a type a newer drkit.backup added (format/header.py accepts it only
in a header of a newer format minor) is skipped: another slot may open the
backup, and when none does the error names the types this release lacks.

:func:`plan_protection` turns the backup module's options into a
:class:`Protection`; :class:`Unlocker` opens backups again; rotation and
escrow rewrite only the slots (see :func:`rewrap`).
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    IntegrityError, InvalidInput, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.format.header import mac_ok
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto
from ansible_collections.drkit.backup.plugins.module_utils.protection.gpg import HAS_GNUPG, Gpg
from ansible_collections.drkit.backup.plugins.module_utils.protection.hsm import HsmKey
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import scope_label
from ansible_collections.drkit.backup.plugins.module_utils.protection.signing import Signer

SLOT_AAD = b"drkit-slot-v1\x00"


def _binding(backup_id: str, holder: str) -> bytes:
    return SLOT_AAD + backup_id.encode() + b"\x00" + holder.encode()


def key_slot(backup_id: str, key, secret: bytes) -> dict:
    slot = {"type": "backup-key", "keyId": key.id}
    slot.update(crypto.wrap(key.material, secret, _binding(backup_id, key.id)))
    return slot


def gpg_slot(backup_id: str, gpg: Gpg, recipient: str, secret: bytes) -> dict:
    # OpenPGP has no associated data: the binding travels inside the message and is checked on opening.
    fingerprint, message = gpg.encrypt(_binding(backup_id, "gpg") + b"\x00" + secret, recipient)
    return {"type": "gpg", "keyId": fingerprint, "message": crypto.b64e(message)}


def check_key_scope(key, scope: str, domain):
    if (key.scope, key.domain or None) != (scope, domain or None):
        raise InvalidInput("backup key %s belongs to the %s scope and cannot encrypt a %s backup: use a key of that "
                           "scope" % (key.id, scope_label(key.scope, key.domain), scope_label(scope, domain)))


class Protection:
    """How a new backup is to be protected: backup keys, GPG recipients, an HSM key, a signer."""

    def __init__(self, keys=(), gpg=None, gpg_recipients=(), hsm=None, signer=None):
        self.keys = list(keys)
        self.gpg = gpg
        self.gpg_recipients = list(gpg_recipients)
        self.hsm = hsm
        self.signer = signer
        if self.gpg_recipients and gpg is None:
            raise InvalidInput("gpg_recipients need GnuPG settings")
        if hsm is not None and not self.encrypted:
            raise InvalidInput("tied_to_hsm needs encryption: a backup that is not encrypted cannot be tied to an HSM")

    @property
    def encrypted(self) -> bool:
        return bool(self.keys or self.gpg_recipients)

    def check(self, scope: str, domain):
        """Everything that could fail later, tried now, before any service is stopped."""
        for key in self.keys:
            check_key_scope(key, scope, domain)
        if self.hsm is not None and scope != "system":
            raise InvalidInput("only system backups can be tied to an HSM (as in CipherTrust Manager)")
        if self.gpg_recipients:
            self.gpg.check(self.gpg_recipients)
        if self.hsm is not None:
            self.hsm.wrap(b"\0" * crypto.KEY_BYTES, "drkit test wrap")

    def manifest_fields(self) -> dict:
        return {"tiedToHSM": self.hsm is not None, "hsm": self.hsm.describe() if self.hsm is not None else None}

    def new_data_key(self, backup_id: str):
        """(data key, key slots) for a new backup; (None, []) when it is not encrypted."""
        if not self.encrypted:
            return None, []
        data_key = crypto.random_key()
        secret = self.hsm.wrap(data_key, backup_id) if self.hsm is not None else data_key
        slots = [key_slot(backup_id, key, secret) for key in self.keys]
        slots += [gpg_slot(backup_id, self.gpg, recipient, secret) for recipient in self.gpg_recipients]
        return data_key, slots


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


class Unlocker:
    """Opens backups with what this host holds: the keystore, GnuPG secret keys, an HSM.

    ``gpg`` is made when a GPG slot is met and none was given; ``hsm`` is a
    function of the header's recorded HSM description returning an
    :class:`HsmKey` (or None when no HSM access was configured).
    """

    def __init__(self, keystore=None, gpg_home=None, gpg_passphrase=None, hsm=None):
        self.keystore = keystore
        self._gpg_home = gpg_home
        self._gpg_passphrase = gpg_passphrase
        self._gpg = None
        self._hsm = hsm

    def __str__(self):
        return str(self.keystore) if self.keystore is not None else "this host"

    def _gpg_open(self, slot, header):
        if self._gpg is None:
            self._gpg = Gpg(self._gpg_home, self._gpg_passphrase)
        plain = self._gpg.decrypt(crypto.b64d(slot["message"], "GPG slot of %s" % header.name))
        if plain is None:
            return None
        prefix = _binding(header.id, "gpg") + b"\x00"
        if not plain.startswith(prefix):
            raise IntegrityError("backup %s: its GPG slot for %s belongs to another backup: the header was changed"
                                 % (header.name, slot["keyId"]))
        return plain[len(prefix):]

    def slot_secret(self, header) -> bytes:
        """What the slots wrap (the data key, or its HSM-wrapped form)."""
        for slot in header.slots:
            if slot["type"] == "backup-key":
                material = self.keystore.material(slot["keyId"]) if self.keystore is not None else None
                if material is None:
                    continue
                secret = crypto.unwrap(material, slot, _binding(header.id, slot["keyId"]),
                                       "key slot of %s" % header.name)
                if secret is None:
                    raise IntegrityError("backup %s: its key slot for backup key %s does not open with that key: the "
                                         "header was changed or damaged" % (header.name, slot["keyId"]))
                return secret
        for slot in header.slots:
            if slot["type"] == "gpg" and HAS_GNUPG:
                secret = self._gpg_open(slot, header)
                if secret is not None:
                    return secret
        keys = ["backup key %s" % s["keyId"] for s in header.slots if s["type"] == "backup-key"]
        gpg = ["GnuPG key %s" % s["keyId"] for s in header.slots if s["type"] == "gpg"]
        unknown = header.unknown_slot_types
        remedies = (["upload the backup key (drkit.backup.backup_key_upload)"] if keys else []) + (
            ["give gpg_home (and gpg_passphrase) where the GnuPG secret key is"] if gpg else []) + (
            ["upgrade the drkit.backup collection (a newer release wrote those slots)"] if unknown else [])
        holders = []
        if keys or gpg:
            holders.append("%s, %s not in %s" % (" or ".join(keys + gpg), "which is" if len(keys + gpg) == 1 else
                                                 "none of which is", self))
        if unknown:
            holders.append("key slots of type %s, which this release of drkit.backup cannot open"
                           % ", ".join(unknown))
        raise KeyNotFound("backup %s is encrypted with %s: %s, then try again"
                          % (header.name, ", and with ".join(holders), " or ".join(remedies)))

    def data_key(self, header):
        """The data key, with the manifest MAC checked (None for an unencrypted backup)."""
        if not header.encrypted:
            return None
        secret = self.slot_secret(header)
        if header.manifest.get("tiedToHSM"):
            described = header.manifest.get("hsm") or {}
            hsm = self._hsm(described) if self._hsm is not None else None
            if hsm is None:
                raise KeyNotFound("backup %s is tied to HSM key %s on token %s: give hsm (module and pin) to open it, "
                                  "on a host where that key is present" % (header.name, described.get("keyLabel"),
                                                                           described.get("tokenLabel")))
            data_key = hsm.unwrap(secret, header.id)
        else:
            data_key = secret
        if not mac_ok(header, data_key):
            raise IntegrityError("backup %s: header.json does not authenticate: its manifest was changed"
                                 % header.name)
        return data_key


def hsm_factory(options):
    """A function that makes the :class:`HsmKey` for a header's HSM description from module options."""
    if not options:
        return None

    def make(described):
        return HsmKey(options.get("module"), options.get("token_label") or described.get("tokenLabel"),
                      options.get("key_label") or described.get("keyLabel"), options.get("pin"))
    return make


def rewrap(header, unlocker, keys, gpg, gpg_recipients) -> list:
    """The key slots ``header`` should have to open with exactly ``keys`` and ``gpg_recipients``.

    Slots already there are kept as they are (with any field a newer format
    minor added); new ones wrap the same slot secret. Slots of a type this
    release does not know are not among the wanted ones, so they go. The HSM is
    never needed: the slots hold its output.
    """
    scope, domain = header.manifest["scope"], header.manifest.get("domain")
    for key in keys:
        check_key_scope(key, scope, domain)
    existing = {(slot["type"], slot.get("keyId")): slot for slot in header.slots}
    wanted = [("backup-key", key.id) for key in keys]
    fingerprints = {}
    for recipient in gpg_recipients:
        fingerprints[recipient] = gpg.public_key(recipient)["fingerprint"]
        wanted.append(("gpg", fingerprints[recipient]))
    if not wanted:
        raise InvalidInput("rekeying %s would leave no way to open it: give key_ids or gpg_recipients" % header.name)
    missing = [holder for holder in wanted if holder not in existing]
    secret = unlocker.slot_secret(header) if missing else None
    slots = []
    for key in keys:
        slots.append(existing.get(("backup-key", key.id)) or key_slot(header.id, key, secret))
    for recipient in gpg_recipients:
        slots.append(existing.get(("gpg", fingerprints[recipient])) or gpg_slot(header.id, gpg, recipient, secret))
    return slots
