# -*- coding: utf-8 -*-
"""The ciphertrust provider: an appliance's own backup kept as a drkit backup, on the emulated CipherTrust Manager
(tests/emulators/ciphertrust), restored onto a second, empty appliance and drilled there."""

from __future__ import annotations

import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider

from ciphertrust_server import ADMIN, ADMIN_PASSWORD

KEY_PASSWORD = "Pr0vider k3y:file"
SECRETS = {"password": ADMIN_PASSWORD, "key_password": KEY_PASSWORD}


def url(server) -> str:
    return "https://%s:%d" % (server.address, server.port)


def options(server, **extra) -> dict:
    return dict({"url": url(server), "username": ADMIN, "ca_path": server.ca_path}, **extra)


def backup(keystore, tmp_path, server, **extra):
    return create_backup(keystore, "ciphertrust", options(server, **extra), online=True,
                         dest=str(tmp_path / "backups"), provider_secrets=SECRETS)


def forget_second(second, key_id):
    """The second appliance holds no backup key of the first for the tests after this one."""
    if second.request("GET", "/backupkeys/%s" % key_id, None, second.token())[0] == 200:
        second.call("DELETE", "/backupkeys/%s" % key_id)


def test_the_appliance_backup_and_its_key_file_are_parts_and_the_header_names_the_appliance(
        ciphertrust_server, tmp_path, keystore):
    ciphertrust_server.create_key("ledger") if "ledger" not in ciphertrust_server.key_names() else None
    made = backup(keystore, tmp_path, ciphertrust_server)
    header = made["backup"]
    assert made["backup"]["product"] == "ciphertrust" and made["native_backup"]["kept"]
    assert header["sourceHost"] == made["native_backup"]["appliance"]
    held = ciphertrust_server.call("GET", "/backups/%s" % made["native_backup"]["id"])
    assert held["status"] == "Completed"  # keep_native: the appliance's own copy is its quickest rollback
    parts = sorted(os.listdir(os.path.join(made["path"], "parts")))
    assert len(parts) == 2 and all(KEY_PASSWORD not in open(os.path.join(made["path"], "parts", name), "rb")
                                   .read().decode("latin-1") for name in parts)

    dropped = backup(keystore, tmp_path, ciphertrust_server, keep_native=False)
    assert ciphertrust_server.request("GET", "/backups/%s" % dropped["native_backup"]["id"], None,
                                      ciphertrust_server.token())[0] == 404


def test_a_restore_onto_a_second_empty_appliance_uploads_the_key_first_and_brings_the_keys(
        ciphertrust_server, ciphertrust_second, tmp_path, keystore):
    if "hr-provider" not in ciphertrust_server.key_names():
        ciphertrust_server.create_key("hr-provider")
    made = backup(keystore, tmp_path, ciphertrust_server)
    key_id = made["native_backup"]["backup_key"]
    target = options(ciphertrust_second)

    def restore(secrets, check_mode=False):
        return restore_backup(Unlocker(keystore), made["path"], provider_options=target, provider_secrets=secrets,
                              check_mode=check_mode)

    try:
        with pytest.raises(DrkitError, match="lacks backup key %s.*give provider_secrets.key_password" % key_id):
            restore({"password": ADMIN_PASSWORD})
        assert "hr-provider" not in ciphertrust_second.key_names()
        with pytest.raises(DrkitError, match="does not open with the password given") as wrong:
            restore(dict(SECRETS, key_password="Not the password"))
        assert "Not the password" not in str(wrong.value) and "hr-provider" not in ciphertrust_second.key_names()

        planned = restore(SECRETS, check_mode=True)
        assert any("upload backup key %s" % key_id in line for line in planned["actions"])
        done = restore(SECRETS)
        assert done["changed"] and "hr-provider" in ciphertrust_second.key_names()
        assert ciphertrust_second.call("GET", "/backupStatus")["status"] == "Completed"
    finally:
        forget_second(ciphertrust_second, key_id)


def test_a_drill_restores_into_the_second_appliance_and_finds_the_key(ciphertrust_server, ciphertrust_second,
                                                                      tmp_path, keystore):
    if "drill-probe" not in ciphertrust_server.key_names():
        ciphertrust_server.create_key("drill-probe")
    made = backup(keystore, tmp_path, ciphertrust_server)
    scratch = str(tmp_path / "drill")
    drill_options = options(ciphertrust_server, drill_url=url(ciphertrust_second),
                            drill_ca_path=ciphertrust_second.ca_path, check_key="drill-probe")
    try:
        drilled = drill_backup(Unlocker(keystore), made["path"], scratch, provider_options=drill_options,
                               provider_secrets=SECRETS, health_timeout=60, health_interval=0.2)["drill"]
        assert drilled["passed"], drilled["checks"]
        steps = [step["name"] for step in drilled["checks"]]
        assert steps == ["verify", "restore", "health", "ciphertrust", "content"]
        assert "drill-probe" in ciphertrust_second.key_names() and "drill-probe" in ciphertrust_server.key_names()

        with pytest.raises(InvalidInput, match="a drill never restores into a live appliance"):
            drill_backup(Unlocker(keystore), made["path"], scratch, provider_secrets=SECRETS, provider_options=dict(
                drill_options, drill_url=url(ciphertrust_server)))
        with pytest.raises(InvalidInput, match="give provider_options.drill_url"):
            drill_backup(Unlocker(keystore), made["path"], scratch, provider_options=options(ciphertrust_server),
                         provider_secrets=SECRETS)
    finally:
        forget_second(ciphertrust_second, made["native_backup"]["backup_key"])


def test_what_cannot_work_is_refused_before_the_appliance_makes_anything(ciphertrust_server, tmp_path, keystore):
    before = ciphertrust_server.call("GET", "/backups")["total"]
    with pytest.raises(InvalidInput, match="online backups only"):
        create_backup(keystore, "ciphertrust", options(ciphertrust_server), dest=str(tmp_path / "b"),
                      provider_secrets=SECRETS)
    with pytest.raises(InvalidInput, match="needs provider_secrets.key_password"):
        create_backup(keystore, "ciphertrust", options(ciphertrust_server), online=True, dest=str(tmp_path / "b"),
                      provider_secrets={"password": ADMIN_PASSWORD})
    with pytest.raises(InvalidInput, match="tied_to_hsm applies to system backups only"):
        backup(keystore, tmp_path, ciphertrust_server, scope="domain", tied_to_hsm=True)
    running = ciphertrust_server.call("POST", "/backups", {"scope": "system"})
    try:
        with pytest.raises(InvalidInput, match="one backup or restore at a time"):
            backup(keystore, tmp_path, ciphertrust_server)
    finally:
        ciphertrust_server.wait_operation()
    assert ciphertrust_server.call("GET", "/backups")["total"] == before + 1  # the one started above
    assert not (tmp_path / "b").exists() and running["id"]


class Header:
    """What check_release reads of a header."""

    def __init__(self, version):
        self.manifest = {"native": {"backup": {"productVersion": version}}}


@pytest.mark.parametrize("made, force, problem", [
    ("v2.17.0", False, ""),
    ("v2.15.1", False, "restore it with force true"),
    ("v2.15.1", True, ""),
    ("v2.20.0", True, "never restores onto an older release"),
])
def test_the_release_rule_is_checked_against_the_target_appliance(ciphertrust_server, made, force, problem):
    provider = get_provider("ciphertrust", options(ciphertrust_server), SECRETS, verb="restore")
    found = provider.check_release(Header(made), force)
    assert (problem in found[0]) if problem else found == []
    assert provider.force == force
    assert bool(provider.warnings) == (force and made == "v2.15.1")
