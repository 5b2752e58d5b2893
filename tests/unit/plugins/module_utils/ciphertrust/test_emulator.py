# -*- coding: utf-8 -*-
"""The emulated CipherTrust Manager (tests/emulators/ciphertrust) keeps the contract the ciphertrust modules are
written against: one documented behaviour a test (each one's source is in the table at the top of its api.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import time

import pytest

from ciphertrust_server import CipherTrust


@contextlib.contextmanager
def appliance(name, port, **options):
    """A third appliance for the length of a test (another release, say), destroyed afterwards."""
    made = CipherTrust("/var/tmp/drkit-tests-ct/" + name, "127.0.0.46", port)
    made.create_afresh(**options)
    try:
        yield made
    finally:
        made.destroy()


def carry(source, backup, target, scope, source_token=None, target_token=None):
    """``backup`` and its backup key downloaded from ``source`` and uploaded to ``target``: the uploaded backup."""
    key_file = source.call("POST", "/backupkeys/%s/download" % backup["backupKey"], {"password": "carry pass"},
                           source_token)
    target.call("POST", "/backupkeys/upload", {"file": base64.b64encode(key_file).decode(), "password": "carry pass",
                                               "scope": scope}, target_token)
    data = source.call("GET", "/backups/%s/download" % backup["id"], token=source_token)
    return target.call("POST", "/uploadBackup", {"file": base64.b64encode(data).decode()}, target_token)


def test_lists_are_paged_by_skip_and_limit(ciphertrust_server):
    made = [ciphertrust_server.create_key("paged-%02d" % index)["id"] for index in range(12)]
    first = ciphertrust_server.call("GET", "/vault/keys2")
    assert (first["skip"], first["limit"], len(first["resources"])) == (0, 10, 10)
    seen, skip = [], 0
    while skip < first["total"]:
        page = ciphertrust_server.call("GET", "/vault/keys2", query={"skip": skip, "limit": 7})
        assert (page["skip"], page["limit"], page["total"]) == (skip, 7, first["total"])
        seen += [key["id"] for key in page["resources"]]
        skip += 7
    assert len(seen) == len(set(seen)) == first["total"] and set(made) <= set(seen)
    status, refused = ciphertrust_server.request("GET", "/vault/keys2", token=ciphertrust_server.token(),
                                                 query={"offset": 3})
    assert status == 400 and refused["codeDesc"].startswith("NCERR") and "offset" in refused["message"]
    for key_id in made:
        ciphertrust_server.call("DELETE", "/vault/keys2/" + key_id)


def test_a_backup_runs_in_the_background_and_backup_status_follows_it(ciphertrust_server):
    created = ciphertrust_server.call("POST", "/backups", {"description": "nightly"})
    assert (created["scope"], created["status"], created["productVersion"]) == ("system", "In Progress", "v2.19.0")
    status = ciphertrust_server.call("GET", "/backupStatus")
    assert (status["operation"], status["id"], status["status"]) == ("Backup create", created["id"], "In Progress")
    assert ciphertrust_server.request("GET", "/backups/%s/download" % created["id"],
                                      token=ciphertrust_server.token())[0] == 409
    finished = ciphertrust_server.wait_operation()
    assert finished["status"] == "Completed" and finished["finished"] >= finished["started"]
    assert ciphertrust_server.call("GET", "/backups/" + created["id"])["status"] == "Completed"
    header = json.loads(ciphertrust_server.call("GET", "/backups/%s/download" % created["id"]).split(b"\n")[0])
    assert (header["id"], header["backupKeyId"], header["isHSMBacked"], header["productVersion"]) == (
        created["id"], created["backupKey"], False, "v2.19.0")


def test_only_one_backup_or_restore_runs_at_a_time(ciphertrust_server):
    earlier = ciphertrust_server.backup()
    ciphertrust_server.call("POST", "/backups", {})
    token = ciphertrust_server.token()
    for path in ("/backups", "/backups/%s/restore" % earlier["id"]):
        status, refused = ciphertrust_server.request("POST", path, {}, token)
        assert status == 409 and "in progress" in refused["message"], (path, refused)
    assert ciphertrust_server.wait_operation()["operation"] == "Backup create"


def test_release_rule_next_three_minor_releases_lts_and_force_but_never_older(ciphertrust_server):
    with appliance("old", 18446, version="2.14.0") as old, appliance("lts", 18447, version="2.18.0") as lts:
        made_on_lts = old.backup(scope="domain")  # 2.14 is an LTS release: it also restores on 2.16 and 2.18
        assert made_on_lts["productVersion"] == "v2.14.0"
        uploaded = carry(old, made_on_lts, lts, "domain")
        assert lts.call("POST", "/backups/%s/restore" % uploaded["id"], {}) is not None
        assert lts.wait_operation()["status"] == "Completed"

        dom1 = ciphertrust_server.token(domain="dom1")  # 2.19 is five minor releases on, and no LTS: force
        uploaded = carry(old, made_on_lts, ciphertrust_server, "domain", target_token=dom1)
        status, refused = ciphertrust_server.request("POST", "/backups/%s/restore" % uploaded["id"], {}, dom1)
        assert status == 400 and "force" in refused["message"]
        status, _answer = ciphertrust_server.request("POST", "/backups/%s/restore" % uploaded["id"], {"force": True},
                                                     dom1)
        assert status == 202 and ciphertrust_server.wait_operation(dom1)["status"] == "Completed"

        newer = carry(ciphertrust_server, ciphertrust_server.backup(), old, "system")  # onto an older release
        for force in (False, True):
            status, refused = old.request("POST", "/backups/%s/restore" % newer["id"], {"force": force}, old.token())
            assert status == 400 and "older release" in refused["message"]
    ciphertrust_server.call("DELETE", "/backups/" + uploaded["id"], token=dom1)
    ciphertrust_server.call("DELETE", "/backupkeys/" + uploaded["backupKey"], token=dom1)


def test_backup_key_download_and_upload_refuses_a_wrong_password(ciphertrust_server, ciphertrust_second):
    key = next(item for item in ciphertrust_server.call("GET", "/backupkeys", query={"scope": "system"})["resources"]
               if item["isDefault"])
    data = ciphertrust_server.call("POST", "/backupkeys/%s/download" % key["id"],
                                   {"password": "Right pass", "hint": "the usual"})
    assert json.loads(data.split(b"\n")[0]) == {"version": 2, "keyid": key["id"], "createdAt": key["createdAt"],
                                                "hint": "the usual"}
    upload = {"file": base64.b64encode(data).decode(), "password": "Wrong pass", "scope": "system"}
    status, refused = ciphertrust_second.request("POST", "/backupkeys/upload", upload, ciphertrust_second.token())
    assert status == 400 and "password is wrong" in refused["message"]
    uploaded = ciphertrust_second.call("POST", "/backupkeys/upload", dict(upload, password="Right pass"))
    try:
        assert (uploaded["id"], uploaded["scope"], uploaded["isDefault"]) == (key["id"], "system", False)
        assert ciphertrust_second.request("POST", "/backupkeys/upload", dict(upload, password="Right pass"),
                                          ciphertrust_second.token())[0] == 409
    finally:
        ciphertrust_second.call("DELETE", "/backupkeys/" + key["id"])  # the second appliance as it was


def test_a_system_restore_restarts_the_services_answering_http_500_meanwhile(ciphertrust_server):
    kept = ciphertrust_server.create_key("before-the-restart")
    backup = ciphertrust_server.backup()
    ciphertrust_server.delete_key("before-the-restart")
    token = ciphertrust_server.token()
    assert ciphertrust_server.request("POST", "/backups/%s/restore" % backup["id"], {}, token)[0] == 202
    deadline, answers = time.monotonic() + 5, []
    while 500 not in answers and time.monotonic() < deadline:
        answers.append(ciphertrust_server.request("GET", "/system/info", token=token)[0])
        time.sleep(0.02)
    assert 500 in answers  # the port stays open: the services behind it answer 500
    finished = ciphertrust_server.wait_operation()
    assert (finished["operation"], finished["status"]) == ("Backup restore", "Completed")
    assert ciphertrust_server.request("GET", "/system/info", token=token)[0] == 200
    assert [key["id"] for key in ciphertrust_server.keys("before-the-restart")] == [kept["id"]]


def test_a_domain_restore_brings_back_a_deleted_key_in_that_domain_only(ciphertrust_server):
    dom1 = ciphertrust_server.domain_token()
    ciphertrust_server.call("POST", "/backupkeys", {"scope": "domain", "default": True}, dom1)
    kept = ciphertrust_server.create_key("dom1-kept", dom1)
    backup = ciphertrust_server.backup(dom1, scope="domain", filters=[{"resourceType": "Keys"}])
    ciphertrust_server.delete_key("dom1-kept", dom1)
    ciphertrust_server.create_key("dom1-after", dom1)
    root_keys = ciphertrust_server.keys()
    assert ciphertrust_server.call("POST", "/backups/%s/restore" % backup["id"], {"force": False}, dom1)
    assert ciphertrust_server.wait_operation(dom1)["status"] == "Completed"
    assert [(key["id"], key["name"]) for key in ciphertrust_server.keys(token=dom1)] == [(kept["id"], "dom1-kept")]
    assert ciphertrust_server.keys() == root_keys


def test_tls_is_verified_against_the_appliance_ca_only(ciphertrust_server, ciphertrust_second):
    address = (ciphertrust_server.address, ciphertrust_server.port)
    with socket.create_connection(address, timeout=5) as raw:
        with ssl.create_default_context(cafile=ciphertrust_server.ca_path).wrap_socket(
                raw, server_hostname=ciphertrust_server.address) as tls:
            assert ("IP Address", ciphertrust_server.address) in tls.getpeercert()["subjectAltName"]
    for context in (ssl.create_default_context(cafile=ciphertrust_second.ca_path), ssl.create_default_context()):
        with socket.create_connection(address, timeout=5) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                context.wrap_socket(raw, server_hostname=ciphertrust_server.address)


def scp_request(host, dest, **changes) -> dict:
    return dict({"host": host.address, "port": host.port, "username": "root", "auth_method": "key",
                 "public_key": host.host_key, "path_to": str(dest)}, **changes)


def scp_finished(appliance, backup_id, transfer_id, timeout=20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        transfer = appliance.call("GET", "/backups/%s/scp-status/%s" % (backup_id, transfer_id))
        if transfer["connection_status"] != "in_progress":
            return transfer
        time.sleep(0.05)
    raise AssertionError("SCP transfer %s still in progress after %ss" % (transfer_id, timeout))


def test_scp_sends_a_system_backup_to_a_host_that_trusts_the_appliance_key(ciphertrust_server, scp_host, tmp_path):
    backup = ciphertrust_server.backup()
    scp_host.authorize(ciphertrust_server.call("GET", "/scp/public-key"))
    started = ciphertrust_server.call("POST", "/backups/%s/scp" % backup["id"], scp_request(scp_host, tmp_path))
    assert (started["host"], started["connection_status"]) == (scp_host.address, "in_progress")
    done = scp_finished(ciphertrust_server, backup["id"], started["id"])
    assert done["connection_status"] == "completed" and done["updatedAt"] >= done["createdAt"]
    sent = tmp_path / ("%s.backup" % backup["id"])
    assert sent.read_bytes() == ciphertrust_server.call("GET", "/backups/%s/download" % backup["id"])
    listed = ciphertrust_server.call("GET", "/backups/%s/scp-status" % backup["id"])
    assert [item["id"] for item in listed] == [started["id"]]


def test_scp_refuses_domain_backups_and_fails_on_a_wrong_host_key_or_a_rotated_key(ciphertrust_server, scp_host,
                                                                                   tmp_path):
    domain_backup = ciphertrust_server.backup(scope="domain")  # the root domain's
    status, refused = ciphertrust_server.request("POST", "/backups/%s/scp" % domain_backup["id"],
                                                 scp_request(scp_host, tmp_path), ciphertrust_server.token())
    assert status == 400 and "system backups only" in refused["message"]
    backup = ciphertrust_server.backup()
    status, refused = ciphertrust_server.request("POST", "/backups/%s/scp" % backup["id"],
                                                 scp_request(scp_host, "relative/dir"), ciphertrust_server.token())
    assert status == 400 and "complete path" in refused["message"]

    old_key = ciphertrust_server.call("GET", "/scp/public-key")
    scp_host.authorize(old_key)
    other_host_key = ciphertrust_server.call("GET", "/scp/public-key")  # any key but the host's
    started = ciphertrust_server.call("POST", "/backups/%s/scp" % backup["id"],
                                      scp_request(scp_host, tmp_path, public_key=other_host_key))
    failed = scp_finished(ciphertrust_server, backup["id"], started["id"])
    assert failed["connection_status"] == "failed" and "host key" in failed["message"].lower()

    assert ciphertrust_server.call("POST", "/scp/public-key/rotate", {}) == {"success": True}
    new_key = ciphertrust_server.call("GET", "/scp/public-key")
    assert new_key != old_key and new_key.startswith("ssh-rsa ")
    started = ciphertrust_server.call("POST", "/backups/%s/scp" % backup["id"], scp_request(scp_host, tmp_path))
    failed = scp_finished(ciphertrust_server, backup["id"], started["id"])
    assert failed["connection_status"] == "failed" and "permission denied" in failed["message"].lower()
    assert not list(tmp_path.iterdir())
    scp_host.authorize(new_key)
    started = ciphertrust_server.call("POST", "/backups/%s/scp" % backup["id"], scp_request(scp_host, tmp_path))
    assert scp_finished(ciphertrust_server, backup["id"], started["id"])["connection_status"] == "completed"
    assert [item["connection_status"] for item in ciphertrust_server.call(
        "GET", "/backups/%s/scp-status" % backup["id"])] == ["failed", "failed", "completed"]


def test_scp_logs_in_with_a_password_when_asked(ciphertrust_server, scp_host):
    dest = "/var/tmp/drkit-tests-ct/scp-password"
    user, password = scp_host.password_login(dest)
    backup = ciphertrust_server.backup()
    for given, outcome in (("not " + password, "failed"), (password, "completed")):
        started = ciphertrust_server.call("POST", "/backups/%s/scp" % backup["id"], scp_request(
            scp_host, dest, username=user, auth_method="password", password=given))
        assert scp_finished(ciphertrust_server, backup["id"], started["id"])["connection_status"] == outcome
    with open("%s/%s.backup" % (dest, backup["id"]), "rb") as sent:
        assert sent.read() == ciphertrust_server.call("GET", "/backups/%s/download" % backup["id"])
