# -*- coding: utf-8 -*-
"""A bare-metal restore of IdM: a full backup restored onto a replacement host whose IdM is not configured
(tests/emulators/freeipa ``ipa-emulator create --unconfigured``), with no Directory Manager password."""

from __future__ import annotations

import importlib.util
import os
import subprocess

from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

HERE = os.path.dirname(os.path.abspath(__file__))


def load_contract():
    spec = importlib.util.spec_from_file_location("contract_freeipa_fresh", os.path.join(HERE, "contract.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Contract


def run(*argv, check=True):
    return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=check)


def test_a_full_backup_restores_onto_an_unconfigured_replacement_host(tmp_path, monkeypatch, keystore):
    env = load_contract()(tmp_path, monkeypatch)
    try:
        made = create_backup(keystore, "freeipa", env.backup_options(), backup_type="full", dest=str(tmp_path / "b"))
        run("ipa-emulator", "destroy", env.root)
        # The replacement gets another root and slapd port than the lost server: the restored files name the
        # old ones, which the emulator's ipa-restore points at the new root.
        fresh = os.path.join(env.work, "ipa2-replacement")
        monkeypatch.setenv("IPA_EMULATOR_ROOT", fresh)
        cluster = os.path.join(env.work, "cluster.json")
        run("ipa-emulator", "create", "--unconfigured", fresh, "ipa2.example.test", cluster)
        status = run("ipactl", "status", check=False)
        assert status.returncode == 4 and b"IPA is not configured" in status.stdout
        backup = run("ipa-backup", check=False)
        assert backup.returncode == 2 and b"IPA is not configured on this system." in backup.stdout
        assert run("ipa", "user-show", "alice", check=False).returncode == 1

        done = restore_backup(Unlocker(keystore), made["path"], provider_options={"root": fresh})
        assert done["changed"]
        assert run("ipactl", "status", check=False).returncode == 0
        assert b"User login: alice" in run("ipa", "user-show", "alice").stdout
        with open(os.path.join(fresh, "etc/dirsrv/slapd-EXAMPLE-TEST/slapd.conf")) as handle:
            assert env.root + "/" not in handle.read()
    finally:
        run("ipa-emulator", "destroy", os.environ["IPA_EMULATOR_ROOT"], check=False)
        env.close()
