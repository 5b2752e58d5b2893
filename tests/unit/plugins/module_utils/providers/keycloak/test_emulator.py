# -*- coding: utf-8 -*-
"""The Keycloak emulator (tests/emulators/keycloak) keeps the contract it says it follows, where the provider's
tests do not already reach: the token endpoint's refusals, the admin API's partial export and import, kc.sh's
import without override, and its refusal of a first --optimized run."""

from __future__ import annotations

import os
import subprocess

import pytest

from keycloak_server import CLIENT_SECRET, EMULATOR, USER_PASSWORD


@pytest.fixture
def keycloak(keycloak_server):
    keycloak_server.start()
    keycloak_server.seed("emu", users=3)
    yield keycloak_server
    keycloak_server.admin("DELETE", "/emu")


def test_the_token_endpoint_refuses_a_wrong_password_and_a_wrong_client_secret(keycloak):
    form = {"grant_type": "password", "client_id": "portal", "client_secret": CLIENT_SECRET, "username": "alice",
            "password": "not hers"}
    status, answer = keycloak.request("POST", "/realms/emu/protocol/openid-connect/token", form=form)
    assert status == 401 and answer == {"error": "invalid_grant", "error_description": "Invalid user credentials"}
    status, answer = keycloak.request("POST", "/realms/emu/protocol/openid-connect/token",
                                      form=dict(form, password=USER_PASSWORD, client_secret="wrong"))
    assert status == 401 and answer["error"] == "unauthorized_client"
    assert keycloak.alice_logs_in("emu")
    assert keycloak.request("GET", "/admin/realms")[0] == 401


def test_a_partial_export_masks_secrets_and_a_partial_import_follows_its_policy(keycloak):
    exported = keycloak.admin("POST", "/emu/partial-export?exportClients=true&exportGroupsAndRoles=true")
    portal = next(client for client in exported["clients"] if client["clientId"] == "portal")
    assert portal["secret"] == "**********" and "users" not in exported
    user = {"username": "alice", "credentials": [{"type": "password", "value": "x"}]}
    status, answer = keycloak.request("POST", "/admin/realms/emu/partialImport", token=keycloak.token(),
                                      body={"ifResourceExists": "FAIL", "users": [user]})
    assert status == 409 and "alice" in answer["errorMessage"]
    skipped = keycloak.admin("POST", "/emu/partialImport", {"ifResourceExists": "SKIP", "users": [user]})
    assert skipped["skipped"] == 1 and keycloak.alice_logs_in("emu")
    done = keycloak.admin("POST", "/emu/partialImport", {"ifResourceExists": "OVERWRITE", "users": [user]})
    assert done["overwritten"] == 1 and not keycloak.alice_logs_in("emu")


def test_kc_sh_import_without_override_skips_a_realm_that_exists(keycloak, tmp_path):
    kc = os.path.join(keycloak.home, "bin", "kc.sh")
    subprocess.run([kc, "export", "--dir", str(tmp_path), "--realm", "emu", "--optimized"], check=True,
                   capture_output=True)
    assert sorted(os.listdir(tmp_path)) == ["emu-realm.json", "emu-users-0.json"]
    keycloak.delete_user("emu", "alice")
    out = subprocess.run([kc, "import", "--dir", str(tmp_path), "--override", "false", "--optimized"],
                         check=True, capture_output=True, text=True).stdout
    assert "Realm 'emu' already exists. Import skipped" in out and keycloak.user_id("emu", "alice") is None
    subprocess.run([kc, "import", "--dir", str(tmp_path), "--optimized"], check=True, capture_output=True)
    assert keycloak.alice_logs_in("emu") and keycloak.client_secret("emu") == CLIENT_SECRET


def test_a_first_optimized_run_without_a_build_is_refused(tmp_path):
    home = str(tmp_path / "kc")
    subprocess.run([EMULATOR, "create", home], check=True, capture_output=True)
    os.unlink(os.path.join(home, "lib", "quarkus", "build-options.json"))
    done = subprocess.run([os.path.join(home, "bin", "kc.sh"), "export", "--dir", str(tmp_path), "--optimized"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "'--optimized' flag was used for first ever server start" in done.stderr


def test_an_unknown_option_or_field_is_refused_not_ignored(keycloak, tmp_path):
    kc = os.path.join(keycloak.home, "bin", "kc.sh")
    done = subprocess.run([kc, "export", "--dir", str(tmp_path), "--users-from-file", "x", "--optimized"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "Unknown option: '--users-from-file'" in done.stderr
    done = subprocess.run([kc, "start", "--dir", str(tmp_path), "--optimized"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and "Unknown option: '--dir'" in done.stderr
    status, answer = keycloak.request("POST", "/admin/realms/emu/clients", token=keycloak.token(),
                                      body={"clientId": "x", "colour": "blue"})
    assert status == 400 and 'Unrecognized field "colour"' in answer["error_description"]
