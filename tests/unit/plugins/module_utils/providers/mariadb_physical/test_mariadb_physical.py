# -*- coding: utf-8 -*-
"""The mariadb_physical provider on the tests' second real MariaDB server (conftest's mariadb_physical_server):
a hot backup by mariadb-backup, restored into the stopped server's data directory, and drilled."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from conftest import database_drill_passed, mariadb

# The rows, a checksum of an ordered query, the function's answer, and a MyISAM table (copied under the locks).
FINGERPRINT = ("SELECT (SELECT count(*) FROM items), "
               "(SELECT md5(GROUP_CONCAT(id, ':', name ORDER BY id SEPARATOR ',')) FROM items), "
               "(SELECT count(*) FROM notes), items_total();")


def run(server, action):
    subprocess.run([server["script"], action, server["where"]] + ([str(server["port"])] if action == "start" else []),
                   check=True, capture_output=True)


@pytest.fixture
def shop(mariadb_physical_server):
    server = mariadb_physical_server
    run(server, "start")
    mariadb(server, "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop;")
    mariadb(server, """
        CREATE TABLE items (id int PRIMARY KEY, name varchar(80) NOT NULL) ENGINE=InnoDB;
        INSERT INTO items SELECT seq, CONCAT('item ', seq, REPEAT('x', seq % 40)) FROM seq_1_to_5000;
        CREATE TABLE notes (id int PRIMARY KEY, body text) ENGINE=MyISAM;
        INSERT INTO notes SELECT seq, CONCAT('note ', seq) FROM seq_1_to_700;
        CREATE FUNCTION items_total() RETURNS int READS SQL DATA RETURN (SELECT sum(id) FROM items);""", "shop")
    yield server
    run(server, "start")  # running again, whatever the test did to it


def options(server, **extra):
    return dict({"socket": server["socket"], "user": "root"}, **extra)


def hot_backup(keystore, tmp_path, server, **extra):
    return create_backup(keystore, "mariadb_physical", options(server, **extra), online=True,
                         dest=str(tmp_path / "backups"))


def restore(keystore, made, server, **extra):
    return restore_backup(Unlocker(keystore), made["path"],
                          provider_options=options(server, datadir=server["datadir"], **extra))


def leftovers(server) -> list:
    return [name for name in os.listdir(server["where"]) if name.startswith(".drkit-") or ".drkit-old-" in name]


def test_a_hot_backup_comes_back_into_the_stopped_server_s_data_directory(shop, tmp_path, keystore):
    before = mariadb(shop, FINGERPRINT, "shop")
    made = hot_backup(keystore, tmp_path, shop)
    header = made["backup"]
    assert header["product"] == "mariadb_physical" and [part["kind"] for part in header["parts"]] == ["mariadb-backup"]
    assert header["contentSummary"]["databases"]["shop"] == {"tables": 2}
    assert header["restorableTo"]["rule"] == "same_series" and header["restorableTo"]["version"] == "10.11"
    mariadb(shop, "DROP DATABASE shop;")
    with pytest.raises(InvalidInput, match="a MariaDB server runs on %s \\(pid \\d+\\): stop it first" % shop["datadir"]):
        restore(keystore, made, shop, replace=True)
    run(shop, "stop")
    with pytest.raises(InvalidInput, match="holds files already: restore with provider_options.replace true"):
        restore(keystore, made, shop)
    planned = restore_backup(Unlocker(keystore), made["path"], check_mode=True,
                             provider_options=options(shop, datadir=shop["datadir"], replace=True))
    assert planned["actions"][-1].endswith(", replacing the data directory there")
    done = restore(keystore, made, shop, replace=True)
    assert done["actions"] == ["prepared the server's files and moved them into %s" % shop["datadir"]]
    assert os.stat(shop["datadir"]).st_uid == os.stat(os.path.join(shop["datadir"], "ibdata1")).st_uid != 0
    run(shop, "start")
    assert mariadb(shop, FINGERPRINT, "shop") == before
    assert leftovers(shop) == []


def test_a_failed_move_puts_the_old_data_directory_back(shop, tmp_path, keystore, monkeypatch):
    made = hot_backup(keystore, tmp_path, shop)
    mariadb(shop, "INSERT INTO items VALUES (9999, 'after the backup');", "shop")
    after = mariadb(shop, FINGERPRINT, "shop")
    run(shop, "stop")
    from ansible_collections.drkit.backup.plugins.module_utils.providers.databases import mariabackup, mysql

    def fails(directory, datadir, bin_dir=None):
        open(os.path.join(datadir, "half-moved"), "w").close()
        raise mysql.MySQLError("mariadb-backup --move-back failed (exit 1): No space left on device")
    monkeypatch.setattr(mariabackup, "move_back", fails)
    with pytest.raises(DrkitError, match="No space left on device"):
        restore(keystore, made, shop, replace=True)
    assert not os.path.exists(os.path.join(shop["datadir"], "half-moved")) and leftovers(shop) == []
    run(shop, "start")
    assert mariadb(shop, FINGERPRINT, "shop") == after


def test_a_mariadb_backup_that_does_not_say_it_completed_leaves_no_backup(shop, tmp_path, keystore):
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("mariadb", "mariadb-dump", "mbstream"):
        os.symlink("/usr/bin/%s" % name, str(tools / name))
    fake = tools / "mariadb-backup"  # exits 0 after half a stream, as a tool killed in its child might
    fake.write_text("#!/bin/sh\nprintf 'MBSTREAM half'\necho '[00] 2026-12-04 Copying ./ibdata1' >&2\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(DrkitError, match="mariadb-backup --backup exited 0 but did not say it completed"):
        hot_backup(keystore, tmp_path, shop, bin_dir=str(tools))
    assert not (tmp_path / "backups").exists() or os.listdir(str(tmp_path / "backups")) == []


def test_a_drill_restores_into_a_server_of_its_own(shop, tmp_path, keystore):
    made = hot_backup(keystore, tmp_path, shop)
    before = mariadb(shop, FINGERPRINT, "shop")
    scratch = str(tmp_path / "scratch")
    total = {"name": "the items' total", "sql": {"engine": "mysql", "socket": "{root}/mysql/mysqld.sock",
                                                 "user": "root", "database": "shop",
                                                 "query": "SELECT items_total()", "expect": before[0][3]}}
    drilled = drill_backup(Unlocker(keystore), made["path"], scratch, checks=[total],
                           provider_options=options(shop))["drill"]
    database_drill_passed(drilled, scratch, "the items' total")
    assert mariadb(shop, FINGERPRINT, "shop") == before
