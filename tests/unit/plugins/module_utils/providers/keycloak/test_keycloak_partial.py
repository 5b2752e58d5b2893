# -*- coding: utf-8 -*-
"""The keycloak provider's partial export and import through the admin REST API of the emulated Keycloak, running."""

from __future__ import annotations

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from keycloak_server import ADMIN, ADMIN_PASSWORD, CLIENT_SECRET

ADMIN_SECRETS = {"admin_password": ADMIN_PASSWORD}


@pytest.fixture
def keycloak(keycloak_server):
    keycloak_server.start()
    keycloak_server.seed("corp", users=3)
    yield keycloak_server
    keycloak_server.start()


@pytest.fixture
def made(keycloak, tmp_path, keystore):
    return create_backup(keystore, "keycloak", {"home": keycloak.home, "partial_export": True, "realms": ["corp"],
                                                "admin_username": ADMIN}, online=True, dest=str(tmp_path / "b"),
                         provider_secrets=ADMIN_SECRETS)


def partial_restore(keystore, made, keycloak, policy, check_mode=False, **options):
    return restore_backup(Unlocker(keystore), made["path"], provider_options=dict(
        {"home": keycloak.home, "admin_username": ADMIN, "partial_import_realms": ["corp"],
         "if_resource_exists": policy}, **options), provider_secrets=ADMIN_SECRETS, check_mode=check_mode,
        stop_command="false {service}", start_command="false {service}")  # nothing may stop


def test_an_online_backup_with_a_partial_export_says_it_is_no_backup_on_its_own(made):
    header = made["backup"]
    assert [part["name"] for part in header["parts"]] == ["db-keycloak.dump", "partial.tar", "config.tar"]
    assert header["keycloak"]["partialExport"]["realms"]["corp"] == {"clients": 7, "roles": 4, "groups": 1,
                                                                     "masked": ["portal"]}
    assert made["partial_export"] == ["corp"]
    assert "unsuitable as a backup" in " ".join(made["warnings"]) and ADMIN_PASSWORD not in str(made)


def test_skip_puts_back_a_deleted_client_role_and_group_and_leaves_the_real_secret(keycloak, made, keystore):
    keycloak.admin("DELETE", "/corp/roles/auditor")
    staff = next(group["id"] for group in keycloak.admin("GET", "/corp/groups") if group["name"] == "staff")
    keycloak.admin("DELETE", "/corp/groups/%s" % staff)
    keycloak.admin("DELETE", "/corp/clients/%s" % keycloak.client("corp", "account-console"))

    done = partial_restore(keystore, made, keycloak, "SKIP")

    assert keycloak.client("corp", "account-console") and keycloak.client_secret("corp") == CLIENT_SECRET
    assert "auditor" in [role["name"] for role in keycloak.admin("GET", "/corp/roles")]
    assert "staff" in [group["name"] for group in keycloak.admin("GET", "/corp/groups")]
    assert any("ifResourceExists SKIP): 3 added" in action for action in done["actions"]), done["actions"]
    assert keycloak.running() and keycloak.alice_logs_in()


def test_fail_stops_at_the_first_resource_that_exists(keycloak, made, keystore):
    with pytest.raises(DrkitError, match=r"partial import into realm corp \(ifResourceExists FAIL\) failed "
                                         r"\(HTTP 409\)"):
        partial_restore(keystore, made, keycloak, "FAIL")
    assert keycloak.client_secret("corp") == CLIENT_SECRET and keycloak.running()


def test_overwrite_over_a_real_secret_is_refused_before_anything_is_imported(keycloak, made, keystore):
    with pytest.raises(InvalidInput, match="replace the real secret of client.s. portal with the mask"):
        partial_restore(keystore, made, keycloak, "OVERWRITE")
    with pytest.raises(InvalidInput, match="replace the real secret"):
        partial_restore(keystore, made, keycloak, "OVERWRITE", check_mode=True)
    assert keycloak.client_secret("corp") == CLIENT_SECRET and keycloak.alice_logs_in()


def test_overwrite_with_masked_secrets_allowed_says_which_secrets_to_regenerate(keycloak, made, keystore):
    done = partial_restore(keystore, made, keycloak, "OVERWRITE", allow_masked_secrets=True)
    assert "regenerate those secrets" in " ".join(done["warnings"])
    assert keycloak.client_secret("corp") == "**********"


def test_a_partial_import_with_restore_database_given_is_refused(keycloak, made, keystore):
    with pytest.raises(InvalidInput, match="leave out restore_database"):
        partial_restore(keystore, made, keycloak, "SKIP", restore_database=True)


def test_a_partial_export_needs_the_admin_and_a_running_keycloak(keycloak, tmp_path, keystore):
    with pytest.raises(DrkitError, match="Keycloak refused admin admin of realm master"):
        create_backup(keystore, "keycloak", {"home": keycloak.home, "partial_export": True,
                                             "admin_username": ADMIN}, online=True, dest=str(tmp_path / "b"),
                      provider_secrets={"admin_password": "wrong"})
    with pytest.raises(InvalidInput, match="partial_export is for an online backup"):
        create_backup(keystore, "keycloak", {"home": keycloak.home, "partial_export": True}, online=False,
                      dest=str(tmp_path / "b"))
