# -*- coding: utf-8 -*-
"""The keycloak provider's pieces that need no server: the configuration as Keycloak reads it, the checks of a
realm export, and the configuration tar."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak import cli, config
from ansible_collections.drkit.backup.plugins.module_utils.providers import config_tree as tree


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def home(tmp_path):
    top = tmp_path / "keycloak"
    write(str(top / "conf" / "keycloak.conf"), "# the database\ndb=postgres\ndb-url-host=${DB_HOST:db1.example}\n"
          "db-username=keycloak\ndb-password=from conf\nhttps-certificate-file=${kc.home.dir}/conf/server.pem\n"
          "https-certificate-key-file=/nowhere/key.pem\n")
    write(str(top / "conf" / "server.pem"), "CERT")
    write(str(top / "providers" / "custom.jar"), "JAR")
    write(str(top / "themes" / "corp" / "login" / "theme.properties"), "parent=keycloak")
    return str(top)


def test_the_environment_wins_over_keycloak_conf_and_the_options_over_both(home, tmp_path):
    env = write(str(tmp_path / "keycloak.env"), 'export KC_DB_URL_PORT="6543"\nKC_DB_PASSWORD=\'from env\'\n'
                "DB_HOST=db2.example\n")
    settings = config.Settings(home, [env], {"db-username": "admin"})
    db = config.database(settings)
    assert (db.vendor, db.host, db.port, db.name, db.user, db.password) == \
        ("postgres", "db2.example", 6543, "keycloak", "admin", "from env")
    assert db.provider == "postgresql"
    assert "password" not in json.dumps(db.facts())


def test_a_jdbc_url_names_host_port_and_database(home):
    settings = config.Settings(home, given={"db": "mariadb", "db-url": "jdbc:mariadb://[::1]:3307/kc?ssl=true"})
    db = config.database(settings)
    assert (db.vendor, db.host, db.port, db.name, db.provider) == ("mariadb", "::1", 3307, "kc", "mysql")


def test_a_jdbc_url_of_another_vendor_is_refused_without_its_password(home):
    settings = config.Settings(home, given={"db-url": "jdbc:mysql://db/kc?password=Sekrit"})
    with pytest.raises(InvalidInput) as caught:
        config.database(settings)
    assert "postgres" in str(caught.value) and "Sekrit" not in str(caught.value)


@pytest.mark.parametrize("vendor, why", [("mssql", "SQL Server"), ("oracle", "RMAN"), ("tidb", "TiDB"),
                                         ("dev-mem", "memory")])
def test_databases_drkit_cannot_dump_are_refused_saying_why(home, vendor, why):
    with pytest.raises(InvalidInput, match=why):
        config.database(config.Settings(home, given={"db": vendor}))


def test_dev_file_is_files_under_data(home):
    db = config.database(config.Settings(home, given={"db": "dev-file"}))
    assert db.provider == "" and "data/" in db.describe()


def test_the_config_files_are_the_ones_there_and_the_stores_the_configuration_names(home, tmp_path):
    env = write(str(tmp_path / "keycloak.env"), "KC_DB_PASSWORD=x\nKEYCLOAK_ADMIN=admin\nOTHER=1\n")
    settings = config.Settings(home, [env])
    assert config.files(settings, [env]) == ["conf/keycloak.conf", "providers", "themes", "conf/server.pem", env]
    assert config.environment_names(settings) == ["KC_DB_PASSWORD", "KEYCLOAK_ADMIN"]


def test_a_missing_environment_file_is_named(home, tmp_path):
    with pytest.raises(InvalidInput, match="nowhere.env does not exist"):
        config.Settings(home, [str(tmp_path / "nowhere.env")])


# --- the realm export's checks ------------------------------------------------------------------------

def export(directory, realm, users_files, users_in_realm_file=0, clients=2):
    realm_data = {"realm": realm, "clients": [{"clientId": "c%d" % n} for n in range(clients)]}
    if users_in_realm_file:
        realm_data["users"] = [{"username": "r%d" % n} for n in range(users_in_realm_file)]
    write(os.path.join(directory, "%s-realm.json" % realm), json.dumps(realm_data))
    for index, count in enumerate(users_files):
        write(os.path.join(directory, "%s-users-%d.json" % (realm, index)),
              json.dumps({"realm": realm, "users": [{"username": "u%d" % n} for n in range(count)]}))


def test_an_export_in_several_users_files_is_counted_realm_by_realm(tmp_path):
    export(str(tmp_path), "corp", [50, 50, 7])
    export(str(tmp_path), "master", [1], clients=5)
    found = cli.read_export(str(tmp_path), ["corp", "master"], "different_files", {"corp": 107, "master": 1})
    assert found["corp"]["users"] == 107 and len(found["corp"]["files"]) == 4
    assert found["master"] == {"files": ["master-realm.json", "master-users-0.json"], "users": 1, "clients": 5}


def test_an_export_that_wrote_no_users_file_is_caught_whatever_kc_sh_said(tmp_path):
    export(str(tmp_path), "corp", [])
    with pytest.raises(cli.KeycloakError, match="0 user.*database has 12"):
        cli.read_export(str(tmp_path), ["corp"], "different_files", {"corp": 12})


def test_a_missing_realm_file_and_a_foreign_file_are_caught(tmp_path):
    export(str(tmp_path), "corp", [1])
    with pytest.raises(cli.KeycloakError, match="no realm file for master"):
        cli.read_export(str(tmp_path), ["corp", "master"], "different_files")
    write(str(tmp_path / "other-users-0.json"), json.dumps({"realm": "other", "users": []}))
    with pytest.raises(cli.KeycloakError, match="other-users-0.json, which belongs to no realm"):
        cli.read_export(str(tmp_path), ["corp"], "different_files")


def test_a_truncated_file_is_caught(tmp_path):
    export(str(tmp_path), "corp", [3])
    with open(str(tmp_path / "corp-users-0.json"), "r+", encoding="utf-8") as handle:
        handle.truncate(20)
    with pytest.raises(cli.KeycloakError, match="corp-users-0.json cannot be read as JSON"):
        cli.read_export(str(tmp_path), ["corp"], "different_files")


def test_users_in_the_realm_file_count_too(tmp_path):
    export(str(tmp_path), "corp", [], users_in_realm_file=4)
    assert cli.read_export(str(tmp_path), ["corp"], "realm_file", {"corp": 4})["corp"]["users"] == 4


# --- the configuration tar ----------------------------------------------------------------------------

def test_the_config_tar_comes_back_under_another_home_changing_only_what_differs(home, tmp_path):
    outside = write(str(tmp_path / "etc" / "keycloak.env"), "KC_DB_PASSWORD=x\n", 0o600)
    out = io.BytesIO()
    counts = tree.write(out, home, ["conf/keycloak.conf", "providers", "themes", outside])
    assert counts["files"] == 4
    raw = str(tmp_path / "config.tar")
    with open(raw, "wb") as handle:
        handle.write(out.getvalue())
    assert "_absolute" + outside in tree.names(raw)
    elsewhere = str(tmp_path / "new-home")
    write(os.path.join(elsewhere, "providers", "custom.jar"), "JAR")   # the same: left alone
    write(os.path.join(elsewhere, "conf", "extra.conf"), "kept")        # not in the backup: never deleted
    os.remove(outside)
    changed = tree.restore(raw, elsewhere)
    assert os.path.join(elsewhere, "providers", "custom.jar") not in changed
    assert os.path.join(elsewhere, "conf", "keycloak.conf") in changed and outside in changed
    assert os.stat(outside).st_mode & 0o777 == 0o600
    assert os.path.exists(os.path.join(elsewhere, "conf", "extra.conf"))
    assert tree.restore(raw, elsewhere) == []


def test_a_tar_member_that_would_leave_home_is_refused(tmp_path):
    raw = str(tmp_path / "evil.tar")
    with tarfile.open(raw, "w") as tar:
        info = tarfile.TarInfo("../../etc/passwd")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(tarfile.FilterError):
        tree.restore(raw, str(tmp_path / "home"))
