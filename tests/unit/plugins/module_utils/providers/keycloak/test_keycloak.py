# -*- coding: utf-8 -*-
"""The keycloak provider on the emulated Keycloak (tests/emulators/keycloak) over the tests' real PostgreSQL."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from conftest import psql
from keycloak_server import CLIENT_SECRET, DB_PASSWORD, USER_PASSWORD, Keycloak


@pytest.fixture
def keycloak(keycloak_server):
    """Two realms of known content, Keycloak running; running again afterwards whatever the test did."""
    keycloak_server.start()
    keycloak_server.seed("corp", users=7)
    keycloak_server.seed("sales", users=2)
    yield keycloak_server
    with open(os.path.join(keycloak_server.home, "version"), "w", encoding="utf-8") as handle:
        handle.write("26.0.5\n")
    keycloak_server.start()


def commands(server):
    return {"stop_command": server.service_command("stop"), "start_command": server.service_command("start")}


def backup(keystore, tmp_path, server, online=False, **options):
    return create_backup(keystore, "keycloak", dict({"home": server.home, "users_per_file": 3}, **options),
                         online=online, dest=str(tmp_path / "backups"), **commands(server))


def restore(keystore, made, server, **options):
    return restore_backup(Unlocker(keystore), made["path"], provider_options=dict({"home": server.home}, **options),
                          **commands(server))


def test_an_offline_backup_brings_back_a_deleted_realm_and_user_with_the_secret_intact(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak)
    header = made["backup"]
    assert [part["name"] for part in header["parts"]] == ["db-keycloak.dump", "realms.tar", "config.tar"]
    assert header["contentSummary"]["realms"]["corp"] == {"users": 7, "clients": 7}
    assert header["keycloak"]["realmExport"]["realms"]["corp"]["files"] == [
        "corp-realm.json", "corp-users-0.json", "corp-users-1.json", "corp-users-2.json"]
    assert header["keycloak"]["version"] == header["productVersion"] == "26.0.5"
    assert header["restorableTo"]["rule"] == "same_or_newer"
    assert made["realm_export"] == ["corp", "master", "sales"] and keycloak.running()
    assert DB_PASSWORD not in str(header)

    keycloak.delete_user("corp", "alice")
    keycloak.admin("DELETE", "/sales")
    assert not keycloak.alice_logs_in()

    done = restore(keystore, made, keycloak)

    assert keycloak.running() and "sales" in keycloak.realms()
    assert keycloak.alice_logs_in() and keycloak.client_secret("corp") == CLIENT_SECRET
    assert any("Keycloak is ready" in action for action in done["actions"])
    assert "checked the users of 3 realm(s) against the backup's counts" in done["actions"]


def test_an_online_backup_is_the_database_alone_and_says_so(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak, online=True)
    assert [part["name"] for part in made["backup"]["parts"]] == ["db-keycloak.dump", "config.tar"]
    assert made["realm_export"] == [] and "no separate realm export" in " ".join(made["warnings"])
    assert made["backup"]["contentSummary"]["realms"]["sales"] == {"users": 2, "clients": 7}
    assert not made["stops_services"]


def test_an_export_that_wrote_no_users_file_fails_and_keycloak_runs_again(keycloak, tmp_path, keystore):
    # The emulator's kc.sh exits 0 having written the realm files only, as the real one can.
    lie = tmp_path / "keycloak.env"
    lie.write_text("KC_EMULATOR_FAIL=export-users\n")
    with pytest.raises(DrkitError, match="user.* of realm corp, where the database has 7"):
        backup(keystore, tmp_path, keycloak, environment_files=[str(lie)])
    assert keycloak.running()
    assert not [name for name in os.listdir(tmp_path / "backups") if not name.startswith(".")]


def test_a_wrong_database_password_is_one_clear_message_without_it(keycloak, tmp_path, keystore):
    wrong = "Wr0ng pass:word"
    with pytest.raises(DrkitError) as caught:
        create_backup(keystore, "keycloak", {"home": keycloak.home}, online=True, dest=str(tmp_path / "backups"),
                      provider_secrets={"db_password": wrong})
    assert "refused the login" in str(caught.value) and wrong not in str(caught.value)
    assert not (tmp_path / "backups").exists() or not os.listdir(tmp_path / "backups")


def test_a_restore_into_an_older_keycloak_is_refused_before_anything_stops(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak, online=True)
    with open(os.path.join(keycloak.home, "version"), "w", encoding="utf-8") as handle:
        handle.write("25.0.6\n")
    with pytest.raises(InvalidInput, match="made by keycloak 26.0.5 .* this host runs keycloak 25.0.6"):
        restore(keystore, made, keycloak)
    assert keycloak.running()


def test_one_realm_is_imported_alone_leaving_the_others_as_they_are(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak)
    keycloak.delete_user("corp", "alice")
    keycloak.delete_user("sales", "user01")

    done = restore(keystore, made, keycloak, restore_database=False, restore_config=False, import_realms=["corp"])

    assert "imported realm corp (kc.sh import --override true)" in done["actions"]
    assert keycloak.alice_logs_in() and keycloak.user_id("sales", "user01") is None and keycloak.running()


def test_check_mode_plans_the_restore_and_stops_nothing(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak)
    keycloak.delete_user("corp", "alice")
    planned = restore_backup(Unlocker(keystore), made["path"], provider_options={"home": keycloak.home},
                             check_mode=True, **commands(keycloak))
    assert planned["changed"] and "stop service keycloak" in planned["actions"]
    assert keycloak.running() and not keycloak.alice_logs_in()


@pytest.mark.parametrize("vendor", ["mssql", "dev-mem"])
def test_a_database_drkit_cannot_dump_is_refused_before_anything_runs(keycloak, tmp_path, keystore, vendor):
    with pytest.raises(InvalidInput, match="Keycloak's database is %s" % vendor):
        backup(keystore, tmp_path, keycloak, db=vendor)
    assert keycloak.running()


# --- drills (providers/keycloak/drill.py) ----------------------------------------------------------------------

CHECK = {"check_realm": "corp", "check_username": "alice", "check_client_id": "portal"}


def drill(keystore, made, server, scratch, secrets):
    return drill_backup(Unlocker(keystore), made["path"], scratch, provider_options=dict({"home": server.home}, **CHECK),
                        provider_secrets=secrets, health_timeout=60, health_interval=0.2)["drill"]


def test_a_drill_runs_a_keycloak_of_its_own_where_alice_logs_in_and_the_live_one_is_untouched(
        keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak, online=True)
    keycloak.delete_user("corp", "user01")  # the live server changes after the backup; the drill must not see it
    scratch = "/var/tmp/drkit-tests-kc/drill-%d" % os.getpid()  # the scratch server runs as postgres

    drilled = drill(keystore, made, keycloak, scratch, {"check_password": USER_PASSWORD,
                                                        "check_client_secret": CLIENT_SECRET})

    assert drilled["passed"], drilled["checks"]
    assert [step["name"] for step in drilled["checks"]] == ["verify", "restore", "health", "keycloak", "content"]
    assert "realms corp" in drilled["checks"][-1]["message"] or drilled["checks"][-1]["passed"]
    assert drilled["torn_down"] and not os.path.exists(scratch)
    assert subprocess.run(["pgrep", "-f", scratch], check=False).returncode == 1  # nothing of the drill left
    assert keycloak.running() and keycloak.user_id("corp", "user01") is None and keycloak.alice_logs_in()
    assert USER_PASSWORD not in str(drilled) and CLIENT_SECRET not in str(drilled)


def test_a_drill_whose_user_cannot_log_in_fails_its_keycloak_check_and_is_torn_down(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak, online=True)
    scratch = "/var/tmp/drkit-tests-kc/drill-%d" % os.getpid()  # the scratch server runs as postgres

    drilled = drill(keystore, made, keycloak, scratch, {"check_password": "not hers",
                                                        "check_client_secret": CLIENT_SECRET})

    failed = [step for step in drilled["checks"] if not step["passed"]]
    assert [step["name"] for step in failed] == ["keycloak"]
    assert "user alice of realm corp cannot log in through client portal" in failed[0]["message"]
    assert "Invalid user credentials" in failed[0]["message"] and "not hers" not in str(drilled)
    assert drilled["torn_down"] and not os.path.exists(scratch) and keycloak.running()


def test_a_restore_onto_a_replacement_host_keeps_its_database_and_takes_a_hostname(keycloak, tmp_path, keystore,
                                                                                   postgres_server):
    made = backup(keystore, tmp_path, keycloak)
    # The replacement: a fresh Keycloak (never started) on a database of its own, where the lost host listened.
    psql(postgres_server, "DROP DATABASE IF EXISTS keycloak_new WITH (FORCE);")
    psql(postgres_server, "CREATE DATABASE keycloak_new OWNER keycloak;")
    fresh = Keycloak("/var/tmp/drkit-tests-kc/replacement", postgres_server, "keycloak_new", keycloak.address,
                     keycloak.port, keycloak.management_port)
    fresh.destroy()
    fresh.create()
    keycloak.service("stop")
    try:
        done = restore(keystore, made, fresh, replacement=True, hostname="sso.example.test")

        assert fresh.running() and fresh.alice_logs_in() and fresh.client_secret("corp") == CLIENT_SECRET
        with open(os.path.join(fresh.home, "conf", "keycloak.conf"), encoding="utf-8") as handle:
            conf = handle.read()
        assert "db-url-database=keycloak_new" in conf and "db-url-database=keycloak\n" not in conf
        assert "hostname=sso.example.test" in conf and "ran kc.sh build" in done["actions"]
        assert DB_PASSWORD not in str(done)
    finally:
        fresh.destroy()
        psql(postgres_server, "DROP DATABASE IF EXISTS keycloak_new WITH (FORCE);")


AUDIT_PASSWORD = "Aud1t 'ds' pass"


def test_named_datasources_are_backed_up_and_restored_with_keycloak(keycloak, tmp_path, keystore, postgres_server):
    """An extension's datasource (db-kind-audit ...), its password given as a secret: dumped with Keycloak's
    database, and its rows back after a restore; refused where Keycloak does not declare it."""
    psql(postgres_server, "DROP DATABASE IF EXISTS kc_audit WITH (FORCE); DROP ROLE IF EXISTS kc_audit;")
    psql(postgres_server, "CREATE ROLE kc_audit LOGIN CREATEDB PASSWORD '%s';" % AUDIT_PASSWORD.replace("'", "''"))
    psql(postgres_server, "CREATE DATABASE kc_audit OWNER kc_audit;")
    psql(postgres_server, "SET ROLE kc_audit; CREATE TABLE events (id int); INSERT INTO events "
                          "SELECT generate_series(1, 5);", database="kc_audit")
    conf = os.path.join(keycloak.home, "conf", "keycloak.conf")
    with open(conf, encoding="utf-8") as handle:
        before = handle.read()
    declared = before + ("db-kind-audit=postgres\ndb-url-host-audit=127.0.0.1\ndb-url-port-audit=%d\n"
                         "db-url-database-audit=kc_audit\ndb-username-audit=kc_audit\n" % postgres_server["port"])
    secrets = {"datasource_passwords": {"audit": AUDIT_PASSWORD}}

    def restore_audit(**kwargs):
        return restore_backup(Unlocker(keystore), made["path"], provider_options={"home": keycloak.home},
                              provider_secrets=secrets, **dict(commands(keycloak), **kwargs))
    try:
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(declared)
        made = create_backup(keystore, "keycloak", {"home": keycloak.home}, online=True, dest=str(tmp_path / "b"),
                             provider_secrets=secrets, **commands(keycloak))
        header = made["backup"]
        assert [part["name"] for part in header["parts"]] == [
            "db-keycloak.dump", "ds-audit-db-kc_audit.dump", "config.tar"]
        assert header["keycloak"]["datasources"]["audit"]["facts"]["database"] == "kc_audit"
        psql(postgres_server, "DELETE FROM events WHERE id > 2;", database="kc_audit")
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(before)
        with pytest.raises(DrkitError, match="it holds Keycloak's named datasource audit, which this Keycloak's "
                                             "configuration does not declare"):
            restore_audit()
        assert keycloak.running()
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(declared)

        plan = restore_audit(check_mode=True)
        assert "named datasource audit: restore database kc_audit" in " ".join(plan["actions"])
        done = restore_audit()

        assert psql(postgres_server, "SELECT count(*) FROM events;", database="kc_audit") == [("5",)]
        assert "named datasource audit: restored database kc_audit" in done["actions"] and keycloak.running()
        assert AUDIT_PASSWORD not in str(made) + str(done) + str(plan)
    finally:
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(before)
        psql(postgres_server, "DROP DATABASE IF EXISTS kc_audit WITH (FORCE); DROP ROLE IF EXISTS kc_audit;")


def test_a_named_datasource_drkit_cannot_dump_is_refused_with_nothing_backed_up(keycloak, tmp_path, keystore):
    made = backup(keystore, tmp_path, keycloak, online=True)
    kept = sorted(os.listdir(str(tmp_path / "backups")))
    conf = os.path.join(keycloak.home, "conf", "keycloak.conf")
    with open(conf, encoding="utf-8") as handle:
        before = handle.read()
    with open(conf, "a", encoding="utf-8") as handle:
        handle.write("db-kind-audit=mssql\n")
    try:
        with pytest.raises(InvalidInput, match=r"Keycloak's datasource audit is mssql \(db-kind-audit=mssql\): "
                                               r"drkit.backup has no Microsoft SQL Server dumper"):
            backup(keystore, tmp_path, keycloak, online=True)
    finally:
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(before)
    assert made["backup"]["keycloak"]["datasources"] == {} and keycloak.running()
    assert sorted(os.listdir(str(tmp_path / "backups"))) == kept
