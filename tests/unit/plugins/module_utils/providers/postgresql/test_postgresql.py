# -*- coding: utf-8 -*-
"""The postgresql provider on the tests' real PostgreSQL server (conftest's postgres_server)."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import postgres
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider

from conftest import database_drill_passed, killed_halfway, psql

CLERK_PASSWORD = "Cl3rk's pass:word"
# What the user compares after a restore: the row counts, a checksum of an ordered query, the function's answer.
FINGERPRINT = ("SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM orders), "
               "(SELECT md5(string_agg(id || ':' || name || ':' || price, ',' ORDER BY id)) FROM items), "
               "(SELECT md5(string_agg(item || ':' || qty, ',' ORDER BY id)) FROM orders), shop_total();")


@pytest.fixture
def shop(postgres_server):
    """A database with known content: two tables of thousands of rows, a role with a password, a function."""
    psql(postgres_server, "DROP DATABASE IF EXISTS shop WITH (FORCE); DROP ROLE IF EXISTS clerk;")
    psql(postgres_server, "CREATE ROLE clerk LOGIN PASSWORD '%s';" % CLERK_PASSWORD.replace("'", "''"))
    psql(postgres_server, "CREATE DATABASE shop OWNER clerk;")
    psql(postgres_server, """
        CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10, 2));
        INSERT INTO items SELECT g, 'item ' || g || repeat('x', g % 40), g * 1.25 FROM generate_series(1, 5000) g;
        CREATE TABLE orders (id serial PRIMARY KEY, item int REFERENCES items, qty int);
        INSERT INTO orders (item, qty) SELECT 1 + g % 5000, g % 7 FROM generate_series(1, 3000) g;
        CREATE FUNCTION shop_total() RETURNS numeric LANGUAGE sql AS
          'SELECT sum(i.price * o.qty) FROM orders o JOIN items i ON i.id = o.item';
        GRANT SELECT ON items, orders TO clerk;""", "shop")
    yield postgres_server
    psql(postgres_server, "DROP DATABASE IF EXISTS shop WITH (FORCE); DROP DATABASE IF EXISTS shop_copy WITH (FORCE);")


def options(server, **extra):
    return dict({"host": server["host"], "port": server["port"], "user": "postgres"}, **extra)


def backup(keystore, tmp_path, server, **extra):
    return create_backup(keystore, "postgresql", options(server, databases=["shop"], **extra), online=True,
                         dest=str(tmp_path / "backups"))


def clerk_logs_in(server) -> bool:
    """The role logs in over TCP with its password."""
    done = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(server["port"]), "-U", "clerk",
                           "-d", "shop", "-c", "SELECT count(*) FROM items"], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PGPASSWORD=CLERK_PASSWORD))
    return done.returncode == 0 and done.stdout.strip() == "5000"


def test_a_dropped_database_and_role_come_back_whole(shop, tmp_path, keystore):
    before = psql(shop, FINGERPRINT, "shop")
    made = backup(keystore, tmp_path, shop)
    header = made["backup"]
    assert [part["name"] for part in header["parts"]] == ["globals.sql", "db-shop.dump"]
    assert header["contentSummary"] == {"databases": {"shop": {
        "tables": 2, "rows": {"public.items": 5000, "public.orders": 3000}}}}
    assert header["database"]["databases"]["shop"]["owner"] == "clerk"
    assert header["restorableTo"] == {"rule": "same_or_newer", "version": header["productVersion"].split(".")[0],
                                      "params": {}}
    psql(shop, "DROP DATABASE shop WITH (FORCE); DROP ROLE clerk;")

    done = restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop))

    assert done["actions"] == ["restored the roles and tablespaces", "restored database shop"]
    assert psql(shop, FINGERPRINT, "shop") == before
    assert psql(shop, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop';") == [("clerk",)]
    assert clerk_logs_in(shop)
    counted = get_provider("postgresql", options(shop), verb="restore").count(header["contentSummary"])
    assert counted == header["contentSummary"]


def test_backup_info_shows_the_server_and_its_databases(shop, tmp_path, keystore):
    backup(keystore, tmp_path, shop)
    listed = backup_info(str(tmp_path / "backups"))["backups"][0]["header"]
    facts = listed["database"]
    assert facts["server"] == "PostgreSQL" and facts["version"] == listed["productVersion"]
    assert facts["databases"]["shop"]["tables"] == 2 and facts["databases"]["shop"]["bytes"] > 100000


def test_an_existing_database_is_refused_without_replace_and_replaced_with_it(shop, tmp_path, keystore):
    made = backup(keystore, tmp_path, shop)
    before = psql(shop, FINGERPRINT, "shop")
    psql(shop, "DELETE FROM orders WHERE id > 10;", "shop")
    changed = psql(shop, FINGERPRINT, "shop")
    with pytest.raises(InvalidInput, match="has database shop already: restore with provider_options.replace true"):
        restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop))
    assert psql(shop, FINGERPRINT, "shop") == changed

    restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop, replace=True))
    assert psql(shop, FINGERPRINT, "shop") == before
    assert psql(shop, "SELECT count(*) FROM pg_database WHERE datname LIKE '%drkit%';") == [("0",)]


def test_a_restore_under_another_name_leaves_the_original_alone(shop, tmp_path, keystore):
    made = backup(keystore, tmp_path, shop)
    psql(shop, "DELETE FROM orders;", "shop")
    restore_backup(Unlocker(keystore), made["path"],
                   provider_options=options(shop, target_databases={"shop": "shop_copy"}))
    assert psql(shop, "SELECT count(*) FROM orders;", "shop_copy") == [("3000",)]
    assert psql(shop, "SELECT count(*) FROM orders;", "shop") == [("0",)]
    with pytest.raises(InvalidInput, match="target_databases names nowhere, which backup .* does not hold"):
        restore_backup(Unlocker(keystore), made["path"],
                       provider_options=options(shop, target_databases={"nowhere": "x"}))


def test_a_failed_restore_leaves_the_database_as_it_was(shop, tmp_path, keystore, monkeypatch):
    made = backup(keystore, tmp_path, shop)
    psql(shop, "DELETE FROM orders WHERE id > 10;", "shop")
    changed = psql(shop, FINGERPRINT, "shop")

    def fails(self, env, path, database, jobs=1):
        raise postgres.PostgresError("pg_restore into database %s failed (exit 1): disk full" % database)

    monkeypatch.setattr(postgres.Connection, "restore", fails)
    with pytest.raises(postgres.PostgresError, match="disk full"):
        restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop, replace=True))
    assert psql(shop, FINGERPRINT, "shop") == changed
    assert psql(shop, "SELECT count(*) FROM pg_database WHERE datname LIKE '%drkit%';") == [("0",)]


def test_check_mode_changes_nothing(shop, tmp_path, keystore):
    plan = create_backup(keystore, "postgresql", options(shop, databases=["shop"]), online=True,
                         dest=str(tmp_path / "backups"), check_mode=True)
    assert plan["changed"] and not (tmp_path / "backups").exists()
    made = backup(keystore, tmp_path, shop)
    psql(shop, "DELETE FROM orders;", "shop")
    planned = restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop, replace=True),
                             check_mode=True)
    assert planned["actions"] == ["restore the roles and tablespaces",
                                  "restore database shop, replacing the one there once complete with pg_restore "
                                  "(2 job(s))"]
    assert psql(shop, "SELECT count(*) FROM orders;", "shop") == [("0",)]


def test_a_wrong_password_is_one_clear_message_and_never_shown(shop, tmp_path, keystore, command_lines):
    wrong = "not-the-password-%s" % os.getpid()
    admin = {"host": "127.0.0.1", "port": shop["port"], "user": shop["admin"], "databases": ["shop"]}
    with pytest.raises(DrkitError) as failed:
        create_backup(keystore, "postgresql", admin, online=True, dest=str(tmp_path / "backups"),
                      provider_secrets={"password": wrong})
    message = str(failed.value)
    assert "refused the login (wrong or missing password)" in message and "drkit_admin" in message
    assert wrong not in message
    assert command_lines and not any(wrong in line for line in command_lines)
    assert not (tmp_path / "backups").exists()
    # The right one, the same way, over TCP.
    made = create_backup(keystore, "postgresql", admin, online=True, dest=str(tmp_path / "backups"),
                         provider_secrets={"password": shop["admin_password"]})
    assert shop["admin_password"] not in repr(made)


def test_a_dump_killed_halfway_leaves_no_backup_and_no_plaintext(shop, tmp_path, keystore):
    """pg_dump (the real one) is killed once it has written 64 KiB: the backup fails, nothing is left."""
    real = sorted(os.path.join("/usr/lib/postgresql", version, "bin") for version in os.listdir("/usr/lib/postgresql"))[-1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("psql", "pg_dumpall", "pg_restore"):
        os.symlink(os.path.join(real, tool), str(bin_dir / tool))
    killed_halfway(str(bin_dir / "pg_dump"), os.path.join(real, "pg_dump"))
    psql(shop, "INSERT INTO items SELECT g, repeat('y', 500), 1 FROM generate_series(10001, 20000) g;", "shop")
    dest = tmp_path / "backups"
    with pytest.raises(DrkitError, match="pg_dump of database shop was killed by signal 9 after 65536 bytes"):
        create_backup(keystore, "postgresql", options(shop, databases=["shop"], bin_dir=str(bin_dir)), online=True,
                      dest=str(dest))
    assert not dest.exists() or os.listdir(str(dest)) == []
    leftovers = [os.path.join(top, name) for where in (str(dest), str(tmp_path / "state"))
                 for top, _dirs, files in os.walk(where) for name in files if "shop" in name or name.endswith(".dump")]
    assert leftovers == []


def test_a_backup_from_a_newer_major_release_is_refused_naming_both(shop):
    """This machine has one PostgreSQL release: the refusal side is what can be shown (decision 34)."""
    provider = get_provider("postgresql", options(shop), verb="restore")
    here = provider.target_release()

    class Header:
        manifest = {"restorableTo": {"rule": "same_or_newer", "version": str(int(here) + 1), "params": {}}}

    problems = provider.check_release(Header())
    assert problems == ["it was made by postgresql %d and may be restored only to release %d or newer (rule "
                        "same_or_newer), and this host runs postgresql %s" % (int(here) + 1, int(here) + 1, here)]
    Header.manifest = {"restorableTo": {"rule": "same_or_newer", "version": str(int(here) - 1), "params": {}}}
    assert provider.check_release(Header()) == []


def test_a_missing_database_is_refused_naming_what_the_server_has(shop, tmp_path, keystore):
    with pytest.raises(InvalidInput, match="has no database nowhere .it has: .*shop"):
        create_backup(keystore, "postgresql", options(shop, databases=["nowhere"]), online=True,
                      dest=str(tmp_path / "backups"))
    assert not (tmp_path / "backups").exists()


def test_a_drill_restores_into_a_server_of_its_own_and_counts_what_the_backup_says(shop, tmp_path, keystore):
    made = backup(keystore, tmp_path, shop)
    before = psql(shop, FINGERPRINT, "shop")
    # The scratch server runs as postgres, which cannot pass through pytest's private temporary directory.
    scratch = "/var/tmp/drkit-tests-pg/drill-%d" % os.getpid()
    total = {"name": "the shop's total", "sql": {"engine": "postgresql", "host": "{root}/postgresql", "port": 5432,
                                                 "user": "postgres", "database": "shop",
                                                 "query": "SELECT shop_total()", "expect": before[0][-1]}}
    drilled = drill_backup(Unlocker(keystore), made["path"], scratch, checks=[total],
                           provider_options=options(shop))["drill"]
    database_drill_passed(drilled, scratch, "the shop's total")
    assert psql(shop, FINGERPRINT, "shop") == before  # the live server was only read


def test_a_drill_whose_restore_loses_rows_fails_the_content_check(shop, tmp_path, keystore, monkeypatch):
    made = backup(keystore, tmp_path, shop)
    real_restore = postgres.Connection.restore

    def loses_orders(self, env, path, database, jobs=1):
        real_restore(self, env, path, database, jobs)
        self.query(env, "DELETE FROM orders WHERE id > 2990;", database)

    monkeypatch.setattr(postgres.Connection, "restore", loses_orders)
    scratch = "/var/tmp/drkit-tests-pg/drill-%d" % os.getpid()
    drilled = drill_backup(Unlocker(keystore), made["path"], scratch, provider_options=options(shop))["drill"]
    content = drilled["checks"][-1]
    assert not drilled["passed"] and content["name"] == "content" and not content["passed"]
    assert "public.orders" in content["message"] and "3000" in content["message"]
    assert drilled["torn_down"] and not os.path.exists(scratch)
