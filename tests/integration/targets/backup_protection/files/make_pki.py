# -*- coding: utf-8 -*-
"""Writes two small PKIs for the test: <dir>/{site,other}-{ca,signer}.pem and <dir>/{site,other}-signer.key."""

import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(subject, issuer, issuer_key, key, is_ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def main(directory):
    os.makedirs(directory, exist_ok=True)
    for name in ("site", "other"):
        ca_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = certificate(name + " backup CA", name + " backup CA", ca_key, ca_key, True)
        signer = certificate(name + " backup signer", name + " backup CA", ca_key, signer_key, False)
        for label, cert in (("ca", ca), ("signer", signer)):
            with open(os.path.join(directory, "%s-%s.pem" % (name, label)), "wb") as out:
                out.write(cert.public_bytes(serialization.Encoding.PEM))
        path = os.path.join(directory, "%s-signer.key" % name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))


if __name__ == "__main__":
    main(sys.argv[1])
