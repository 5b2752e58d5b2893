# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signed manifests: an X.509 certificate's key signs the backup's manifest.

As the MQ Appliance signs its backup manifest: the signature, with the signer's
certificate, travels in the header, so anyone holding the certificate (or the
CA that issued it) can prove where a backup came from and, through the part
checksums the manifest lists, that no byte changed, without any decryption key.
The key slots are outside the signature, so rotating keys keeps it valid.

The signature block may also carry (``chain``) the intermediate certificates
that the signer's certificate file held after its own: they only help to build
a chain to a trusted certificate (protection/trust.py), so they need no
signature of their own, and a block without them reads as before.
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import utc_now
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID
    # The extended key usages that let a certificate sign manifests: code signing, document signing
    # (RFC 9336) and any purpose.
    SIGNING_PURPOSES = {ExtendedKeyUsageOID.CODE_SIGNING, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),
                        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    _PURPOSE_NAMES = {oid: name.lower().replace("_", " ") for name, oid in vars(ExtendedKeyUsageOID).items()
                      if isinstance(oid, x509.ObjectIdentifier)}
except ImportError:  # pragma: no cover - crypto.HAS_CRYPTOGRAPHY reports it
    pass

# Every signature block has these; CHAIN_FIELD (PEM text of intermediate certificates) is optional.
SIGNATURE_FIELDS = {"algorithm", "certificate", "value"}
CHAIN_FIELD = "chain"
OPTIONAL_SIGNATURE_FIELDS = {CHAIN_FIELD}
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


def read_input(path, what):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InvalidInput("cannot read the %s %s: %s" % (what, path, exc.strerror))


def load_certificates(path) -> list:
    """Every certificate in a PEM file (a single certificate or a CA bundle)."""
    try:
        return x509.load_pem_x509_certificates(read_input(path, "certificate file"))
    except ValueError:
        raise InvalidInput("%s holds no PEM certificate" % path)


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def usage_problem(cert) -> str:
    """Why ``cert`` may not sign manifests, as the end of a sentence ('' when it may).

    A key usage, when present, must allow digital signatures; an extended key usage, when present, must
    include one of SIGNING_PURPOSES. Without either extension any use is allowed, as in RFC 5280.
    """
    try:
        extensions = cert.extensions
    except ValueError:
        return "its extensions are malformed"
    try:
        if not extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return "its key usage does not allow digital signatures"
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = list(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return ""
    if SIGNING_PURPOSES.intersection(purposes):
        return ""
    return ("its extended key usage (%s) includes none of code signing, document signing or any purpose"
            % ", ".join(_PURPOSE_NAMES.get(oid, oid.dotted_string) for oid in purposes))


class Signer:
    """A certificate and its private key, checked to belong together and to be fit to sign before anything starts.

    The certificate file may hold intermediate certificates after the signer's own (the one that fits the
    key): the signature carries them, so that a reader who trusts only the root can build the chain.
    """

    def __init__(self, certificate_path, key_path, passphrase=None):
        self.certificate_path = certificate_path
        self.key_path = key_path
        certificates = load_certificates(certificate_path)
        try:
            self._key = serialization.load_pem_private_key(
                read_input(key_path, "signing key"), passphrase.encode() if passphrase else None)
        except (ValueError, TypeError):
            raise InvalidInput("the signing key %s cannot be read: wrong passphrase, or not a PEM private key"
                               % key_path)
        mine = _public_der(self._key.public_key())
        fitting = [cert for cert in certificates if _public_der(cert.public_key()) == mine]
        if not fitting:
            raise InvalidInput("the signing key %s does not belong to the certificate %s"
                               % (key_path, certificate_path))
        self.certificate = fitting[0]
        self.chain = [cert for cert in certificates if cert is not self.certificate]
        what = "the signing certificate %s (%s)" % (certificate_path, self.certificate.subject.rfc4514_string())
        problem = usage_problem(self.certificate)
        if problem:
            raise InvalidInput("%s may not sign backups: %s; use a certificate issued for signing" % (what, problem))
        now = utc_now()
        if not self.certificate.not_valid_before_utc <= now <= self.certificate.not_valid_after_utc:
            raise InvalidInput("%s is not valid now (valid from %s to %s): renew it" % (
                what, self.certificate.not_valid_before_utc.date(), self.certificate.not_valid_after_utc.date()))
        self.algorithm = _algorithm_of(self.certificate.public_key())

    def sign(self, manifest_bytes: bytes) -> dict:
        data = AAD + manifest_bytes
        if self.algorithm == "rsa-pss-sha256":
            value = self._key.sign(data, _pss(), hashes.SHA256())
        elif self.algorithm == "ecdsa-sha256":
            value = self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            value = self._key.sign(data)
        pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        signature = {"algorithm": self.algorithm, "certificate": pem, "value": crypto.b64e(value)}
        if self.chain:  # only then, so that a release without chains still reads the backup
            signature[CHAIN_FIELD] = "".join(cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                             for cert in self.chain)
        return signature


def signer_certificate(signature: dict, where: str):
    try:
        return x509.load_pem_x509_certificate(signature["certificate"].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise FormatError("%s: the signer's certificate is damaged" % where)


def carried_chain(signature: dict, where: str) -> list:
    """The intermediate certificates a signature carries (none for a block without them)."""
    if CHAIN_FIELD not in signature:
        return []
    try:
        return x509.load_pem_x509_certificates(signature[CHAIN_FIELD].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise FormatError("%s: the certificates carried with its signature are damaged" % where)


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


def signer_subject(signature: dict, where: str) -> str:
    return signer_certificate(signature, where).subject.rfc4514_string()
