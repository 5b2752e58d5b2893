# -*- coding: utf-8 -*-
"""Drills of IdM backups: restored onto a drill target (IdM installed, not configured) inside a network namespace of
its own, checked, uninstalled. Emulated servers (tests/emulators/freeipa) on real slapds; the namespace is real."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import netns
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from test_fresh_host import load_contract, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture
def idm(tmp_path, monkeypatch, keystore):
    """Live ipa2 (backed up) and its live peer ipa1, each with its own slapd; a drill target apart from them."""
    env = load_contract()(tmp_path, monkeypatch)
    cluster = os.path.join(env.work, "cluster.json")
    env.peer = os.path.join(env.work, "ipa1")
    run("ipa-emulator", "create", env.peer, "ipa1.example.test", cluster, os.path.join(env.work, "dm"))
    env.target = os.path.join(env.work, "target")
    run("ipa-emulator", "create", "--unconfigured", "--drill-target", env.target, "ipa2.example.test", cluster)
    env.contacts = os.path.join(env.work, "peer-contacts.jsonl")
    env.backup = create_backup(keystore, "freeipa", env.backup_options(), backup_type="full",
                               dest=os.path.join(env.work, "backups"))["path"]
    try:
        yield env
    finally:
        for root in (env.target, env.peer):
            run("ipa-emulator", "destroy", root, check=False)
        env.close()


def pid_of(root):
    with open(os.path.join(root, "run/slapd.pid")) as handle:
        return int(handle.read())


def contacts(env, root):
    if not os.path.exists(env.contacts):
        return []
    with open(env.contacts) as handle:
        return [record for record in map(json.loads, handle) if record["root"] == root]


def drill(env, keystore, monkeypatch, **kwargs):
    monkeypatch.setenv("IPA_EMULATOR_ROOT", env.target)  # the drill target's commands act on its own IdM
    return drill_backup(Unlocker(keystore), env.backup, os.path.join(env.work, "scratch"),
                        provider_options={"root": env.target}, provider_secrets={"dm_password": "DM-Secret-42"},
                        health_interval=0.2, **kwargs)["drill"]


def test_the_backup_counts_entries_per_suffix_and_the_users(idm, keystore):
    from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
    summary = open_backup(idm.backup).header().manifest["contentSummary"]
    assert summary["users"] == 2  # admin and alice
    assert sorted(summary["entries"]) == ["dc=example,dc=test", "o=ipaca"]
    assert all(count > 2 for count in summary["entries"].values())


def test_a_drill_restores_in_a_namespace_of_its_own_and_reaches_no_live_peer(idm, keystore, monkeypatch):
    live_pids = (pid_of(idm.root), pid_of(idm.peer))
    result = drill(idm, keystore, monkeypatch)
    assert result["passed"], result["checks"]
    assert [check["name"] for check in result["checks"]] == ["verify", "restore", "health", "directory", "content"]
    assert "users 2" in result["checks"][-1]["message"]
    assert result["torn_down"] and not os.path.exists(os.path.join(idm.work, "scratch"))
    # The drill target is unconfigured again, nothing of the drill runs any more, the live servers never stopped.
    status = run("ipactl", "status", check=False)
    assert status.returncode == 4 and b"IPA is not configured" in status.stdout
    assert not os.path.exists(os.path.join(idm.target, "etc/dirsrv")) and not os.path.exists(
        os.path.join(idm.target, "var/lib/dirsrv"))
    assert (pid_of(idm.root), pid_of(idm.peer)) == live_pids
    # The restored server's replication tried to reach its peer ipa1, from inside the namespace: nobody answered.
    tried = contacts(idm, idm.target)
    assert [record["to"] for record in tried] == ["ipa1.example.test"]
    assert not any(record["reached"] for record in tried)


def test_the_same_restore_outside_a_namespace_does_reach_the_peer(idm, keystore, monkeypatch):
    # What the drill's namespace keeps from happening: a restore of the live server reaches ipa1 (ipa-restore
    # disables ipa1's agreement, then the restored directory replicates to it). The record shows it.
    restore_backup(Unlocker(keystore), idm.backup, provider_options={"root": idm.root},
                   provider_secrets={"dm_password": "DM-Secret-42"})
    tried = contacts(idm, idm.root)
    assert tried and all(record["reached"] and record["to"] == "ipa1.example.test" for record in tried)


def test_a_restore_that_says_it_worked_and_left_a_suffix_out_fails_the_checks(idm, keystore, monkeypatch):
    monkeypatch.setenv("IPA_EMULATOR_FAIL", "skip-ipaca")
    result = drill(idm, keystore, monkeypatch)
    assert not result["passed"]
    failed = {check["name"]: check["message"] for check in result["checks"] if not check["passed"]}
    assert sorted(failed) == ["content", "directory"]
    assert "suffix o=ipaca is empty" in failed["directory"]
    assert "entries o=ipaca: the backup holds" in failed["content"] and "the restored instance 0" in failed["content"]
    assert result["torn_down"]
    assert run("ipactl", "status", check=False).returncode == 4


def test_a_configured_server_is_never_a_drill_target(idm, keystore, monkeypatch):
    live_pid = pid_of(idm.root)
    monkeypatch.setenv("IPA_EMULATOR_ROOT", idm.root)
    with pytest.raises(InvalidInput, match="IdM is configured on this host .* runs only on a drill target"):
        drill_backup(Unlocker(keystore), idm.backup, os.path.join(idm.work, "scratch"),
                     provider_options={"root": idm.root}, provider_secrets={"dm_password": "DM-Secret-42"})
    assert pid_of(idm.root) == live_pid and not os.path.exists(os.path.join(idm.work, "scratch"))
    assert b"User login: alice" in run("ipa", "user-show", "alice").stdout


def test_a_killed_drill_is_torn_down_by_the_next(idm, keystore, monkeypatch):
    # A drill killed after its restore leaves its namespace, a slapd running in it and the scratch marker: the next
    # drill stops that slapd, unbinds the namespace and drills again.
    scratch = os.path.join(idm.work, "scratch")
    os.makedirs(scratch)
    with open(os.path.join(scratch, ".drkit-drill"), "w"):
        pass
    netns.create(os.path.join(scratch, "netns"))
    daemon = int(subprocess.run(netns.inside(os.path.join(scratch, "netns"), ["sh", "-c", "sleep 300 >/dev/null & echo $!"]),
                                stdout=subprocess.PIPE, check=True).stdout)
    try:
        result = drill(idm, keystore, monkeypatch)
        assert result["passed"], result["checks"]
        assert not os.path.exists("/proc/%d/ns" % daemon)
    finally:
        subprocess.run(["kill", "-9", str(daemon)], check=False, stderr=subprocess.DEVNULL)


def test_without_the_directory_manager_password_the_checks_say_what_is_missing(idm, keystore, monkeypatch):
    monkeypatch.setenv("IPA_EMULATOR_ROOT", idm.target)
    result = drill_backup(Unlocker(keystore), idm.backup, os.path.join(idm.work, "scratch"),
                          provider_options={"root": idm.target}, health_interval=0.2)["drill"]
    failed = [check for check in result["checks"] if not check["passed"]]
    assert [check["name"] for check in failed] == ["directory", "content"]
    assert all("needs the Directory Manager password" in check["message"] for check in failed)
    assert result["torn_down"] and run("ipactl", "status", check=False).returncode == 4
