# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a signed manifest comes from a trusted signer (trusted_certificates, trusted_crls, signature_expired).

Every certificate in the trusted files is a trust anchor. The signer's
certificate must be one, or chain to one through the intermediates the
signature carries (signing.carried_chain); cryptography's verifier builds and
checks that chain (issuer names and signatures, CA basic constraints, path
lengths, validity) at the time of the check, not at the creation time the
signer wrote. On top of it: issuers with a key usage must allow keyCertSign,
the signer must be fit to sign (signing.usage_problem), and no certificate of
the chain may be revoked by a given CRL, which must itself be signed by the
issuer it names and be current.
"""

from __future__ import annotations

import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.protection import signing

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError
except ImportError:  # pragma: no cover - crypto.HAS_CRYPTOGRAPHY reports it
    pass

EXPIRED_CHOICES = ("refuse", "allow")
_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)
_WEAK = ("a certificate of its chain uses a key or signature algorithm that is not accepted "
         "(RSA under 2048 bits, SHA-1, or a certificate signed with an Ed25519 key)")
# What the verifier's reasons mean, in plain words (its own wording is for developers).
_REASONS = (("not valid at validation time", "a certificate of its chain is not valid now"),
            ("basicConstraints", "a certificate that issues another in its chain is not a CA"),
            ("path length", "its chain is longer than an issuer's path length constraint allows"),
            ("Forbidden", _WEAK), ("too weak", _WEAK),
            ("critical extension", "a certificate of its chain has a critical extension that is not understood"))


def load_crls(path) -> list:
    """The (path, CRL) pairs of a PEM file (one or more CRLs) or a DER file (one CRL)."""
    data = signing.read_input(path, "CRL file")
    try:
        if b"-----BEGIN" in data:
            crls = [x509.load_pem_x509_crl(block) for block in _PEM_CRL.findall(data)]
        else:
            crls = [x509.load_der_x509_crl(data)]
    except ValueError:
        crls = []
    if not crls:
        raise InvalidInput("%s holds no certificate revocation list (PEM or DER)" % path)
    return [(path, crl) for crl in crls]


def load_trusted(paths, crls=None, signature_expired="refuse"):
    """The trust that ``trusted_certificates`` (PEM files), ``trusted_crls`` and ``signature_expired`` make up,
    or None when no certificate is given (a signature is then checked against its own certificate only)."""
    if signature_expired not in EXPIRED_CHOICES:
        raise InvalidInput("signature_expired must be refuse or allow, not %r" % (signature_expired,))
    if not paths:
        if crls:
            raise InvalidInput("trusted_crls needs trusted_certificates: give the certificates that signers chain to")
        return None
    anchors = [cert for path in paths for cert in signing.load_certificates(path)]
    return Trust(anchors, [pair for path in crls or () for pair in load_crls(path)], signature_expired == "allow")


def _issuer_usage(policy, cert, usage):
    """The verifier's check of every issuer: a key usage, when present, must allow signing certificates."""
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("%s issues certificates but its key usage does not allow it (keyCertSign)"
                         % cert.subject.rfc4514_string())


def _reason(error: str) -> str:
    mine = error.partition("ValueError: ")[2]
    if mine:
        return mine.split(" (encountered", 1)[0]
    return next((plain for marker, plain in _REASONS if marker in error), "")


def _issued_by(cert, issuer) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _serial(cert) -> str:
    return "0x%X" % cert.serial_number


class Trust:
    """Trust anchors, CRLs and the rule for expired signers.

    ``warnings`` collects the signers accepted only by that rule, for the module to show.
    """

    def __init__(self, anchors, crls, allow_expired):
        self.anchors = anchors
        self.crls = crls
        self.allow_expired = allow_expired
        self.warnings = []
        self._store = Store(anchors)
        self._ca_policy = (ExtensionPolicy.permit_all()
                           .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
                           .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _issuer_usage))

    def _chain(self, cert, carried, moment):
        """(the chain from ``cert`` to an anchor, valid at ``moment``, ''), or (None, why not)."""
        verifier = (PolicyBuilder().store(self._store).time(moment)
                    .extension_policies(ca_policy=self._ca_policy, ee_policy=ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            return verifier.verify(cert, carried).chain, ""
        except VerificationError as exc:
            return None, _reason(str(exc))

    def check(self, signature: dict, created_at: str, where: str) -> str:
        """Problem sentence unless the signature's certificate is trusted now (see the module docstring), else ''."""
        cert = signing.signer_certificate(signature, where)
        subject = cert.subject.rfc4514_string()
        who = "%s is signed by %s" % (where, subject)
        problem = signing.usage_problem(cert)
        if problem:
            return "%s, whose certificate may not sign backups: %s" % (who, problem)
        carried = signing.carried_chain(signature, where)
        now = utc_now()
        chain, reason = self._chain(cert, carried, now)
        expired = None
        if chain is None:
            chain, expired = self._expired_chain(cert, carried, created_at, now)
            if chain is None:
                return "%s, which is not one of the trusted certificates nor issued by them%s" % (
                    who, ": " + reason if reason else "")
            since = "the certificate %s expired on %s" % (
                expired.subject.rfc4514_string(), expired.not_valid_after_utc.date())
            if not self.allow_expired:
                return ("%s, but %s: give signature_expired=allow to accept a backup whose signer was valid when it "
                        "was made" % (who, since))
        problem = self._revocation_problem(chain, who, where, now)
        if problem:
            return problem
        if expired is not None:
            warning = ("%s and %s; it was accepted because signature_expired is allow and the chain was valid at "
                       "the creation time %s that the signer wrote" % (who, since, created_at))
            if warning not in self.warnings:
                self.warnings.append(warning)
        return ""

    def _expired_chain(self, cert, carried, created_at, now):
        """(chain, the first of its certificates to expire) when the chain was valid at the creation time the
        signer wrote (before now) and only expiry breaks it now; else (None, None)."""
        try:
            created = parse_time(created_at)
        except ValueError:
            return None, None
        chain = self._chain(cert, carried, created)[0] if created < now else None
        expired = sorted((c for c in chain or () if c.not_valid_after_utc < now), key=lambda c: c.not_valid_after_utc)
        return (chain, expired[0]) if expired else (None, None)

    def _revocation_problem(self, chain, who, where, now) -> str:
        if not self.crls:
            return ""
        links = list(chain)
        # Past the anchor too: a trusted intermediate that its own (trusted) issuer revoked is revoked.
        while links[-1].issuer != links[-1].subject:
            issuer = next((a for a in self.anchors if a not in links and _issued_by(links[-1], a)), None)
            if issuer is None:
                break
            links.append(issuer)
        for index, cert in enumerate(links):
            if cert.issuer == cert.subject:
                continue
            issuer = links[index + 1] if index + 1 < len(links) else None
            for path, crl in self.crls:
                if crl.issuer != cert.issuer:
                    continue
                problem = self._crl_problem(path, crl, issuer, where)
                if problem:
                    return problem
                if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                    return "%s, but the certificate %s (serial %s) is revoked by the CRL %s" % (
                        who, cert.subject.rfc4514_string(), _serial(cert), path)
                # A revocation stands however old its list; only an absence needs a current one.
                if crl.next_update_utc is not None and crl.next_update_utc < now:
                    return ("%s: the CRL %s of %s was due to be replaced on %s: fetch a current one"
                            % (where, path, crl.issuer.rfc4514_string(), crl.next_update_utc.date()))
        return ""

    @staticmethod
    def _crl_problem(path, crl, issuer, where) -> str:
        """Why ``crl`` cannot speak for ``issuer`` (None: not trusted), else ''."""
        named = crl.issuer.rfc4514_string()
        if issuer is None:
            return ("%s cannot be checked against the CRL %s: the certificate of its issuer %s is not among the "
                    "trusted certificates; add it" % (where, path, named))
        try:
            usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        except (x509.ExtensionNotFound, ValueError):
            usage = None
        if usage is not None and not usage.crl_sign:
            return "%s: the CRL %s comes from %s, whose key usage does not allow signing CRLs" % (where, path, named)
        try:
            signed = crl.is_signature_valid(issuer.public_key())
        except (TypeError, ValueError, UnsupportedAlgorithm):
            signed = False
        if not signed:
            return ("%s: the CRL %s names %s as its issuer but is not signed by that certificate: it is forged or "
                    "belongs to another CA" % (where, path, named))
        return ""
