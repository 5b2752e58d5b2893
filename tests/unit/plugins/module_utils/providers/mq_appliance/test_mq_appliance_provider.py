# -*- coding: utf-8 -*-
"""The mq_appliance provider on the emulated MQ Appliance (tests/emulators/mq_appliance): the secure backup checked
against its manifest and kept as a drkit backup, restored into a reinitialized appliance with the preconditions
checked first, admin's password set again, and drilled on a second appliance."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import file_digest
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.verify import verify_backups
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance import manifest as mf
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.appliance import Appliance
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.client import Client

from mqa_server import ADMIN_PASSWORD

PEM = "/var/tmp/drkit-tests-mqa"
SECRETS = {"password": ADMIN_PASSWORD}


@pytest.fixture
def live(mqa_server):
    """mqa_server in service, with the backup certificate object and a file in local:."""
    mqa_server.create_afresh()
    key, cert = mqa_server.backup_credentials(PEM)
    mqa_server.install_credentials(key, cert, with_key=False)
    mqa_server.put_file("local", "app/qm.ini", b"QueueManager:\n  Name=QM1\n")
    return mqa_server


def options(server, **extra) -> dict:
    return dict({"url": server.url, "ca_path": server.ca_path, "certificate": "drkit"}, **extra)


def restore_options(server, **extra) -> dict:
    key, cert = server.backup_credentials(PEM)
    return dict({"url": server.url, "ca_path": server.ca_path, "certificate_file": cert, "private_key_file": key},
                **extra)


def backup(keystore, tmp_path, server):
    return create_backup(keystore, "mq_appliance", options(server), online=True, dest=str(tmp_path / "backups"),
                         provider_secrets=SECRETS)


def test_the_secure_backup_is_checked_against_its_manifest_and_its_copy_removed(live, tmp_path, keystore):
    made = backup(keystore, tmp_path, live)
    firmware = live.call("GET", "/mgmt/status/default/FirmwareVersion3")["FirmwareVersion3"]
    assert made["backup"]["product"] == "mq_appliance" and made["backup"]["restorableTo"] == {
        "rule": "exact", "version": firmware["Version"], "params": {}}
    assert made["secure_backup"]["serial"] == firmware["Serial"] and "root.tgz" in made["secure_backup"]["files"]
    parts = sorted(os.listdir(os.path.join(made["path"], "parts")))
    assert len(parts) == len(made["secure_backup"]["files"]) + 1  # the manifest and each file it lists
    assert live.call("GET", "/mgmt/filestore/default/temporary")["filestore"]["location"].get("directory") is None


def test_a_manifest_and_its_files_that_disagree_are_named(live, tmp_path):
    box = Appliance(Client(live.url, "admin", live.password, ca_path=live.ca_path))
    box.secure_backup("drkit", "temporary:///check/", 30)
    present = {}
    for item in box.files("temporary", "check"):
        box.download("temporary", "check/" + item["name"], str(tmp_path / item["name"]))
        present[item["name"]] = (item["size"], file_digest(str(tmp_path / item["name"]), "sha1"))
    facts = mf.parse((tmp_path / mf.NAME).read_bytes())
    assert mf.problems(facts, present) == [] and facts["serial"] and facts["signed"]
    changed = dict(present, **{"root.tgz": (present["root.tgz"][0], "0" * 40)})
    assert mf.problems(facts, changed) == ["root.tgz does not have the checksum backupmanifest.xml gives it"]
    missing = {name: value for name, value in present.items() if name != "cert.tgz"}
    assert mf.problems(facts, missing) == ["cert.tgz is listed in backupmanifest.xml and missing"]
    extra = dict(present, **{"extra.tgz": (3, "0" * 40)})
    assert mf.problems(facts, extra) == ["extra.tgz is in the backup and not listed in backupmanifest.xml"]
    with pytest.raises(mf.ManifestError, match="no backupmanifest/files"):
        mf.parse(b"<SecureBackupManifest><other/></SecureBackupManifest>")


def test_a_restore_is_refused_before_anything_is_sent_then_brings_the_configuration_back(
        live, mqa_second, tmp_path, keystore):
    made = backup(keystore, tmp_path, live)

    def restore(server, secrets=None, **extra):
        return restore_backup(Unlocker(keystore), made["path"], provider_options=restore_options(server, **extra),
                              provider_secrets=secrets or SECRETS)

    mqa_second.create_afresh()
    mqa_second.put_file("local", "app/other.ini", b"in service\n")
    with pytest.raises(DrkitError, match="is not reinitialized .its local: store holds files"):
        restore(mqa_second)  # in service: refused before anything is sent
    assert mqa_second.call("GET", "/mgmt/config/default/CryptoIdentCred") == {"result": "No configuration retrieved."}
    mqa_second.create_afresh()
    with pytest.raises(DrkitError, match="requires an appliance that was reinitialized"):
        restore(mqa_second)  # in service with nothing that shows it: the appliance's own check refuses
    mqa_second.create_afresh(firmware="9.4.0.0")
    mqa_second.reinitialize()
    with pytest.raises(DrkitError, match="exact|9.4.1.0"):
        restore(mqa_second)
    assert mqa_second.call("GET", "/mgmt/config/default/CryptoIdentCred") == {"result": "No configuration retrieved."}
    mqa_second.create_afresh()
    mqa_second.reinitialize(setup=False)
    with pytest.raises(DrkitError, match="rest-mgmt"):
        restore(mqa_second)

    mqa_second.setup()
    done = restore(mqa_second, dict(SECRETS, restored_password="After restore 1"))
    assert done["changed"] and not done.get("warnings")
    assert "After restore 1" not in json.dumps(done) and ADMIN_PASSWORD not in json.dumps(done)
    mqa_second.password = "After restore 1"
    assert mqa_second.get_file("local", "app/qm.ini").startswith(b"QueueManager:")
    mqa_second.create_afresh()


def test_a_drill_restores_into_a_second_reinitialized_appliance_and_finds_the_file(live, mqa_second, tmp_path,
                                                                                   keystore):
    made = backup(keystore, tmp_path, live)
    mqa_second.create_afresh()
    mqa_second.reinitialize()
    drill_options = restore_options(live, drill_url=mqa_second.url, drill_ca_path=mqa_second.ca_path,
                                    check_file="local:///app/qm.ini")
    drilled = drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "drill"), provider_options=drill_options,
                           provider_secrets=SECRETS, health_timeout=60, health_interval=0.2,
                           allow_no_summary=True)["drill"]
    assert drilled["passed"], drilled["checks"]
    assert "mq_appliance" in [step["name"] for step in drilled["checks"]]
    with pytest.raises(InvalidInput, match="a drill never restores into a live appliance"):
        drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "drill"), provider_secrets=SECRETS,
                     provider_options=dict(drill_options, drill_url=live.url), allow_no_summary=True)
    mqa_second.create_afresh()


def test_a_secure_backup_the_appliance_left_incomplete_writes_no_drkit_backup(live, tmp_path, keystore, monkeypatch):
    listed = Appliance.files

    def without_cert(self, store, path=""):  # the appliance says completed, and one file it lists is not there
        return [item for item in listed(self, store, path) if item["name"] != "cert.tgz"]

    monkeypatch.setattr(Appliance, "files", without_cert)
    with pytest.raises(DrkitError, match="not whole: cert.tgz is listed in backupmanifest.xml and missing; no drkit"):
        backup(keystore, tmp_path, live)
    assert not os.path.exists(tmp_path / "backups") or not [
        name for name in os.listdir(tmp_path / "backups") if not name.startswith(".")]
    assert live.call("GET", "/mgmt/filestore/default/temporary")["filestore"]["location"].get("directory") is None


@pytest.mark.parametrize("damage, found", [
    ("file", "root.tgz does not have the checksum backupmanifest.xml gives it"),
    ("manifest", "bytes where backupmanifest.xml says 1"),
])
def test_a_full_verification_checks_the_secure_backup_against_its_manifest_off_the_appliance(
        live, tmp_path, keystore, monkeypatch, damage, found):
    """A drkit backup whose own checksums hold, of a secure backup whose manifest and files disagree (the capture's
    own check switched off to keep it): backup_verify full names what is wrong. (A file missing or not listed
    never reaches a drkit backup: the capture keeps exactly the files the manifest lists, and fails without one.)"""
    fetched = Appliance.download

    def download(self, store, path, target):
        fetched(self, store, path, target)
        if damage == "file" and path.endswith("root.tgz"):
            with open(target, "r+b") as handle:
                handle.write(b"X")
        if damage == "manifest" and path.endswith(mf.NAME):
            with open(target, "rb") as handle:
                text = handle.read()
            start = text.index(b"<filesize>", text.index(b"<filename>config.tgz</filename>")) + len(b"<filesize>")
            with open(target, "wb") as out:
                out.write(text[:start] + b"1" + text[text.index(b"</filesize>", start):])

    monkeypatch.setattr(Appliance, "download", download)
    monkeypatch.setattr(mf, "problems", lambda facts, present: [])
    made = backup(keystore, tmp_path, live)
    monkeypatch.undo()
    checked = verify_backups(made["path"], "checksum")
    assert checked["verified"], checked["problems"]  # drkit's own checksums hold: only the full level reads inside
    verified = verify_backups(made["path"], "full", Unlocker(keystore), check_mode=True)
    assert not verified["verified"] and any(found in problem for problem in verified["problems"]), verified
