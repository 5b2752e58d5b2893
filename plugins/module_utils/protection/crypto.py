# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cryptographic building blocks, all from the ``cryptography`` library.

- A per-backup random data key; per-part keys and the manifest MAC key are
  derived from it with HKDF-SHA256, bound to the backup id (and part name).
- Key wrapping: AES-256-GCM with associated data that binds the wrapped key
  to its context (backup id and key id, or key-file metadata).
- Passwords: scrypt, a memory-hard KDF, with its parameters stored beside the
  ciphertext so they can be raised later without breaking old files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

# scrypt cost: 2**17 * 8 * 128 bytes = 128 MiB of memory, about half a second.
SCRYPT_DEFAULTS = {"name": "scrypt", "n": 2 ** 17, "r": 8, "p": 1}
# Refuse parameters that would take unreasonable memory or time (a crafted key file).
SCRYPT_MAX_N = 2 ** 22


def random_key() -> bytes:
    return os.urandom(KEY_BYTES)


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text, what: str, length=None) -> bytes:
    """Strict base64 decoding; ``what`` names the field for the error message."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (AttributeError, UnicodeEncodeError, binascii.Error, ValueError):
        raise FormatError("%s is not valid base64" % what)
    if length is not None and len(data) != length:
        raise FormatError("%s has %d bytes where %d are expected" % (what, len(data), length))
    return data


def derive(key: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 of ``key``: a 32-byte key for one purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(key)


def mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def mac_ok(key: bytes, data: bytes, expected) -> bool:
    return isinstance(expected, str) and hmac.compare_digest(mac(key, data), expected)


def wrap(key: bytes, plaintext: bytes, aad: bytes) -> dict:
    """Encrypt a small secret (a key) with a random nonce; returns base64 fields."""
    nonce = os.urandom(NONCE_BYTES)
    return {"nonce": b64e(nonce), "ciphertext": b64e(AESGCM(key).encrypt(nonce, plaintext, aad))}


def unwrap(key: bytes, fields: dict, aad: bytes, what: str):
    """Reverse of :func:`wrap`; returns None when the key or the data is wrong."""
    nonce = b64d(fields.get("nonce"), "%s nonce" % what, NONCE_BYTES)
    ciphertext = b64d(fields.get("ciphertext"), "%s ciphertext" % what)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        return None


def password_key(password: str, kdf: dict) -> bytes:
    """Stretch a password with the scrypt parameters recorded in ``kdf``."""
    try:
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        salt = b64d(kdf["salt"], "key file KDF salt")
    except (KeyError, TypeError, ValueError):
        raise FormatError("the key file's KDF parameters are missing or malformed")
    if kdf.get("name") != "scrypt" or not (2 <= n <= SCRYPT_MAX_N) or n & (n - 1) \
            or not (1 <= r <= 32) or not (1 <= p <= 16) or len(salt) < 16:
        raise FormatError("the key file asks for an unsupported KDF or KDF parameters (%s)" % kdf.get("name"))
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(password.encode("utf-8"))


def new_kdf() -> dict:
    kdf = dict(SCRYPT_DEFAULTS)
    kdf["salt"] = b64e(os.urandom(16))
    return kdf


class ChunkCipher:
    """AES-256-GCM over numbered chunks, in the STREAM construction.

    The nonce is the chunk's index (11 bytes, big-endian) followed by a
    last-chunk flag byte, so chunks cannot be reordered, dropped from the end
    or followed by more chunks without failing authentication; ``aad`` carries
    the chunk's flags (compressed or not, last or not).
    """

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    @staticmethod
    def _nonce(index: int, last: bool) -> bytes:
        return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")

    def encrypt(self, index: int, last: bool, data: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(self._nonce(index, last), data, aad)

    def decrypt(self, index: int, last: bool, data: bytes, aad: bytes):
        """Returns None when the chunk does not authenticate."""
        try:
            return self._aead.decrypt(self._nonce(index, last), data, aad)
        except InvalidTag:
            return None
