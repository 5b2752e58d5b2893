# -*- coding: utf-8 -*-
"""The emulated IBM MQ Appliance (tests/emulators/mq_appliance) keeps the contract the mq_appliance provider is
written against (the table at the top of its mqa_api.py; SOURCES.md beside it): one documented behaviour a test."""

from __future__ import annotations

import hashlib
import subprocess
import xml.etree.ElementTree as ET

import pytest

from mqa_server import ADMIN_PASSWORD

BACKUP = "temporary:///drkit-backup/"
PEM = "/var/tmp/drkit-tests-mqa"  # the operator's backup key pair, the same for every test


def secure_backup(appliance) -> dict:
    """A secure backup of ``appliance`` with the drkit certificate: its files by name."""
    key, cert = appliance.backup_credentials(PEM)
    if "drkit" not in str(appliance.request("GET", "/mgmt/config/default/CryptoCertificate")[1]):
        appliance.install_credentials(key, cert, with_key=False)  # a backup needs the certificate only
    appliance.request("DELETE", "/mgmt/filestore/default/temporary/drkit-backup")
    assert appliance.act("SecureBackup", cert={"value": "drkit"}, destination=BACKUP)["status"] == "completed"
    listing = appliance.call("GET", "/mgmt/filestore/default/temporary/drkit-backup")["filestore"]["location"]
    return {item["name"]: appliance.get_file("temporary", "drkit-backup/" + item["name"]) for item in listing["file"]}


def change_password(appliance, old, new):
    appliance.call("POST", "/mgmt/actionqueue/default", {"ChangePassword": {"OldPassword": old, "Password": new}})
    appliance.password = new


def reset_for_restore(appliance, files, pem_dir=PEM):
    """What an operator does before a secure restore: reinitialize and set up (admin's password changed at the
    console), install the credential, copy the backup's files into temporary:."""
    appliance.reinitialize()
    appliance.install_credentials(*appliance.backup_credentials(str(pem_dir)))
    for name, data in files.items():
        appliance.put_file("temporary", "incoming/" + name, data)


def restore_refusal(appliance) -> str:
    status, answer = appliance.request("POST", "/mgmt/actionqueue/default", {"SecureRestore": {
        "cred": {"value": "drkit"}, "source": "temporary:///incoming/", "validate": "off"}})
    assert status == 400, answer
    return answer["error"][0]


def test_a_secure_backup_is_a_clear_signed_manifest_and_encrypted_parts(mqa_server):
    mqa_server.put_file("local", "app/settings.cfg", b"channel=SYSTEM.ADMIN.SVRCONN\n")
    files = secure_backup(mqa_server)
    manifest = ET.fromstring(files["backupmanifest.xml"])
    facts = manifest.find("backupmanifest")
    firmware = mqa_server.call("GET", "/mgmt/status/default/FirmwareVersion3")["FirmwareVersion3"]
    assert (facts.findtext("version"), facts.findtext("serialnumber")) == (firmware["Version"], firmware["Serial"])
    listed = {item.findtext("filename"): (item.findtext("checksum"), int(item.findtext("filesize")))
              for item in facts.iter("file")}
    assert set(listed) == set(files) - {"backupmanifest.xml"} and {"root.tgz", "local.tgz"} <= set(listed)
    for name, (checksum, size) in listed.items():
        assert (hashlib.sha1(files[name]).hexdigest(), len(files[name])) == (checksum, size)  # noqa: S324
        assert b"SYSTEM.ADMIN.SVRCONN" not in files[name]
    assert manifest.findtext("signature") and facts.findtext("ephemeralkey")


def test_a_backup_certificate_with_an_ecdsa_key_is_refused(mqa_server, tmp_path):
    key, cert = tmp_path / "ec.key", tmp_path / "ec.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=ec", "-keyout", str(key), "-out", str(cert)], check=True,
                   capture_output=True)
    mqa_server.install_credentials(str(key), str(cert), name="ec", with_key=False)
    failed = mqa_server.act("SecureBackup", cert={"value": "ec"}, destination="temporary:///ec/")
    assert failed["status"] == "error" and "ECDSA" in failed["error"][0]


def test_a_restore_into_a_reset_appliance_brings_the_configuration_back(mqa_server, mqa_second):
    mqa_server.put_file("local", "app/settings.cfg", b"restored=yes\n")
    files = secure_backup(mqa_server)
    assert "reinitialized" in restore_refusal(mqa_second)  # in service: not reset
    reset_for_restore(mqa_second, files)
    assert mqa_second.request("GET", "/mgmt/filestore/default/local/app/settings.cfg")[0] == 404
    validated = mqa_second.act("SecureRestore", cred={"value": "drkit"}, source="temporary:///incoming/",
                               validate="on")
    assert validated["status"] == "completed"
    assert mqa_second.request("GET", "/mgmt/filestore/default/local/app/settings.cfg")[0] == 404  # nothing yet
    restored = mqa_second.act("SecureRestore", cred={"value": "drkit"}, source="temporary:///incoming/")
    assert restored["status"] in ("completed", "restarting")
    mqa_second.wait_restarted()
    status, answer = mqa_second.request("GET", "/mgmt/filestore/default/local", password="admin")
    assert status == 403 and "must be changed" in answer["error"][0]
    assert mqa_second.request("GET", "/mgmt/", password=ADMIN_PASSWORD)[0] == 401  # admin's is admin again
    mqa_second.password = "admin"
    change_password(mqa_second, "admin", "Changed 42")
    assert mqa_second.get_file("local", "app/settings.cfg") == b"restored=yes\n"
    mqa_second.create_afresh()


@pytest.mark.parametrize("damage, refusal", [
    ("changed part", "size and checksum"), ("missing part", "missing"), ("changed manifest", "signature")])
def test_a_damaged_backup_is_refused_before_anything_changes(mqa_server, mqa_second, damage, refusal):
    files = secure_backup(mqa_server)
    if damage == "changed part":
        files["root.tgz"] = files["root.tgz"][:-1] + bytes([files["root.tgz"][-1] ^ 1])
    elif damage == "missing part":
        del files["config.tgz"]
    else:
        files["backupmanifest.xml"] = files["backupmanifest.xml"].replace(b"<filesize>", b"<filesize>1", 1)
    reset_for_restore(mqa_second, files)
    assert refusal in restore_refusal(mqa_second)
    assert mqa_second.call("GET", "/mgmt/filestore/default/local")["filestore"]["location"].get("file") is None
    mqa_second.create_afresh()


def test_a_restore_needs_the_same_firmware_and_the_certificate_s_own_key(mqa_server, mqa_second, tmp_path):
    files = secure_backup(mqa_server)
    mqa_second.create_afresh(firmware="9.4.0.0")
    reset_for_restore(mqa_second, files)
    assert "exactly the same firmware" in restore_refusal(mqa_second)
    mqa_second.create_afresh()
    other = tmp_path / "other"
    other.mkdir()
    reset_for_restore(mqa_second, files, str(other))  # a credential of another key pair
    assert "cannot open this backup" in restore_refusal(mqa_second)
    mqa_second.create_afresh()


def test_the_rest_interface_is_off_after_a_reinitialize_until_the_setup(mqa_second):
    mqa_second.reinitialize(setup=False)
    assert not mqa_second.answers()
    mqa_second.setup("Console 1")
    assert mqa_second.request("GET", "/mgmt/", password="admin")[0] == 401
    assert mqa_second.request("GET", "/mgmt/status/default/FirmwareVersion3", password="Console 1")[0] == 200
    assert mqa_second.request("GET", "/mgmt/config/default/CryptoIdentCred", password="Console 1")[1] == {
        "result": "No configuration retrieved."}
    mqa_second.create_afresh()


def test_file_store_listings_and_their_refusals(mqa_server):
    mqa_server.request("DELETE", "/mgmt/filestore/default/local/listing")
    mqa_server.call("POST", "/mgmt/filestore/default/local", {"directory": {"name": "listing"}})
    empty = mqa_server.call("GET", "/mgmt/filestore/default/local/listing")["filestore"]["location"]
    assert "file" not in empty and empty["name"] == "local:/listing"
    mqa_server.put_file("local", "listing/one.txt", b"1")
    one = mqa_server.call("GET", "/mgmt/filestore/default/local/listing")["filestore"]["location"]["file"]
    assert isinstance(one, dict) and (one["name"], one["size"]) == ("one.txt", 1)
    mqa_server.put_file("local", "listing/two.txt", b"22")
    two = mqa_server.call("GET", "/mgmt/filestore/default/local/listing")["filestore"]["location"]["file"]
    assert [item["name"] for item in two] == ["one.txt", "two.txt"]
    status, answer = mqa_server.request("POST", "/mgmt/filestore/default/local/listing", {
        "file": {"name": "one.txt", "content": "MQ=="}})
    assert status == 409 and answer["error"]
    mqa_server.put_file("cert", "secret.pem", b"x")
    assert mqa_server.request("GET", "/mgmt/filestore/default/cert/secret.pem")[0] == 403
    assert mqa_server.request("GET", "/mgmt/", password="wrong")[0] == 401
