# -*- coding: utf-8 -*-
"""The mq_appliance provider's queue managers and messaging users (mqbackup, userbackup, mqrestore, userrestore in
the appliance's CLI over SSH) on emulated appliances, and the content summary a drill compares."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.cli import CliError, Session

from mqa_server import ADMIN_PASSWORD

PEM = "/var/tmp/drkit-tests-mqa"
SECRETS = {"password": ADMIN_PASSWORD}


@pytest.fixture
def live(mqa_server):
    """mqa_server in service with the backup certificate, a backup file system, two queue managers (QM1 running,
    with a queue) and a messaging user."""
    mqa_server.create_afresh()
    key, cert = mqa_server.backup_credentials(PEM)
    mqa_server.install_credentials(key, cert, with_key=False)
    mqa_server.put_file("local", "app/qm.ini", b"QueueManager:\n  Name=QM1\n")
    said = mqa_server.mqcli("createbackupfs -s 1", "crtmqm QM1", "crtmqm QM2", "strmqm QM1",
                            "runmqsc QM1", "DEFINE QLOCAL(ORDERS)", "end", "usercreate -u app1 -g mqapps -p S3cret1")
    assert "AMQ8006I" in said and "The user app1 was created" in said
    return mqa_server


def options(server, **extra) -> dict:
    return dict({"url": server.url, "ca_path": server.ca_path, "certificate": "drkit", "queue_managers": ["QM1", "QM2"],
                 "messaging_users": True}, **dict(server.cli_options(), **extra))


def restore_options(server, **extra) -> dict:
    key, cert = server.backup_credentials(PEM)
    return dict({"url": server.url, "ca_path": server.ca_path, "certificate_file": cert, "private_key_file": key},
                **dict(server.cli_options(), **extra))


def backup(keystore, tmp_path, server, **extra):
    return create_backup(keystore, "mq_appliance", options(server, **extra), online=True,
                         dest=str(tmp_path / "backups"), provider_secrets=SECRETS)


def test_queue_managers_and_messaging_users_come_back_after_the_secure_restore(live, mqa_second, tmp_path, keystore):
    made = backup(keystore, tmp_path, live)
    assert made["secure_backup"]["queue_managers"] == ["QM1", "QM2"] and made["secure_backup"]["messaging_users"]
    assert any("QM1" in warning and "running" in warning for warning in made["warnings"])
    parts = os.listdir(os.path.join(made["path"], "parts"))
    assert "queue-manager-QM1.bak" in parts and "messaging-users.bak" in parts
    assert made["backup"]["contentSummary"] == {"local_files": 1, "queue_managers": 2, "objects": {
        "CryptoCertificate": 1, "CryptoIdentCred": 0, "CryptoKey": 0}}
    listing = live.call("GET", "/mgmt/filestore/default/mqbackup/QMgrs")["filestore"]["location"]
    assert "file" not in listing  # the appliance's copies were removed

    mqa_second.create_afresh()
    mqa_second.reinitialize()
    mqa_second.mqcli("usercreate -u stale -g old -p Stale123")
    secrets = dict(SECRETS, restored_password="After restore 2")
    with pytest.raises(DrkitError, match="no backup file system .*backupfs_size"):
        restore_backup(Unlocker(keystore), made["path"], provider_options=restore_options(mqa_second),
                       provider_secrets=secrets)
    assert mqa_second.call("GET", "/mgmt/config/default/CryptoIdentCred") == {"result": "No configuration retrieved."}
    done = restore_backup(Unlocker(keystore), made["path"], provider_secrets=secrets, provider_options=restore_options(
        mqa_second, backupfs_size="1", restore_messaging_users=True))
    assert "restored queue manager QM1 with mqrestore" in done["actions"], done["actions"]
    assert "After restore 2" not in json.dumps(done) and ADMIN_PASSWORD not in json.dumps(done)
    qmgrs = mqa_second.state("queue-managers")
    assert sorted(qmgrs) == ["QM1", "QM2"] and "ORDERS" in qmgrs["QM1"]["queues"]
    assert sorted(mqa_second.state("mq-users")) == ["app1"]  # the backup's messaging users, and only those
    mqa_second.create_afresh()


def test_a_queue_manager_of_the_same_name_refuses_the_restore_before_anything_is_sent(
        live, mqa_second, tmp_path, keystore):
    made = backup(keystore, tmp_path, live, messaging_users=False)
    mqa_second.create_afresh()
    mqa_second.reinitialize()
    mqa_second.mqcli("crtmqm QM2")
    with pytest.raises(DrkitError, match="already has queue manager QM2"):
        restore_backup(Unlocker(keystore), made["path"], provider_secrets=SECRETS,
                       provider_options=restore_options(mqa_second, backupfs_size="1"))
    assert mqa_second.call("GET", "/mgmt/config/default/CryptoIdentCred") == {"result": "No configuration retrieved."}
    with pytest.raises(DrkitError, match="holds no messaging users"):
        restore_backup(Unlocker(keystore), made["path"], provider_secrets=SECRETS, provider_options=restore_options(
            mqa_second, backupfs_size="1", restore_queue_managers=False, restore_messaging_users=True))
    mqa_second.create_afresh()


def test_a_backup_names_what_it_cannot_do_before_the_secure_backup(live, tmp_path, keystore):
    with pytest.raises(InvalidInput, match="has no queue manager QM9 .it has QM1, QM2"):
        backup(keystore, tmp_path, live, queue_managers=["QM1", "QM9"])
    with pytest.raises(InvalidInput, match="letters, digits"):
        backup(keystore, tmp_path, live, queue_managers=["QM/1"])
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    with pytest.raises(InvalidInput, match="showed no login prompt .the session ended.: Host key verification failed"):
        backup(keystore, tmp_path, live, cli_host_key=other)
    cli = live.cli_options()
    with pytest.raises(CliError, match="refused the login of admin: check provider_secrets.password") as refused:
        with Session(live.address, live.ssh_port, "admin", "Wr0ng pass", cli["cli_host_key"], cli["cli_ssh_options"]):
            pass
    assert "Wr0ng" not in str(refused.value)
    assert live.call("GET", "/mgmt/filestore/default/temporary")["filestore"]["location"].get("directory") is None


def test_an_mqbackup_that_says_it_completed_and_wrote_nothing_writes_no_drkit_backup(live, tmp_path, keystore):
    with open(os.path.join(live.home, "state", "faults.json"), "w", encoding="utf-8") as out:
        json.dump({"mqbackup_writes_nothing": True}, out)
    with pytest.raises(DrkitError, match="said mqbackup -m QM1 completed and wrote no mqbackup:///QMgrs/.*no drkit"):
        backup(keystore, tmp_path, live)
    assert not os.path.exists(tmp_path / "backups") or not [
        name for name in os.listdir(tmp_path / "backups") if not name.startswith(".")]
    assert live.call("GET", "/mgmt/filestore/default/temporary")["filestore"]["location"].get("directory") is None


def test_a_drill_restores_the_queue_managers_and_compares_the_content_summary(live, mqa_second, tmp_path, keystore):
    made = backup(keystore, tmp_path, live, messaging_users=False)
    mqa_second.create_afresh()
    mqa_second.reinitialize()
    second = mqa_second.cli_options()
    drill_options = restore_options(live, drill_url=mqa_second.url, drill_ca_path=mqa_second.ca_path,
                                    drill_cli_host_key=second["cli_host_key"], backupfs_size="1",
                                    check_file="local:///app/qm.ini", cli_port=mqa_second.ssh_port,
                                    cli_ssh_options=second["cli_ssh_options"])
    drilled = drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "drill"), provider_options=drill_options,
                           provider_secrets=SECRETS, health_timeout=60, health_interval=0.2)["drill"]
    assert drilled["passed"], drilled["checks"]
    content = [step for step in drilled["checks"] if step["name"] == "content"][0]
    assert "holds what the backup says" in content["message"]
    assert sorted(mqa_second.state("queue-managers")) == ["QM1", "QM2"]
    assert sorted(live.state("queue-managers")) == ["QM1", "QM2"]  # the live appliance untouched
    mqa_second.create_afresh()
