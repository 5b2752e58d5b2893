# -*- coding: utf-8 -*-
"""What the drkit.backup.ciphertrust_* modules do (operations/ciphertrust.py), on the emulated CipherTrust Manager
(tests/emulators/ciphertrust), TLS verified against the appliance's own CA."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations import ciphertrust as ops
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust import appliance as ct
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import CipherTrustError, \
    Client

from ciphertrust_server import ADMIN, ADMIN_PASSWORD, DOMADMIN, DOMADMIN_PASSWORD, DOMAIN, CipherTrust

KEY_PASSWORD = "K3y file:pass"


def box(server, ca_path=None, password=ADMIN_PASSWORD) -> ct.Appliance:
    return ct.Appliance(Client("https://%s:%d" % (server.address, server.port), ADMIN, password,
                               ca_path=ca_path or server.ca_path, timeout=20))


def test_a_key_and_a_backup_made_and_downloaded_once_bring_back_a_deleted_key(ciphertrust_server, tmp_path):
    cm = box(ciphertrust_server)
    key_file, backup_file = str(tmp_path / "cm-key.bin"), str(tmp_path / "cm-backup.bin")
    planned = ops.backup_key(cm, default=True, download=key_file, password=KEY_PASSWORD, check_mode=True)
    assert planned["changed"] and not os.path.exists(key_file)

    made_key = ops.backup_key(cm, default=True, download=key_file, password=KEY_PASSWORD)
    again = ops.backup_key(cm, default=True, download=key_file, password=KEY_PASSWORD)
    assert made_key["changed"] and made_key["backup_key"]["isDefault"] and not again["changed"]
    assert again["backup_key"]["id"] == made_key["backup_key"]["id"] and oct(os.stat(key_file).st_mode)[-3:] == "600"
    assert KEY_PASSWORD not in open(key_file + ".json", encoding="utf-8").read()

    ciphertrust_server.create_key("payroll-ops")
    made = ops.backup(cm, description="nightly", download=backup_file)
    assert made["backup"]["status"] == "Completed" and made["backup"]["backupKey"] == made_key["backup_key"]["id"]
    assert not ops.backup(cm, description="nightly", download=backup_file)["changed"]
    info = ops.info(cm, [backup_file])
    assert info["files"][0]["intact"] and "not public" in info["files"][0]["opaque"]
    assert made["backup"]["id"] in [item["id"] for item in info["backups"]]

    ciphertrust_server.delete_key("payroll-ops")
    restored = ops.backup(cm, state="restored", backup_id=made["backup"]["id"])
    assert "payroll-ops" in ciphertrust_server.key_names() and restored["changed"]
    assert ops.info(cm)["status"]["status"] == "Completed"


def test_a_restore_onto_another_appliance_uploads_the_key_file_first(ciphertrust_server, ciphertrust_second,
                                                                     tmp_path):
    cm, other = box(ciphertrust_server), box(ciphertrust_second)
    key_file, backup_file = str(tmp_path / "cm-key.bin"), str(tmp_path / "cm-backup.bin")
    ops.backup_key(cm, default=True, download=key_file, password=KEY_PASSWORD)
    ciphertrust_server.create_key("hr-master")
    made = ops.backup(cm, download=backup_file)
    with pytest.raises(CipherTrustError, match="does not open with the password given") as wrong:
        ops.backup_key(other, upload=key_file, password="not the password")
    assert "not the password" not in str(wrong.value)

    uploaded = ops.backup_key(other, upload=key_file, password=KEY_PASSWORD)
    try:
        assert uploaded["changed"] and uploaded["backup_key"]["id"] == made["backup"]["backupKey"]
        assert not ops.backup_key(other, upload=key_file, password=KEY_PASSWORD)["changed"]
        ops.backup(other, state="restored", upload=backup_file)
        assert "hr-master" in ciphertrust_second.key_names()
    finally:  # the second appliance holds no key of the first for the tests after this one
        ops.backup_key(other, key_id=uploaded["backup_key"]["id"], state="absent")


def test_a_second_operation_while_one_runs_fails_with_the_appliance_s_message(ciphertrust_server):
    cm = box(ciphertrust_server)
    first = ops.backup(cm, wait=False)
    try:
        with pytest.raises(CipherTrustError, match=r"refused POST /backups \(HTTP 409\): .*in progress"):
            ops.backup(cm, wait=False)
    finally:
        cm.wait_backup(first["backup"]["id"], 20)


def test_the_appliance_certificate_is_checked_and_a_wrong_login_is_named(ciphertrust_server, ciphertrust_second):
    with pytest.raises(CipherTrustError, match="not signed by a CA this host trusts"):
        box(ciphertrust_server, ca_path=ciphertrust_second.ca_path).info()
    with pytest.raises(CipherTrustError, match="refused the login of admin") as refused:
        box(ciphertrust_server, password="Wr0ng pass").info()
    assert "Wr0ng" not in str(refused.value)


@pytest.mark.parametrize("made, here, force, problem", [
    ("v2.19.0", "2.19.0", False, ""),
    ("v2.16.0", "2.19.0", False, ""),
    ("v2.15.0", "2.19.0", False, "restore it with force true"),
    ("v2.15.0", "2.19.0", True, ""),
    ("v2.14.0", "2.18.0", False, ""),  # LTS to the second next LTS
    ("v2.20.1", "2.19.0", True, "never restores onto an older release"),
])
def test_the_release_rule_is_the_documented_window(made, here, force, problem):
    found = ct.release_problem(made, here, lts=("2.14", "2.16", "2.18"), force=force)
    assert (problem in found) if problem else found == ""


def test_a_backup_from_a_later_release_is_refused_before_the_restore_call(ciphertrust_server, tmp_path):
    cm = box(ciphertrust_server)
    made = ops.backup(cm)
    newer = dict(made["backup"], productVersion="v2.21.0")
    cm.backup = lambda backup_id: newer  # what a later appliance's backup says of itself
    with pytest.raises(InvalidInput, match="never restores onto an older release"):
        ops.backup(cm, state="restored", backup_id=made["backup"]["id"], force=True)
    assert ciphertrust_server.wait_operation()["operation"] == "Backup create"


def test_a_lapsed_token_is_renewed_with_the_refresh_token_and_the_call_goes_on(tmp_path):
    short = CipherTrust("/var/tmp/drkit-tests-ct/short-token", "127.0.0.46", 18448)
    short.create_afresh(token_seconds=1)
    try:
        client = Client("https://%s:%d" % (short.address, short.port), ADMIN, ADMIN_PASSWORD, ca_path=short.ca_path)
        cm = ct.Appliance(client)
        first = client._jwt if cm.info() else None  # pylint: disable=protected-access
        time.sleep(1.5)  # the jwt's life: the appliance now answers 401 to it
        assert cm.info()["version"] and client._jwt != first  # pylint: disable=protected-access
        assert client._refresh  # pylint: disable=protected-access
    finally:
        short.destroy()


def test_a_domain_administrator_makes_domain_backups_and_never_system_ones(ciphertrust_server):
    domain_admin = ct.Appliance(Client("https://%s:%d" % (ciphertrust_server.address, ciphertrust_server.port),
                                       DOMADMIN, DOMADMIN_PASSWORD, domain=DOMAIN, ca_path=ciphertrust_server.ca_path))
    with pytest.raises(CipherTrustError, match=r"refused POST /backups \(HTTP 403\)"):
        ops.backup(domain_admin, scope="system")
    key = ops.backup_key(domain_admin, scope="domain", default=True)["backup_key"]
    made = ops.backup(domain_admin, scope="domain")["backup"]
    assert made["scope"] == "domain" and made["status"] == "Completed" and made["backupKey"] == key["id"]


def test_a_backup_sent_by_scp_arrives_once_and_a_failed_transfer_says_why(ciphertrust_server, scp_host, tmp_path):
    cm = box(ciphertrust_server)
    key = ops.scp_key(cm)
    assert not key["changed"] and key["public_key"].startswith("ssh-rsa ")
    scp_host.authorize(key["public_key"])
    dest = tmp_path / "cm-backups"
    dest.mkdir()
    target = {"host": scp_host.address, "port": scp_host.port, "username": "root", "auth_method": "key",
              "password": None, "host_key": scp_host.host_key, "path": str(dest)}
    planned = ops.backup(cm, scp=target, check_mode=True)
    assert planned["changed"] and not list(dest.iterdir())

    sent = ops.backup(cm, download=str(tmp_path / "cm.bin"), scp=target)
    assert sent["scp"]["connection_status"] == "completed" and sent["scp"]["path"] == str(dest)
    arrived = dest / ("%s.backup" % sent["backup"]["id"])
    assert arrived.read_bytes() == (tmp_path / "cm.bin").read_bytes()
    again = ops.backup(cm, download=str(tmp_path / "cm.bin"), scp=target)
    assert not again["changed"] and again["scp"]["id"] == sent["scp"]["id"]

    with pytest.raises(InvalidInput, match="system backups only"):
        ops.backup(cm, scope="domain", scp=target)
    rotated = ops.scp_key(cm, rotate=True)
    assert rotated["changed"] and rotated["public_key"] != key["public_key"]
    with pytest.raises(CipherTrustError, match="SCP transfer of backup .* ended failed: .*[Pp]ermission denied"):
        ops.backup(cm, scp=target)
    assert ops.scp_key(cm, rotate=True, check_mode=True)["public_key"] == rotated["public_key"]
