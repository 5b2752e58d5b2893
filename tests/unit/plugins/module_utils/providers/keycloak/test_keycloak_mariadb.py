# -*- coding: utf-8 -*-
"""The keycloak provider on an emulated Keycloak whose database is the tests' real MariaDB (db=mariadb): its
database goes through the mysql provider."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from keycloak_server import CLIENT_SECRET, DB_PASSWORD


def test_a_keycloak_on_mariadb_gets_a_deleted_realm_and_user_back_with_the_secret_intact(keycloak_mariadb_server,
                                                                                         tmp_path, keystore):
    keycloak = keycloak_mariadb_server
    keycloak.seed("corp", users=5)
    keycloak.seed("sales", users=2)
    commands = {"stop_command": keycloak.service_command("stop"), "start_command": keycloak.service_command("start")}

    made = create_backup(keystore, "keycloak", {"home": keycloak.home, "users_per_file": 2}, online=False,
                         dest=str(tmp_path / "backups"), **commands)

    header = made["backup"]
    assert [part["name"] for part in header["parts"]] == ["db-keycloak.sql", "realms.tar", "config.tar"]
    assert header["keycloak"]["database"]["vendor"] == "mariadb"
    assert header["contentSummary"]["realms"]["corp"] == {"users": 5, "clients": 7}
    assert header["keycloak"]["realmExport"]["realms"]["corp"]["files"] == [
        "corp-realm.json", "corp-users-0.json", "corp-users-1.json", "corp-users-2.json"]
    assert keycloak.running() and DB_PASSWORD not in str(made)

    keycloak.delete_user("corp", "alice")
    keycloak.admin("DELETE", "/sales")
    assert not keycloak.alice_logs_in()

    done = restore_backup(Unlocker(keystore), made["path"], provider_options={"home": keycloak.home}, **commands)

    assert keycloak.running() and "sales" in keycloak.realms()
    assert keycloak.alice_logs_in() and keycloak.client_secret("corp") == CLIENT_SECRET
    assert "checked the users of 3 realm(s) against the backup's counts" in done["actions"]
