# -*- coding: utf-8 -*-
"""The kanidm provider on the emulated kanidmd (tests/emulators/kanidm): backups offline and online, restores, the
release rule, kanidmd's lies, and drills."""

from __future__ import annotations

import glob
import os
import subprocess
import time

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.kanidm import online_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm import cli

from kanidm_server import ALICE_PASSWORD, IDM_ADMIN_PASSWORD


@pytest.fixture
def kanidm(kanidm_server):
    """A fresh kanidmd 1.11.1 with alice, bob, carol and the group staff; running."""
    kanidm_server.create_afresh()
    yield kanidm_server
    kanidm_server.stop()


def options(server, **extra):
    return dict({"config": server.config, "kanidmd": server.program}, **extra)


def backup(keystore, tmp_path, server, online=False, **extra):
    return create_backup(keystore, "kanidm", options(server, **extra), online=online, dest=str(tmp_path / "backups"),
                         **server.commands())


def restore(keystore, made, server, **extra):
    return restore_backup(Unlocker(keystore), made["path"], provider_options=options(server, **extra),
                          **server.commands())


def online_backup_after(server, moment, timeout=20):
    """The first file kanidmd's online backups wrote after ``moment``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [path for path in sorted(glob.glob(os.path.join(server.backups, "backup-*.json*")))
                 if os.path.getmtime(path) > moment + 0.5]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("kanidmd wrote no online backup into %s" % server.backups)


def test_an_offline_backup_brings_back_a_deleted_person_and_group(kanidm, tmp_path, keystore):
    made = backup(keystore, tmp_path, kanidm)
    header = made["backup"]
    assert [part["name"] for part in header["parts"]] == ["kanidm-db.json.gz", "config.tar"]
    assert header["kanidm"]["series"] == "1.11" and header["productVersion"] == "1.11.1"
    assert header["restorableTo"]["rule"] == "same_series"
    assert header["contentSummary"] == {"persons": 3, "groups": 6}
    assert sorted(header["kanidm"]["config"]) == ["chain.pem", "key.pem", "server.toml"]
    assert made["stops_services"] and kanidm.running()

    kanidm.delete("person", "alice")
    kanidm.delete("group", "staff")
    assert not kanidm.alice_logs_in() and "staff" not in kanidm.groups()

    done = restore(keystore, made, kanidm)

    assert kanidm.running() and kanidm.alice_logs_in() and "staff" in kanidm.groups()
    assert kanidm.persons() == ["alice", "bob", "carol"]
    assert "kanidmd database verify found no error" in done["actions"]
    assert any(action.startswith("kanidmd is running") for action in done["actions"])
    assert IDM_ADMIN_PASSWORD not in str(done) and ALICE_PASSWORD not in str(header)


def test_a_restore_puts_back_a_lost_server_toml_and_takes_a_new_origin(kanidm, tmp_path, keystore):
    made = backup(keystore, tmp_path, kanidm)
    kanidm.stop()
    os.unlink(kanidm.config)

    done = restore(keystore, made, kanidm, origin="https://idm2.example.test:18443")

    with open(kanidm.config, encoding="utf-8") as handle:
        text = handle.read()
    assert 'origin = "https://idm2.example.test:18443"' in text and "db_path" in text
    assert kanidm.running() and kanidm.alice_logs_in()
    assert "set origin = https://idm2.example.test:18443 in %s" % kanidm.config in done["actions"]


def test_kanidmd_s_lies_are_caught_by_what_it_wrote(kanidm, tmp_path):
    kanidm.stop()
    kanidmd = cli.Kanidmd(kanidm.program, kanidm.config)
    existing = tmp_path / "there.json.gz"
    existing.write_bytes(b"not a backup")
    # the target exists: kanidmd says so, writes nothing, and exits 0
    assert kanidm.kanidmd("database", "backup", str(existing)).returncode == 0
    with pytest.raises(cli.KanidmError, match="exited 0 and wrote nothing.*will not overwrite"):
        kanidmd.backup(str(existing))
    # the file cannot be created: exit 0 again
    with pytest.raises(cli.KanidmError, match="exited 0 and wrote no backup file"):
        kanidmd.backup(str(tmp_path / "no-such-dir" / "b.json.gz"))
    # a restore whose file cannot be opened exits 0 and restores nothing
    assert kanidm.kanidmd("database", "restore", str(tmp_path / "missing.json.gz")).returncode == 0
    with pytest.raises(cli.KanidmError, match="did not say it restored.*File::open error"):
        kanidmd.restore(str(tmp_path / "missing.json.gz"))
    # verify cannot open a database that is not one: exit 0, no "Verification passed!"
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "kanidm.db").write_bytes(b"\x00" * 4096)
    broken = tmp_path / "server.toml"
    with open(kanidm.config, encoding="utf-8") as handle:
        broken.write_text(handle.read().replace(os.path.join(kanidm.home, "data"), str(tmp_path / "corrupt")))
    with pytest.raises(cli.KanidmError, match="verify exited 0 and did not say it passed"):
        cli.Kanidmd(kanidm.program, str(broken)).verify()
    kanidm.start()


def test_a_backup_of_a_running_kanidmd_without_its_service_fails_plainly(kanidm, tmp_path, keystore):
    with pytest.raises(DrkitError, match="unable to lock kanidmd exclusive lock"):
        create_backup(keystore, "kanidm", options(kanidm, service=""), dest=str(tmp_path / "backups"))
    assert kanidm.running() and not glob.glob(str(tmp_path / "backups" / "*"))


def test_a_backup_of_another_series_is_refused_before_anything_stops(kanidm, tmp_path, keystore):
    made = backup(keystore, tmp_path, kanidm)
    kanidm.create_afresh(release="1.10.3", persons=("dave",))
    log = os.path.join(kanidm.home, "log", "kanidmd.log")
    before = os.path.getsize(log)

    with pytest.raises(InvalidInput, match=r"kanidmd 1\.10\.3 cannot load a database of kanidmd 1\.11\.x.*install a 1\.11"):
        restore(keystore, made, kanidm)

    assert kanidm.running() and kanidm.persons() == ["dave"] and os.path.getsize(log) >= before


def test_a_release_of_the_old_spelling_is_backed_up_and_restored(kanidm, tmp_path, keystore):
    kanidm.create_afresh(release="1.1.0-alpha.8")
    assert kanidm.kanidmd("database", "backup", "x").returncode == 2  # "database" came in 1.1.0-alpha.9
    made = backup(keystore, tmp_path, kanidm)
    assert made["backup"]["kanidm"]["series"] == "1.1"
    kanidm.delete("person", "bob")

    restore(keystore, made, kanidm)

    assert kanidm.persons() == ["alice", "bob", "carol"]


def test_an_online_backup_adopts_kanidmd_s_own_file_once_and_stops_nothing(kanidm, tmp_path, keystore):
    kanidm.create_afresh(schedule="* * * * * *", versions=3)
    chosen = os.path.basename(online_backup_after(kanidm, time.time()))
    kanidm.delete("person", "carol")  # after kanidmd's backup: the backup still holds her

    made = backup(keystore, tmp_path, kanidm, online=True, online_backup_file=chosen)
    again = backup(keystore, tmp_path, kanidm, online=True, online_backup_file=chosen)

    assert not made["stops_services"] and made["adopted"] == chosen
    assert made["backup"]["kanidm"]["adopted"]["name"] == chosen
    assert made["backup"]["contentSummary"]["persons"] == 3
    assert not again["changed"] and again["path"] == made["path"]
    os.remove(os.path.join(kanidm.backups, chosen))  # rotated away by kanidmd since: still adopted, not an error
    rotated = backup(keystore, tmp_path, kanidm, online=True, online_backup_file=chosen)
    assert not rotated["changed"] and rotated["path"] == made["path"]
    with pytest.raises(InvalidInput, match=r"online_backup_file .*backup-2000-01-01T00:00:00Z.json.gz is not there"):
        backup(keystore, tmp_path, kanidm, online=True, online_backup_file="backup-2000-01-01T00:00:00Z.json.gz")
    kanidm.stop()  # kanidmd's own backups stop with it: the restore's file is the adopted one
    restore(keystore, made, kanidm)
    assert kanidm.persons() == ["alice", "bob", "carol"]


def test_the_online_backup_module_s_table_passes_configtest_and_kanidmd_then_writes_backups(
        kanidm, tmp_path, keystore):
    first = online_backup(kanidm.config, schedule="* * * * * *", versions=2, path=kanidm.backups,
                          kanidmd=kanidm.program)
    again = online_backup(kanidm.config, schedule="* * * * * *", versions=2, path=kanidm.backups,
                          kanidmd=kanidm.program)
    assert first["changed"] and not again["changed"]
    assert kanidm.kanidmd("configtest").returncode == 0
    kanidm.service("restart")
    online_backup_after(kanidm, time.time())

    made = backup(keystore, tmp_path, kanidm, online=True)

    assert made["adopted"].startswith("backup-") and made["backup"]["contentSummary"]["persons"] == 3


def test_an_online_backup_with_no_file_of_kanidmd_s_says_what_to_set(kanidm, tmp_path, keystore):
    with pytest.raises(InvalidInput, match=r"kanidmd has written no online backup into .*set \[online_backup\]"):
        backup(keystore, tmp_path, kanidm, online=True)
    assert kanidm.running()


def test_an_uncompressed_backup_is_restored_under_its_own_name(kanidm, tmp_path, keystore):
    kanidm.create_afresh(schedule="0 0 1 1 *", compression="none")
    made = backup(keystore, tmp_path, kanidm)
    assert made["backup"]["parts"][0]["name"] == "kanidm-db.json"
    kanidm.delete("person", "alice")
    restore(keystore, made, kanidm)
    assert kanidm.alice_logs_in()


def drill(keystore, made, server, scratch, password):
    return drill_backup(Unlocker(keystore), made["path"], scratch,
                        provider_options=options(server, check_account="alice"),
                        provider_secrets={"check_password": password}, health_timeout=60,
                        health_interval=0.2)["drill"]


def test_a_drill_runs_a_kanidmd_of_its_own_and_the_live_one_is_untouched(kanidm, tmp_path, keystore):
    made = backup(keystore, tmp_path, kanidm)
    kanidm.delete("person", "bob")  # the live server changes after the backup; the drill must not see it
    scratch = str(tmp_path / "drill")

    drilled = drill(keystore, made, kanidm, scratch, IDM_ADMIN_PASSWORD)

    assert drilled["passed"], drilled["checks"]
    assert [step["name"] for step in drilled["checks"]] == ["verify", "restore", "health", "kanidm", "content"]
    assert drilled["torn_down"] and not os.path.exists(scratch)
    assert subprocess.run(["pgrep", "-f", scratch], check=False).returncode == 1  # nothing of the drill left
    assert kanidm.running() and kanidm.persons() == ["alice", "carol"]
    assert IDM_ADMIN_PASSWORD not in str(drilled)


def test_a_drill_whose_login_is_refused_fails_its_kanidm_check(kanidm, tmp_path, keystore):
    made = backup(keystore, tmp_path, kanidm)
    drilled = drill(keystore, made, kanidm, str(tmp_path / "drill"), "not the password")
    failed = [step["name"] for step in drilled["checks"] if not step["passed"]]
    assert "kanidm" in failed and "refused the login of idm_admin" in str(drilled["checks"])
    assert "not the password" not in str(drilled) and drilled["torn_down"]
