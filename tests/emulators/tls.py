# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the HTTPS emulators (CipherTrust Manager, MQ Appliance) share: an appliance's own CA and a server
certificate it signed for the bind address, made with the openssl CLI."""

from __future__ import annotations

import os
import subprocess
import tempfile


def openssl(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(("openssl",) + args, check=True, capture_output=True, **kwargs)


def certificates(etc, ca_path, address, name):
    """``ca_path`` (the CA clients trust) and ``etc``/server.pem and server.key, with the address as an IP SAN
    (Python's default context checks the SAN, and 3.13's strict mode wants the key identifiers too)."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    with tempfile.TemporaryDirectory() as scratch:
        ca_config, server_ext = os.path.join(scratch, "ca.cnf"), os.path.join(scratch, "server.ext")
        with open(ca_config, "w", encoding="utf-8") as out:
            out.write("[req]\ndistinguished_name = dn\nx509_extensions = ca\nprompt = no\n[dn]\nCN = %s CA\n"
                      "[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
                      "subjectKeyIdentifier = hash\n" % name)
        with open(server_ext, "w", encoding="utf-8") as out:
            out.write("basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n"
                      "extendedKeyUsage = serverAuth\nsubjectAltName = IP:%s\nsubjectKeyIdentifier = hash\n"
                      "authorityKeyIdentifier = keyid\n" % address)
        openssl("req", "-x509", *ec, "-config", ca_config, "-days", "3650", "-keyout", os.path.join(etc, "ca.key"),
                "-out", ca_path)
        csr = os.path.join(scratch, "server.csr")
        openssl("req", "-new", *ec, "-subj", "/CN=%s" % address, "-keyout", os.path.join(etc, "server.key"),
                "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", ca_path, "-CAkey", os.path.join(etc, "ca.key"),
                "-CAcreateserial", "-CAserial", os.path.join(scratch, "ca.srl"), "-days", "825", "-extfile",
                server_ext, "-out", os.path.join(etc, "server.pem"))
    for secret in ("ca.key", "server.key"):
        os.chmod(os.path.join(etc, secret), 0o600)
