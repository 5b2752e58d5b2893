# -*- coding: utf-8 -*-
"""The mysql provider on the tests' real MariaDB server (conftest's mariadb_server)."""

from __future__ import annotations

import os
import subprocess
import threading
import threading

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import mysql

from conftest import database_drill_passed, killed_halfway, mariadb

CLERK_PASSWORD = "Cl3rk's \"pass\":word"
# What the user compares after a restore: the row counts, a checksum of an ordered query, the function's answer,
# what the trigger and the view say.
FINGERPRINT = ("SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM orders), "
               "(SELECT md5(GROUP_CONCAT(id, ':', name, ':', price ORDER BY id SEPARATOR ',')) FROM items), "
               "(SELECT md5(GROUP_CONCAT(item, ':', qty ORDER BY id SEPARATOR ',')) FROM orders), shop_total(), "
               "(SELECT count(*) FROM big_orders), (SELECT count(*) FROM audit);")


@pytest.fixture
def shop(mariadb_server):
    """A database with known content: two tables of thousands of rows, an account with a password, a function,
    a view and a trigger."""
    mariadb(mariadb_server, "DROP DATABASE IF EXISTS shop; DROP DATABASE IF EXISTS shop_copy; "
                            "DROP USER IF EXISTS clerk@'%'; CREATE DATABASE shop;")
    mariadb(mariadb_server, "CREATE USER clerk@'%%' IDENTIFIED BY %s; GRANT SELECT ON shop.* TO clerk@'%%';"
            % mysql.literal(CLERK_PASSWORD))
    mariadb(mariadb_server, """
        CREATE TABLE items (id int PRIMARY KEY, name varchar(80) NOT NULL, price decimal(10, 2)) ENGINE=InnoDB;
        INSERT INTO items SELECT seq, CONCAT('item ', seq, REPEAT('x', seq % 40)), seq * 1.25 FROM seq_1_to_5000;
        CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, note varchar(40)) ENGINE=InnoDB;
        CREATE TABLE orders (id int AUTO_INCREMENT PRIMARY KEY, item int, qty int,
                             FOREIGN KEY (item) REFERENCES items (id)) ENGINE=InnoDB;
        CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW
          INSERT INTO audit (note) VALUES (CONCAT('order ', NEW.id));
        INSERT INTO orders (item, qty) SELECT 1 + seq % 5000, seq % 7 FROM seq_1_to_3000;
        CREATE VIEW big_orders AS SELECT * FROM orders WHERE qty > 4;
        CREATE FUNCTION shop_total() RETURNS decimal(20, 2) READS SQL DATA
          RETURN (SELECT sum(i.price * o.qty) FROM orders o JOIN items i ON i.id = o.item);""", "shop")
    yield mariadb_server
    mariadb(mariadb_server, "DROP DATABASE IF EXISTS shop; DROP DATABASE IF EXISTS shop_copy;")


def options(server, **extra):
    return dict({"socket": server["socket"], "user": "root"}, **extra)


def backup(keystore, tmp_path, server, **extra):
    return create_backup(keystore, "mysql", options(server, databases=["shop"], **extra), online=True,
                         dest=str(tmp_path / "backups"))


def clerk_logs_in(server) -> bool:
    """The account logs in over TCP with its password (given in an option file, as a user would)."""
    login = os.path.join(os.path.dirname(server["socket"]), "clerk.cnf")
    with open(login, "w") as out:
        out.write("[client]\npassword=%s\n" % mysql.option_value(CLERK_PASSWORD))
    done = subprocess.run(["mariadb", "--defaults-extra-file=%s" % login, "-h", "127.0.0.1", "-P",
                           str(server["port"]), "-u", "clerk", "--batch", "--skip-column-names", "shop", "-e",
                           "SELECT count(*) FROM items"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.strip() == "5000"


def test_a_dropped_database_and_account_come_back_whole(shop, tmp_path, keystore):
    before = mariadb(shop, FINGERPRINT, "shop")
    made = backup(keystore, tmp_path, shop)
    header = made["backup"]
    assert [part["name"] for part in header["parts"]] == ["accounts.sql", "db-shop.sql"]
    assert header["contentSummary"] == {"databases": {"shop": {
        "tables": 3, "rows": {"audit": 3000, "items": 5000, "orders": 3000}}}}
    assert header["database"]["server"] == "MariaDB"
    assert header["restorableTo"]["rule"] == "same_or_newer"
    assert header["restorableTo"]["version"] == ".".join(header["productVersion"].split(".")[:2])
    mariadb(shop, "DROP DATABASE shop; DROP USER clerk@'%';")

    done = restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop))

    assert done["actions"] == ["restored the accounts and their grants", "restored database shop"]
    assert mariadb(shop, FINGERPRINT, "shop") == before
    assert clerk_logs_in(shop)
    counted = get_provider("mysql", options(shop), verb="restore").count(header["contentSummary"])
    assert counted == header["contentSummary"]


def test_backup_info_shows_the_server_and_its_databases(shop, tmp_path, keystore):
    backup(keystore, tmp_path, shop)
    listed = backup_info(str(tmp_path / "backups"))["backups"][0]["header"]
    facts = listed["database"]
    assert facts["server"] == "MariaDB" and facts["version"] == listed["productVersion"]
    assert facts["databases"]["shop"]["tables"] == 3 and facts["databases"]["shop"]["bytes"] > 0  # InnoDB's estimate
    assert facts["databases"]["shop"]["charset"]


def test_the_rows_counted_are_the_rows_dumped_while_writes_go_on(shop, tmp_path, keystore):
    """Orders are inserted all through the backup: the summary still matches what the dump restores."""
    stop = threading.Event()

    def writes():
        while not stop.is_set():
            mariadb(shop, "INSERT INTO orders (item, qty) VALUES (1, 1);", "shop")

    writer = threading.Thread(target=writes)
    writer.start()
    try:
        made = backup(keystore, tmp_path, shop)
    finally:
        stop.set()
        writer.join()
    restore_backup(Unlocker(keystore), made["path"],
                   provider_options=options(shop, target_databases={"shop": "shop_copy"}))
    held = made["backup"]["contentSummary"]["databases"]["shop"]["rows"]
    copied = get_provider("mysql", options(shop, target_databases={"shop": "shop_copy"}),
                          verb="restore").count(made["backup"]["contentSummary"])["databases"]["shop"]["rows"]
    assert copied == held and held["orders"] == held["audit"]


def test_an_existing_database_is_refused_without_replace_and_replaced_with_it(shop, tmp_path, keystore):
    made = backup(keystore, tmp_path, shop)
    before = mariadb(shop, FINGERPRINT, "shop")
    mariadb(shop, "DELETE FROM orders WHERE id > 10;", "shop")
    changed = mariadb(shop, FINGERPRINT, "shop")
    with pytest.raises(InvalidInput, match="has database shop already: restore with provider_options.replace true"):
        restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop))
    assert mariadb(shop, FINGERPRINT, "shop") == changed

    restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop, replace=True))
    assert mariadb(shop, FINGERPRINT, "shop") == before


def test_a_failed_restore_loads_the_former_content_again(shop, tmp_path, keystore, monkeypatch):
    made = backup(keystore, tmp_path, shop)
    mariadb(shop, "DELETE FROM orders WHERE id > 10;", "shop")
    changed = mariadb(shop, FINGERPRINT, "shop")
    real_load = mysql.Connection._load

    def fails_once(self, login, path, target):
        if ".drkit-before-" not in path:  # the backup's dump, not the safety copy
            real_load(self, login, path, target)  # half done, then the disk fills
            mariadb(shop, "DROP TABLE orders;", target)
            raise mysql.MySQLError("loading database %s failed (exit 1): disk full" % target)
        real_load(self, login, path, target)

    monkeypatch.setattr(mysql.Connection, "_load", fails_once)
    with pytest.raises(mysql.MySQLError, match="disk full"):
        restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop, replace=True))
    assert mariadb(shop, FINGERPRINT, "shop") == changed


def test_check_mode_changes_nothing(shop, tmp_path, keystore):
    plan = create_backup(keystore, "mysql", options(shop, databases=["shop"]), online=True,
                         dest=str(tmp_path / "backups"), check_mode=True)
    assert plan["changed"] and not (tmp_path / "backups").exists()
    made = backup(keystore, tmp_path, shop)
    mariadb(shop, "DELETE FROM orders;", "shop")
    planned = restore_backup(Unlocker(keystore), made["path"], provider_options=options(shop, replace=True),
                             check_mode=True)
    assert planned["actions"] == ["restore the accounts and their grants",
                                  "restore database shop, its current content dumped first and loaded again if the "
                                  "restore fails"]
    assert mariadb(shop, "SELECT count(*) FROM orders;", "shop") == [("0",)]


def test_a_wrong_password_is_one_clear_message_and_never_shown(shop, tmp_path, keystore, command_lines):
    wrong = "not-the-password-%s" % os.getpid()
    admin = {"host": "127.0.0.1", "port": shop["port"], "user": shop["admin"], "databases": ["shop"]}
    with pytest.raises(DrkitError) as failed:
        create_backup(keystore, "mysql", admin, online=True, dest=str(tmp_path / "backups"),
                      provider_secrets={"password": wrong})
    message = str(failed.value)
    assert "refused the login (wrong or missing password)" in message and "drkit_admin" in message
    assert wrong not in message
    assert command_lines and not any(wrong in line for line in command_lines)
    assert not (tmp_path / "backups").exists()
    # The right one (quotes, a colon and a backslash-free space in it), the same way, over TCP.
    made = create_backup(keystore, "mysql", admin, online=True, dest=str(tmp_path / "backups"),
                         provider_secrets={"password": shop["admin_password"]})
    assert shop["admin_password"] not in repr(made)


def test_a_dump_killed_halfway_leaves_no_backup_and_no_plaintext(shop, tmp_path, keystore):
    """mariadb-dump (the real one) is killed once it has written 64 KiB: the backup fails, nothing is left."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink("/usr/bin/mariadb", str(bin_dir / "mariadb"))
    killed_halfway(str(bin_dir / "mariadb-dump"), "/usr/bin/mariadb-dump")
    mariadb(shop, "INSERT INTO items SELECT seq, REPEAT('y', 70), 1 FROM seq_10001_to_20000;", "shop")
    dest = tmp_path / "backups"
    with pytest.raises(DrkitError, match="mariadb-dump of database shop was killed by signal 9 after 65536 bytes"):
        create_backup(keystore, "mysql", options(shop, databases=["shop"], bin_dir=str(bin_dir), globals=False),
                      online=True, dest=str(dest))
    assert not dest.exists() or os.listdir(str(dest)) == []
    leftovers = [os.path.join(top, name) for where in (str(dest), str(tmp_path / "state"))
                 for top, _dirs, files in os.walk(where) for name in files if "shop" in name or name.endswith(".sql")]
    assert leftovers == []
    # The lock taken for the count was let go: the server takes writes.
    mariadb(shop, "INSERT INTO audit (note) VALUES ('after');", "shop")


def test_a_dump_that_exits_0_without_its_last_line_is_refused(shop, tmp_path, keystore):
    """A dump tool that stops early and says nothing (exit 0) does not make a backup."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink("/usr/bin/mariadb", str(bin_dir / "mariadb"))
    liar = bin_dir / "mariadb-dump"
    liar.write_text("#!/bin/sh\n/usr/bin/mariadb-dump \"$@\" | head -c 20000\nexit 0\n")
    liar.chmod(0o755)
    with pytest.raises(DrkitError, match="ended without its '-- Dump completed' line after 20000 bytes"):
        create_backup(keystore, "mysql", options(shop, databases=["shop"], bin_dir=str(bin_dir), globals=False),
                      online=True, dest=str(tmp_path / "backups"))
    assert not (tmp_path / "backups").exists() or os.listdir(str(tmp_path / "backups")) == []


def test_a_backup_of_a_newer_release_or_of_mysql_is_refused_naming_both(shop):
    """This machine has one MariaDB release: the refusal side is what can be shown (decision 34)."""
    provider = get_provider("mysql", options(shop), verb="restore")
    here = provider.target_release()
    newer = "%s.%d" % (here.split(".")[0], int(here.split(".")[1]) + 1)

    class Header:
        name = "mysql-full-x"
        manifest = {"restorableTo": {"rule": "same_or_newer", "version": newer, "params": {}},
                    "database": {"server": "MariaDB"}}

    assert provider.check_release(Header()) == [
        "it was made by mysql %s and may be restored only to release %s or newer (rule same_or_newer), and this "
        "host runs mysql %s" % (newer, newer, here)]
    Header.manifest = {"restorableTo": {"rule": "same_or_newer", "version": "10.3", "params": {}},
                       "database": {"server": "MariaDB"}}
    assert provider.check_release(Header()) == []
    Header.manifest = {"restorableTo": {"rule": "same_or_newer", "version": "8.0", "params": {}},
                       "database": {"server": "MySQL", "version": "8.0.36"}}
    assert provider.check_release(Header()) == [
        "backup mysql-full-x was made by MySQL 8.0.36 and this host runs MariaDB %s: a dump of one is not restored "
        "into the other" % provider.product_version()]


def test_a_missing_database_is_refused_naming_what_the_server_has(shop, tmp_path, keystore):
    with pytest.raises(InvalidInput, match="has no database nowhere .it has: .*shop"):
        create_backup(keystore, "mysql", options(shop, databases=["nowhere"]), online=True,
                      dest=str(tmp_path / "backups"))
    assert not (tmp_path / "backups").exists()


def test_a_drill_restores_into_a_server_of_its_own_and_counts_what_the_backup_says(shop, tmp_path, keystore):
    made = backup(keystore, tmp_path, shop)
    before = mariadb(shop, FINGERPRINT, "shop")
    scratch = str(tmp_path / "scratch")
    total = {"name": "the shop's total", "sql": {"engine": "mysql", "socket": "{root}/mysql/mysqld.sock",
                                                 "user": "root", "database": "shop",
                                                 "query": "SELECT shop_total()", "expect": before[0][4]}}
    drilled = drill_backup(Unlocker(keystore), made["path"], scratch, checks=[total],
                           provider_options=options(shop))["drill"]
    database_drill_passed(drilled, scratch, "the shop's total")
    assert mariadb(shop, FINGERPRINT, "shop") == before  # the live server was only read


def test_a_scratch_server_a_killed_drill_left_is_stopped_by_its_pid_file_and_a_stale_one_kills_nothing(tmp_path):
    started = mysql.ScratchServer(str(tmp_path / "scratch"))
    started.start()
    reaper = threading.Thread(target=started.process.wait)  # as init reaps the server of a drill that was killed
    reaper.start()
    left = mysql.ScratchServer(started.directory)  # what the next drill sees: the pid file only
    assert left.stop() == []
    reaper.join(timeout=5)
    assert started.process.returncode == 0
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with open(left.pidfile, "w") as stale:  # the pid now belongs to another program
            stale.write("%d\n" % sleeper.pid)
        assert left.stop() == [] and sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
