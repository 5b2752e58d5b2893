# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups tied to an HSM: a key that never leaves a PKCS#11 token wraps the data key.

As in CipherTrust Manager, such a backup restores only where the same token
key exists. The token's AES key encrypts the data key with AES-GCM inside the
token (the associated data binds it to the backup id); the result is what the
key slots then wrap, so no slot alone opens the backup.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

# Imported when first used: most backups never need it, and it costs every module run 65 ms.
HAS_PKCS11 = importlib.util.find_spec("pkcs11") is not None

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    IntegrityError, InvalidInput, KeyNotFound)

MECHANISM = "CKM_AES_GCM"
NONCE_BYTES = 12
AAD = b"drkit-hsm-v1\x00"


class HsmKey:
    """A secret key in a PKCS#11 token: ``module`` (library path), token and key labels, user PIN."""

    def __init__(self, module, token_label, key_label, pin):
        if not HAS_PKCS11:
            raise InvalidInput("a backup tied to an HSM needs the python-pkcs11 library on the managed host")
        for name, value in (("module", module), ("token_label", token_label), ("key_label", key_label),
                            ("pin", pin)):
            if not value:
                raise InvalidInput("hsm.%s is required for a backup tied to an HSM" % name)
        self._pkcs11 = importlib.import_module("pkcs11")
        self.module = module
        self.token_label = token_label
        self.key_label = key_label
        self._pin = pin

    def describe(self) -> dict:
        return {"tokenLabel": self.token_label, "keyLabel": self.key_label, "mechanism": MECHANISM}

    def _call(self, action):
        """Opens a session, finds the key and runs ``action(key)``, turning PKCS#11 errors into sentences."""
        where = "key %s on HSM token %s" % (self.key_label, self.token_label)
        pkcs11 = self._pkcs11
        try:
            lib = pkcs11.lib(self.module)
        except (OSError, RuntimeError, pkcs11.PKCS11Error) as exc:
            raise InvalidInput("cannot load the PKCS#11 library %s: %s" % (self.module, exc))
        try:
            token = lib.get_token(token_label=self.token_label)
        except pkcs11.NoSuchToken:
            raise KeyNotFound("there is no HSM token %s here (PKCS#11 library %s)" % (self.token_label, self.module))
        try:
            with token.open(user_pin=self._pin) as session:
                try:
                    key = session.get_key(label=self.key_label, object_class=pkcs11.ObjectClass.SECRET_KEY)
                except pkcs11.NoSuchKey:
                    raise KeyNotFound("HSM token %s has no key %s" % (self.token_label, self.key_label))
                return action(key)
        except pkcs11.PinIncorrect:
            raise InvalidInput("the PIN of HSM token %s is wrong" % self.token_label)
        except pkcs11.PKCS11Error as exc:
            raise IntegrityError("%s failed: %s" % (where, type(exc).__name__))

    def _gcm(self, nonce, backup_id):
        params = importlib.import_module("pkcs11.mechanisms").GCMParams(nonce, AAD + backup_id.encode(), 128)
        return {"mechanism": self._pkcs11.Mechanism.AES_GCM, "mechanism_param": params}

    def wrap(self, secret: bytes, backup_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        gcm = self._gcm(nonce, backup_id)
        return nonce + self._call(lambda key: key.encrypt(secret, **gcm))

    def unwrap(self, wrapped: bytes, backup_id: str) -> bytes:
        gcm = self._gcm(wrapped[:NONCE_BYTES], backup_id)
        try:
            return self._call(lambda key: key.decrypt(wrapped[NONCE_BYTES:], **gcm))
        except IntegrityError:
            raise IntegrityError("the backup is tied to HSM key %s on token %s, and the key of that name here does "
                                 "not open it: restore where the same HSM root key is present"
                                 % (self.key_label, self.token_label))
