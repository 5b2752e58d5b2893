# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signed manifests: an X.509 certificate's key signs the backup's manifest.

As the MQ Appliance signs its backup manifest: the signature, with the signer's
certificate, travels in the header, so anyone holding the certificate (or the
CA that issued it) can prove where a backup came from and, through the part
checksums the manifest lists, that no byte changed, without any decryption key.
The key slots are outside the signature, so rotating keys keeps it valid.
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
except ImportError:  # pragma: no cover - crypto.HAS_CRYPTOGRAPHY reports it
    pass

SIGNATURE_FIELDS = {"algorithm", "certificate", "value"}
AAD = b"drkit-manifest-signature-v1\x00"


def _algorithm_of(public_key) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa-pss-sha256"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ecdsa-sha256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    raise InvalidInput("signing keys must be RSA, EC or Ed25519")


def _pss():
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def _read(path, what):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InvalidInput("cannot read the %s %s: %s" % (what, path, exc.strerror))


def load_certificates(path) -> list:
    """Every certificate in a PEM file (a single certificate or a CA bundle)."""
    try:
        return x509.load_pem_x509_certificates(_read(path, "certificate file"))
    except ValueError:
        raise InvalidInput("%s holds no PEM certificate" % path)


def load_trusted(paths):
    """The certificates in the PEM files ``paths`` (trusted_certificates), or None when none are given."""
    return [cert for path in paths for cert in load_certificates(path)] if paths else None


class Signer:
    """A certificate and its private key, checked to belong together before anything starts."""

    def __init__(self, certificate_path, key_path, passphrase=None):
        self.certificate_path = certificate_path
        self.key_path = key_path
        self.certificate = load_certificates(certificate_path)[0]
        try:
            self._key = serialization.load_pem_private_key(
                _read(key_path, "signing key"), passphrase.encode() if passphrase else None)
        except (ValueError, TypeError):
            raise InvalidInput("the signing key %s cannot be read: wrong passphrase, or not a PEM private key"
                               % key_path)
        public = self.certificate.public_key()
        if public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
                self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo):
            raise InvalidInput("the signing key %s does not belong to the certificate %s" % (key_path, certificate_path))
        self.algorithm = _algorithm_of(public)

    def sign(self, manifest_bytes: bytes) -> dict:
        data = AAD + manifest_bytes
        if self.algorithm == "rsa-pss-sha256":
            value = self._key.sign(data, _pss(), hashes.SHA256())
        elif self.algorithm == "ecdsa-sha256":
            value = self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            value = self._key.sign(data)
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return {"algorithm": self.algorithm, "certificate": pem, "value": crypto.b64e(value)}


def signer_certificate(signature: dict, where: str):
    try:
        return x509.load_pem_x509_certificate(signature["certificate"].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise FormatError("%s: the signer's certificate is damaged" % where)


def check_signature(signature: dict, manifest_bytes: bytes, where: str) -> str:
    """Problem sentence when the signature does not match its own certificate, else ''."""
    cert = signer_certificate(signature, where)
    public = cert.public_key()
    value = crypto.b64d(signature["value"], "%s signature" % where)
    data = AAD + manifest_bytes
    try:
        if signature["algorithm"] != _algorithm_of(public):
            return "%s: the signature's algorithm does not fit its certificate: it was changed" % where
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(value, data, _pss(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(value, data, ec.ECDSA(hashes.SHA256()))
        else:
            public.verify(value, data)
    except (InvalidSignature, InvalidInput):
        return "%s: the manifest signature does not verify: the header was changed" % where
    return ""


def check_trust(signature: dict, created_at: str, trusted: list, where: str) -> str:
    """Problem sentence unless the signer is one of ``trusted`` or was issued by one, else ''."""
    cert = signer_certificate(signature, where)
    subject = cert.subject.rfc4514_string()
    created = parse_time(created_at)
    if not cert.not_valid_before_utc <= created <= cert.not_valid_after_utc:
        return "%s was signed by %s outside that certificate's validity" % (where, subject)
    for anchor in trusted:
        if anchor == cert:
            return ""
        try:
            cert.verify_directly_issued_by(anchor)
            return ""
        except (ValueError, TypeError, InvalidSignature):
            continue
    return "%s is signed by %s, which is not one of the trusted certificates nor issued by them" % (where, subject)


def signer_subject(signature: dict, where: str) -> str:
    return signer_certificate(signature, where).subject.rfc4514_string()
