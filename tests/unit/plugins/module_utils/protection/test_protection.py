# -*- coding: utf-8 -*-
"""GnuPG recipients, HSM-tied backups, signed manifests, rotation and escrow, with real GnuPG,
a real SoftHSM2 token and a real X.509 chain."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    IntegrityError, InvalidInput, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.format.header import mac_ok
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.keys import backups_only_opened_by
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.rekey import rekey_backups
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker, hsm_factory


def backup(keystore, data_tree, dest, **kwargs):
    return create_backup(keystore, "files", {"paths": [str(data_tree / "conf")]}, dest=str(dest),
                         **kwargs)


def restores(unlocker, path, target):
    """Whether a full restore under ``target`` works; the error message when it does not."""
    try:
        restore_backup(unlocker, path, provider_options={"target_root": str(target)})
        return True
    except (KeyNotFound, IntegrityError, InvalidInput) as exc:
        return str(exc)


def service_log(tmp_path):
    script = tmp_path / "svc.sh"
    log = tmp_path / "svc.log"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n" % log)
    script.chmod(0o755)
    return {"stop_command": str(script) + " stop {service}", "start_command": str(script) + " start {service}"}, log


# --- GnuPG -------------------------------------------------------------------------------------

def test_gpg_backup_restores_with_the_secret_key(tmp_path, keystore, data_tree, gnupg_home):
    made = backup(keystore, data_tree, tmp_path / "b", encryption="gpg", gpg_home=gnupg_home,
                  gpg_recipients=["backup@example.test"])
    protection = made["backup"]["protection"]
    assert protection["encrypted"] and protection["backupKeys"] == [] and len(protection["gpgRecipients"]) == 1
    assert "GnuPG key" in protection["summary"]
    assert restores(Unlocker(keystore, gpg_home=gnupg_home), made["path"], tmp_path / "t") is True
    refused = restores(Unlocker(keystore, gpg_home=str(tmp_path)), made["path"], tmp_path / "t2")
    assert "GnuPG key" in refused and "gpg_home" in refused


def test_gpg_secret_key_with_passphrase(tmp_path, keystore, data_tree, gnupg_home):
    made = backup(keystore, data_tree, tmp_path / "b", encryption="gpg", gpg_home=gnupg_home,
                  gpg_recipients=["locked@example.test"])
    assert "not in" in restores(Unlocker(keystore, gnupg_home, "wrong passphrase"), made["path"], tmp_path / "t")
    assert restores(Unlocker(keystore, gnupg_home, "pass phrase 1"), made["path"], tmp_path / "t") is True


@pytest.mark.parametrize("recipient, reason", [("nobody@example.test", "has no public key"),
                                               ("old@example.test", "is expired")])
def test_bad_gpg_recipient_fails_before_any_service_stops(
        tmp_path, keystore, data_tree, gnupg_home, recipient, reason):
    commands, log = service_log(tmp_path)
    with pytest.raises((KeyNotFound, InvalidInput), match=reason):
        create_backup(keystore, "files", {"paths": [str(data_tree)], "services": ["ldap"]},
                      dest=str(tmp_path / "b"), encryption="gpg", gpg_home=gnupg_home,
                      gpg_recipients=["backup@example.test", recipient], **commands)
    assert not log.exists() and not (tmp_path / "b").exists()


# --- HSM ---------------------------------------------------------------------------------------

def test_hsm_tied_backup_restores_only_with_the_token_key(tmp_path, keystore, data_tree, softhsm):
    made = backup(keystore, data_tree, tmp_path / "b", tied_to_hsm=True, hsm=softhsm)
    header = open_backup(made["path"]).header()
    assert header.manifest["tiedToHSM"] and header.manifest["hsm"]["keyLabel"] == "root"
    assert made["backup"]["protection"]["tiedToHSM"]
    assert "tied to HSM key root on token drkit" in made["backup"]["protection"]["summary"]

    without = restores(Unlocker(keystore), made["path"], tmp_path / "t")
    assert "tied to HSM key root on token drkit" in without
    elsewhere = hsm_factory({"module": softhsm["module"], "token_label": "elsewhere", "pin": softhsm["pin"]})
    refused = restores(Unlocker(keystore, hsm=elsewhere), made["path"], tmp_path / "t")
    assert "does not open it" in refused and not (tmp_path / "t").exists()
    here = hsm_factory({"module": softhsm["module"], "pin": softhsm["pin"]})  # labels come from the backup
    assert restores(Unlocker(keystore, hsm=here), made["path"], tmp_path / "t") is True


def test_a_slot_alone_does_not_open_an_hsm_tied_backup(tmp_path, keystore, data_tree, softhsm):
    made = backup(keystore, data_tree, tmp_path / "b", tied_to_hsm=True, hsm=softhsm)
    header = open_backup(made["path"]).header()
    secret = Unlocker(keystore).slot_secret(header)
    assert len(secret) > 32  # the token's output, not the data key
    assert not mac_ok(header, secret[:32]) and not mac_ok(header, secret[-32:])


def test_hsm_errors_are_plain(tmp_path, keystore, data_tree, softhsm):
    for change, message in (({"pin": "000000"}, "PIN of HSM token drkit is wrong"),
                            ({"key_label": "missing"}, "has no key missing"),
                            ({"token_label": "absent"}, "no HSM token absent")):
        with pytest.raises((InvalidInput, KeyNotFound), match=message):
            backup(keystore, data_tree, tmp_path / "b", tied_to_hsm=True, hsm=dict(softhsm, **change))
    fin = keys.BackupKey.generate("fin", "domain", "finance")
    keystore.add(fin)
    with pytest.raises(InvalidInput, match="only system backups"):
        backup(keystore, data_tree, tmp_path / "b", scope="domain", domain="finance", key_id=fin.id,
               tied_to_hsm=True, hsm=softhsm)
    assert not (tmp_path / "b").exists()


# --- signatures ----------------------------------------------------------------------------------

def signed_backup(keystore, data_tree, dest, pki, name="site"):
    return backup(keystore, data_tree, dest, signing_certificate=pki["%s_signer" % name],
                  signing_key=pki["%s_key" % name])


def test_signed_backup_proves_its_origin_without_any_key(tmp_path, keystore, data_tree, pki):
    made = signed_backup(keystore, data_tree, tmp_path / "b", pki)
    assert made["backup"]["protection"]["signer"] == "CN=site backup signer"
    for trusted in (pki["site_ca"], pki["site_signer"]):
        info = backup_info(made["path"], "checksum", trusted_certificates=[trusted])
        assert info["verified"], info["problems"]
    other = backup_info(made["path"], "checksum", trusted_certificates=[pki["other_ca"]])
    assert not other["verified"] and "not one of the trusted certificates" in other["problems"][0]


def test_signature_by_another_certificate_is_refused(tmp_path, keystore, data_tree, pki):
    made = signed_backup(keystore, data_tree, tmp_path / "b", pki, name="other")
    info = backup_info(made["path"], "checksum", trusted_certificates=[pki["site_ca"]])
    assert not info["verified"] and "CN=other backup signer" in info["problems"][0]
    refused = restore_backup
    with pytest.raises(IntegrityError, match="not one of the trusted certificates"):
        refused(Unlocker(keystore), made["path"], provider_options={"target_root": str(tmp_path / "t")},
                trusted_certificates=[pki["site_ca"]])


def test_unsigned_backup_fails_when_trust_is_asked(tmp_path, keystore, data_tree, pki):
    made = backup(keystore, data_tree, tmp_path / "b")
    info = backup_info(made["path"], "checksum", trusted_certificates=[pki["site_ca"]])
    assert "is not signed" in info["problems"][0]


def test_forged_manifest_breaks_the_signature_even_with_a_fixed_checksum(tmp_path, keystore, data_tree, pki):
    import hashlib
    made = signed_backup(keystore, data_tree, tmp_path / "b", pki)
    header_path = os.path.join(made["path"], "header.json")
    doc = json.loads(open(header_path, "rb").read())
    doc["manifest"]["sourceHost"] = "attacker.example"
    doc["manifestSha256"] = hashlib.sha256(canonjson.dumps(doc["manifest"])).hexdigest()
    open(header_path, "wb").write(canonjson.dumps(doc))
    info = backup_info(made["path"], "checksum")
    assert "signature does not verify" in info["problems"][0]


def test_signing_key_must_match_its_certificate(tmp_path, keystore, data_tree, pki):
    with pytest.raises(InvalidInput, match="does not belong to the certificate"):
        backup(keystore, data_tree, tmp_path / "b", signing_certificate=pki["site_signer"],
               signing_key=pki["other_key"])


# --- rotation and escrow ---------------------------------------------------------------------------

def only(keystore_path, key):
    store = keys.Keystore(str(keystore_path))
    store.add(key)
    return Unlocker(store)


def test_rotation_restores_with_the_new_key_and_not_the_old(tmp_path, keystore, data_tree, pki):
    old = keystore.keys()[0]
    new = keys.BackupKey.generate("new", "system", None)
    keystore.add(new)
    made = signed_backup(keystore, data_tree, tmp_path / "b", pki)
    part_files = sorted(os.listdir(os.path.join(made["path"], "parts")))
    before = {name: open(os.path.join(made["path"], "parts", name), "rb").read() for name in part_files}

    planned = rekey_backups(Unlocker(keystore), str(tmp_path / "b"), [new.id], check_mode=True)
    assert planned["rekeyed"] == [made["path"]]
    assert open_backup(made["path"]).header().key_ids == [old.id]
    done = rekey_backups(Unlocker(keystore), str(tmp_path / "b"), [new.id])
    assert done["changed"] and done["rekeyed"] == [made["path"]]
    again = rekey_backups(Unlocker(keystore), str(tmp_path / "b"), [new.id])
    assert not again["changed"] and again["unchanged"] == [made["path"]]

    after = {name: open(os.path.join(made["path"], "parts", name), "rb").read() for name in part_files}
    assert after == before  # only the header changed
    assert restores(only(tmp_path / "new-only", new), made["path"], tmp_path / "t") is True
    assert "not in" in restores(only(tmp_path / "old-only", old), made["path"], tmp_path / "t2")
    signed = backup_info(made["path"], "checksum", trusted_certificates=[pki["site_ca"]])
    assert signed["verified"]  # the signature covers the manifest, not the slots


def test_rotation_of_a_single_file_backup(tmp_path, keystore, data_tree):
    new = keys.BackupKey.generate("new", "system", None)
    keystore.add(new)
    made = backup(keystore, data_tree, tmp_path / "b")
    packed = pack_backup(made["path"], str(tmp_path / "out"))["path"]
    assert rekey_backups(Unlocker(keystore), packed, [new.id])["rekeyed"] == [packed]
    assert open_backup(packed).header().key_ids == [new.id]
    assert restores(only(tmp_path / "new-only", new), packed, tmp_path / "t") is True


def test_escrow_key_and_escrow_recipient_open_the_backup(tmp_path, keystore, data_tree, gnupg_home):
    escrow = keys.BackupKey.generate("escrow", "system", None)
    keystore.add(escrow)
    made = backup(keystore, data_tree, tmp_path / "b", escrow_key_ids=[escrow.id], gpg_home=gnupg_home,
                  gpg_recipients=["backup@example.test"])
    protection = made["backup"]["protection"]
    assert len(protection["backupKeys"]) == 2 and len(protection["gpgRecipients"]) == 1
    assert restores(only(tmp_path / "escrow-only", escrow), made["path"], tmp_path / "t") is True
    no_keys = keys.Keystore(str(tmp_path / "empty"))
    assert restores(Unlocker(no_keys, gpg_home=gnupg_home), made["path"], tmp_path / "t2") is True


def test_rekey_refuses_a_key_of_another_scope_and_an_empty_set(tmp_path, keystore, data_tree):
    fin = keys.BackupKey.generate("fin", "domain", "finance")
    keystore.add(fin)
    made = backup(keystore, data_tree, tmp_path / "b")
    failed = rekey_backups(Unlocker(keystore), made["path"], [fin.id])["not_rekeyed"]
    assert "cannot encrypt a system backup" in failed[0]["msg"]
    failed = rekey_backups(Unlocker(keystore), made["path"], [])["not_rekeyed"]
    assert "no way to open it" in failed[0]["msg"]


def test_hsm_tied_backup_rekeys_without_the_hsm(tmp_path, keystore, data_tree, softhsm):
    new = keys.BackupKey.generate("new", "system", None)
    keystore.add(new)
    made = backup(keystore, data_tree, tmp_path / "b", tied_to_hsm=True, hsm=softhsm)
    assert rekey_backups(Unlocker(keystore), made["path"], [new.id])["rekeyed"]
    here = hsm_factory({"module": softhsm["module"], "pin": softhsm["pin"]})
    new_only = keys.Keystore(str(tmp_path / "new-only"))
    new_only.add(new)
    assert restores(Unlocker(new_only, hsm=here), made["path"], tmp_path / "t") is True


def test_deleting_a_key_is_allowed_when_a_gpg_recipient_still_opens_the_backup(tmp_path, keystore, data_tree,
                                                                               gnupg_home):
    made = backup(keystore, data_tree, tmp_path / "b", gpg_home=gnupg_home, gpg_recipients=["backup@example.test"])
    assert backups_only_opened_by(keystore.keys()[0], keystore, [str(tmp_path / "b")]) == ([], [])
    plain = backup(keystore, data_tree, tmp_path / "c")
    assert backups_only_opened_by(keystore.keys()[0], keystore, [str(tmp_path / "c")]) == ([plain["path"]], [])
    assert made["path"]
