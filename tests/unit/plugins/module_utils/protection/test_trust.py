# -*- coding: utf-8 -*-
"""Who may have signed a backup (protection/trust.py): a chain to a trusted certificate, through intermediates
the signature carries or the trusted files hold; a certificate fit to sign; valid now; not revoked."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto, signing, trust
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


def signed(tmp_path, keystore, data_tree, pki, certificate="site_signer", key="site_key"):
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(tmp_path / "b"),
                         signing_certificate=pki[certificate], signing_key=pki[key])
    return made["path"]


def header_doc(path):
    with open(os.path.join(path, "header.json"), "rb") as handle:
        return json.loads(handle.read())


def write_header(path, doc):
    with open(os.path.join(path, "header.json"), "wb") as handle:
        handle.write(canonjson.dumps(doc))


def resign(path, pki, certificate, key="leaf_key"):
    """Signs the manifest again, as another tool might, with a certificate that drkit's Signer refuses."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    doc = header_doc(path)
    with open(pki[key], "rb") as handle:
        private = serialization.load_pem_private_key(handle.read(), None)
    value = private.sign(signing.AAD + canonjson.dumps(doc["manifest"]), ec.ECDSA(hashes.SHA256()))
    with open(pki[certificate]) as handle:
        doc["signature"] = {"algorithm": "ecdsa-sha256", "certificate": handle.read(), "value": crypto.b64e(value)}
    write_header(path, doc)


def check(path, pki, *trusted, crls=(), **kwargs):
    """The problems backup_info finds with these trusted certificates and CRLs (names of pki files)."""
    info = backup_info(path, "checksum", trusted_certificates=[pki[name] for name in trusted],
                       trusted_crls=[pki[name] for name in crls] or None, **kwargs)
    assert info["verified"] == (not info["problems"])
    return info["problems"]


def serial_of(pki, name):
    from cryptography import x509
    with open(pki[name], "rb") as handle:
        return "0x%X" % x509.load_pem_x509_certificates(handle.read())[0].serial_number


def restore(keystore, path, target, **kwargs):
    return restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(target)}, **kwargs)


# --- chains --------------------------------------------------------------------------------------

def test_a_signer_carries_its_intermediates_to_a_trusted_root(tmp_path, keystore, data_tree, pki):
    path = signed(tmp_path, keystore, data_tree, pki, "chain_bundle", "chain_key")
    signature = header_doc(path)["signature"]
    with open(pki["intermediate_ca"]) as handle:
        assert signature["chain"] == handle.read()  # the leaf is the certificate, the rest is the chain
    assert check(path, pki, "root_ca") == []
    assert check(path, pki, "intermediate_ca") == []
    refused = check(path, pki, "site_ca")
    assert len(refused) == 1 and "CN=chain backup signer, which is not one of the trusted certificates" in refused[0]
    assert restore(keystore, path, tmp_path / "t", trusted_certificates=[pki["root_ca"]])["changed"]


def test_intermediates_may_come_from_the_trusted_files(tmp_path, keystore, data_tree, pki):
    path = signed(tmp_path, keystore, data_tree, pki, "chain_signer", "chain_key")
    assert "chain" not in header_doc(path)["signature"]  # a single certificate signs as before
    assert "not one of the trusted certificates" in check(path, pki, "root_ca")[0]
    assert check(path, pki, "root_bundle") == []


def test_a_signature_block_with_no_chain_or_an_unknown_field(tmp_path, keystore, data_tree, pki):
    path = signed(tmp_path, keystore, data_tree, pki)
    doc = header_doc(path)
    assert set(doc["signature"]) == signing.SIGNATURE_FIELDS  # what older releases wrote and read
    assert check(path, pki, "site_ca") == []
    for change in ({"chain": 42}, {"extra": "x"}):
        write_header(path, dict(doc, signature=dict(doc["signature"], **change)))
        assert "its signature is malformed" in check(path, pki, "site_ca")[0]
    write_header(path, dict(doc, signature=dict(doc["signature"], chain="-----BEGIN CERTIFICATE-----\nAAAA")))
    assert "certificates carried with its signature are damaged" in check(path, pki, "site_ca")[0]


def test_every_issuer_of_the_chain_is_checked(tmp_path, keystore, data_tree, pki):
    uncertified = signed(tmp_path / "u", keystore, data_tree, pki, "uncertified_bundle", "chain_key")
    problem = check(uncertified, pki, "root_ca")[0]
    assert "CN=uncertified intermediate CA issues certificates but its key usage does not allow it" in problem
    long_chain = signed(tmp_path / "l", keystore, data_tree, pki, "chain_bundle", "chain_key")
    assert "longer than an issuer's path length constraint allows" in check(long_chain, pki, "root_short")[0]


# --- key usage -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [("nosig_signer", "its key usage does not allow digital signatures"),
                                          ("serverauth_signer", "its extended key usage (server auth) includes none")])
def test_the_signer_must_be_allowed_to_sign(tmp_path, keystore, data_tree, pki, name, reason):
    with pytest.raises(InvalidInput, match="may not sign backups: " + reason.replace("(", r"\(").replace(")", r"\)")):
        signed(tmp_path / "refused", keystore, data_tree, pki, name, "leaf_key")
    path = signed(tmp_path, keystore, data_tree, pki)
    resign(path, pki, name)
    assert check(path, pki, "site_ca") == [
        "backup %s is signed by CN=%s, whose certificate may not sign backups: %s" % (
            os.path.basename(path), name.replace("_", " "), reason + (
                "" if name == "nosig_signer" else " of code signing, document signing or any purpose"))]


def test_a_document_signing_certificate_may_sign(tmp_path, keystore, data_tree, pki):
    path = signed(tmp_path, keystore, data_tree, pki, "docsign_signer", "leaf_key")
    assert check(path, pki, "site_ca") == []


# --- validity ----------------------------------------------------------------------------------------

def later(monkeypatch, days):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    monkeypatch.setattr(trust, "utc_now", lambda: moment)


def test_validity_is_checked_now_not_at_the_creation_time_the_signer_wrote(
        tmp_path, keystore, data_tree, pki, monkeypatch):
    path = signed(tmp_path, keystore, data_tree, pki)
    later(monkeypatch, 60)  # the site CA and its signer were valid for 30 days
    refused = check(path, pki, "site_ca")
    assert len(refused) == 1 and "expired on" in refused[0] and "give signature_expired=allow" in refused[0]
    with pytest.raises(IntegrityError, match="expired on"):
        restore(keystore, path, tmp_path / "t", trusted_certificates=[pki["site_ca"]])

    info = backup_info(path, "checksum", trusted_certificates=[pki["site_ca"]], signature_expired="allow")
    assert info["verified"] and len(info["warnings"]) == 1
    assert "expired on" in info["warnings"][0] and "it was accepted because signature_expired is allow" in \
        info["warnings"][0]
    done = restore(keystore, path, tmp_path / "t", trusted_certificates=[pki["site_ca"]], signature_expired="allow")
    assert done["changed"] and "signature_expired is allow" in done["warnings"][-1]
    # Revocation still counts for an expired signer.
    assert "is revoked" in check(path, pki, "site_ca", crls=["site_crl"], signature_expired="allow")[0]


def test_a_certificate_invalid_when_the_backup_was_made_is_refused_either_way(tmp_path, keystore, data_tree, pki):
    with pytest.raises(InvalidInput, match="is not valid now"):
        signed(tmp_path / "refused", keystore, data_tree, pki, "expired_signer", "leaf_key")
    path = signed(tmp_path, keystore, data_tree, pki)
    resign(path, pki, "expired_signer")
    for rule in ("refuse", "allow"):
        problem = check(path, pki, "site_ca", signature_expired=rule)[0]
        assert "CN=expired signer, which is not one of the trusted" in problem and "is not valid now" in problem
    with pytest.raises(InvalidInput, match="signature_expired must be refuse or allow"):
        check(path, pki, "site_ca", signature_expired="sometimes")


# --- revocation ----------------------------------------------------------------------------------------

def test_a_revoked_signer_is_refused_naming_its_serial_and_subject(tmp_path, keystore, data_tree, pki):
    path = signed(tmp_path, keystore, data_tree, pki)
    assert check(path, pki, "site_ca", crls=["site_crl"]) == [
        "backup %s is signed by CN=site backup signer, but the certificate CN=site backup signer (serial %s) is "
        "revoked by the CRL %s" % (os.path.basename(path), serial_of(pki, "site_signer"), pki["site_crl"])]
    with pytest.raises(IntegrityError, match="is revoked by the CRL"):
        restore(keystore, path, tmp_path / "t", trusted_certificates=[pki["site_ca"]], trusted_crls=[pki["site_crl"]])
    assert not os.path.exists(str(tmp_path / "t"))
    assert check(path, pki, "site_ca", crls=["intermediate_crl"]) == []  # a CRL of another CA: nothing to say


def test_a_revoked_intermediate_is_refused(tmp_path, keystore, data_tree, pki):
    carried = signed(tmp_path / "c", keystore, data_tree, pki, "chain_bundle", "chain_key")
    assert check(carried, pki, "root_ca", crls=["intermediate_crl"]) == []
    revoked = "the certificate CN=chain intermediate CA (serial %s) is revoked" % serial_of(pki, "intermediate_ca")
    assert revoked in check(carried, pki, "root_ca", crls=["intermediate_crl", "root_crl_der"])[0]
    # Also when the trusted files hold the intermediate, which then ends the chain: its issuer's CRL counts.
    leaf_only = signed(tmp_path / "l", keystore, data_tree, pki, "chain_signer", "chain_key")
    assert revoked in check(leaf_only, pki, "root_bundle", crls=["root_crl_der"])[0]


def test_a_crl_must_come_from_its_issuer_and_be_current(tmp_path, keystore, data_tree, pki):
    path = signed(tmp_path, keystore, data_tree, pki)
    forged = check(path, pki, "site_ca", crls=["forged_crl"])
    assert len(forged) == 1
    assert "names CN=site backup CA as its issuer but is not signed by that certificate" in forged[0]
    assert "was due to be replaced on" in check(path, pki, "site_ca", crls=["stale_crl"])[0]
    assert "its issuer CN=site backup CA is not among the trusted certificates" in check(
        path, pki, "site_signer", crls=["site_crl"])[0]
    other = signed(tmp_path / "n", keystore, data_tree, pki, "nocrl_signer", "leaf_key")
    assert check(other, pki, "nocrl_ca") == []
    assert "comes from CN=no CRL CA, whose key usage does not allow signing CRLs" in check(
        other, pki, "nocrl_ca", crls=["nocrl_crl"])[0]
    with pytest.raises(InvalidInput, match="trusted_crls needs trusted_certificates"):
        backup_info(path, "checksum", trusted_crls=[pki["site_crl"]])
    with pytest.raises(InvalidInput, match="holds no certificate revocation list"):
        backup_info(path, "checksum", trusted_certificates=[pki["site_ca"]], trusted_crls=[pki["site_ca"]])
