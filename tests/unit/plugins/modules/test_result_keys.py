# -*- coding: utf-8 -*-
"""No module result key that Ansible reads itself: a result ``skipped: [...]`` marks the task skipped, and
``failed: [...]`` is overwritten by fail_json's ``failed: True``.

Two checks: the top-level keys each module documents in RETURN, and the top-level keys each operation (the
function a module hands to ``_module.run``) really returns, for every operation, on a small backup root.
"""

from __future__ import annotations

import ast
import os
import pathlib

import pytest
import yaml

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import PartialFailure
from ansible_collections.drkit.backup.plugins.module_utils.operations import (
    backup, delete, drill, drill_report, freeipa, info, kanidm, keys, lease, pack, pin, prune, rekey, restore, services,
    stages, verify)
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa import cli, topology

MODULES = pathlib.Path(__file__).parents[4] / "plugins" / "modules"

# Keys Ansible gives a meaning of its own in a task's result (task_result.py, vars/clean.py, the callbacks,
# loops, async, until/retries, no_log), and any key starting with ansible_ or _ansible_.
RESERVED = {
    "skipped", "changed", "failed", "msg", "invocation", "ansible_facts", "ansible_stats", "rc", "stdout",
    "stderr", "stdout_lines", "stderr_lines", "results", "exception", "warnings", "deprecations", "diff",
    "unreachable", "censored", "attempts", "retries", "failed_when_result", "changed_when_result",
    "module_stdout", "module_stderr", "parsed", "add_host", "add_group", "item", "ansible_job_id", "started",
    "finished", "results_file",
}
RESERVED_PREFIXES = ("_ansible_", "ansible_")

DIFF_KEYS = {"before", "after", "before_header", "after_header", "prepared"}

# The reserved keys an operation may return, because it means by them what Ansible means, with that meaning
# checked. None of them is a RETURN entry: Ansible documents them for every module.
ALLOWED = {
    "changed": lambda value: isinstance(value, bool),  # whether the task changed the host
    "msg": lambda value: isinstance(value, str),  # a sentence for the operator (check mode, nothing to do)
    # --diff: before/after (with their headers) or a prepared text
    "diff": lambda value: isinstance(value, dict) and set(value) <= DIFF_KEYS,
    # not in the module's result at all: _module.run hands them to module.warn()
    "warnings": lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
}


def reserved(key: str) -> bool:
    return key in RESERVED or key.startswith(RESERVED_PREFIXES)


def module_source(name: str) -> ast.Module:
    return ast.parse((MODULES / ("%s.py" % name)).read_text())


def return_keys(name: str) -> list:
    for node in module_source(name).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "RETURN" for target in node.targets):
            return sorted(yaml.safe_load(node.value.value) or {})
    raise AssertionError("module %s has no RETURN" % name)


def operations_of(name: str) -> list:
    """The operations (``prune.prune_backups``) a module passes to ``_module.run``."""
    found = []
    for node in ast.walk(module_source(name)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
                and getattr(node.func.value, "id", None) == "_module" and len(node.args) >= 2
                and isinstance(node.args[1], ast.Attribute)):
            found.append("%s.%s" % (node.args[1].value.id, node.args[1].attr))
    return found


MODULE_NAMES = sorted(path.stem for path in MODULES.glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_return_documents_no_key_ansible_reserves(name):
    offending = [key for key in return_keys(name) if reserved(key)]
    assert offending == [], "%s documents result keys Ansible reads itself: %s" % (name, offending)


def offending_keys(result: dict) -> list:
    return sorted(key for key, value in result.items()
                  if reserved(key) and not (key in ALLOWED and ALLOWED[key](value)))


# --- every operation, run once or a few times on a small backup root -------------------------

ROLE_FIND = """  Server name: idm1.example.com
  Role name: CA server
  Role status: enabled

  Server name: idm2.example.com
  Role name: CA server
  Role status: hidden
"""
SEGMENTS = """  Segment name: idm1-to-idm2
  Left node: idm1.example.com
  Right node: idm2.example.com
"""


def fake_ipa(args, ccache=None, timeout=None, check=True):
    """The ``ipa`` client of a two-server topology: server-role-find, topologysegment-find, server-state."""
    output = {"server-role-find": ROLE_FIND, "topologysegment-find": SEGMENTS}.get(args[0], "")
    return output if check else (0, output)


def scenario(tmp_path, store):
    """(operation, result) for each operation, through the paths that shape a result differently."""
    data = tmp_path / "data"
    (data / "conf").mkdir(parents=True)
    (data / "conf" / "app.conf").write_text("listen = 127.0.0.1\n")
    root, target = str(tmp_path / "b"), tmp_path / "target"
    options = {"paths": [str(data)]}
    commands = dict(stop_command="true {service}", start_command="true {service}")
    unlocker = Unlocker(store)

    yield "backup.create_backup", backup.create_backup(store, "files", options, dest=root, check_mode=True)
    made = backup.create_backup(store, "files", options, dest=root)
    yield "backup.create_backup", made
    yield "backup.create_backup", backup.create_backup(store, "files", options, dest=root, max_age=3600)
    offline = dict(options, services=["db"])
    yield "backup.create_backup", backup.create_backup(store, "files", offline, dest=root, stage="capture",
                                                       check_mode=True, **commands)
    captured = backup.create_backup(store, "files", offline, dest=root, stage="capture", **commands)
    yield "backup.create_backup", captured
    yield "stages.seal_backup", stages.seal_backup(captured["capture"], check_mode=True)
    sealed = stages.seal_backup(captured["capture"])
    yield "stages.seal_backup", sealed
    yield "stages.seal_backup", stages.seal_backup(captured["capture"], dest=root)

    yield "info.backup_info", info.backup_info(root)
    yield "info.backup_info", info.backup_info(made["path"], "full", unlocker)
    yield "info.backup_info", info.backup_info(root, state_dir=str(tmp_path / "state"))
    yield "verify.verify_backups", verify.verify_backups(made["path"], "full", unlocker, check_mode=True)
    yield "verify.verify_backups", verify.verify_backups(made["path"], "checksum")
    taken = lease.control_lease(holder="test", purpose="result keys", state_dir=str(tmp_path / "lease-state"))
    yield "lease.control_lease", taken
    yield "lease.control_lease", lease.control_lease("absent", lease_id=taken["lease"]["id"],
                                                     state_dir=str(tmp_path / "lease-state"))
    pinned = pin.control_pin(made["path"], holder="test", purpose="result keys", state_dir=str(tmp_path / "pin-state"))
    yield "pin.control_pin", pinned
    yield "pin.control_pin", pin.control_pin(made["path"], "absent", pin_id=pinned["pin"]["id"],
                                             state_dir=str(tmp_path / "pin-state"))
    yield "pack.pack_backup", pack.pack_backup(made["path"], str(tmp_path / "packed"), check_mode=True)
    yield "pack.pack_backup", pack.pack_backup(made["path"], str(tmp_path / "packed"))
    yield "restore.restore_backup", restore.restore_backup(unlocker, made["path"], check_mode=True,
                                                           provider_options={"target_root": str(target)})
    yield "restore.restore_backup", restore.restore_backup(unlocker, made["path"],
                                                           provider_options={"target_root": str(target)})
    yield "drill.drill_backup", drill.drill_backup(unlocker, made["path"], str(tmp_path / "drill"), check_mode=True)
    drilled = drill.drill_backup(unlocker, made["path"], str(tmp_path / "drill"))
    yield "drill.drill_backup", drilled
    drilled_groups = [{"group": "files", "host": "h1", "rpo": "26h", "rto": "15m", "drill": drilled["drill"]},
                      {"group": "other", "host": "h2", "rpo": "26h", "rto": "15m", "error": "no verified backup"}]
    reports = str(tmp_path / "reports")
    yield "drill_report.write_reports", drill_report.write_reports(drilled_groups, reports, check_mode=True)
    yield "drill_report.write_reports", drill_report.write_reports(drilled_groups, reports)

    yield "rekey.rekey", rekey.rekey(unlocker, made["path"], [store.keys()[0].id])
    try:
        rekey.rekey(unlocker, made["path"], [])  # no key at all: refused, and the module fails
    except PartialFailure as exc:
        yield "rekey.rekey", dict(exc.result)  # what fail_json reports beside failed and msg
    else:
        raise AssertionError("a rekey to no key at all did not fail")

    backup.create_backup(store, "files", options, dest=root)  # a newer one, so that prune removes ``made``
    os.mkdir(os.path.join(root, ".files-full-2020-01-01-00-00-00.partial"))  # never pruned, and listed so
    yield "prune.prune_backups", prune.prune_backups(root, keep_last=1, check_mode=True)
    yield "prune.prune_backups", prune.prune_backups(root, keep_last=1)
    name = os.path.basename(sealed["path"])
    yield "delete.delete_backup", delete.delete_backup(root, name, check_mode=True)
    yield "delete.delete_backup", delete.delete_backup(root, name)
    yield "delete.delete_backup", delete.delete_backup(root, name)

    path, key_file = store.path, str(tmp_path / "main.key")
    yield "keys.key_info", keys.key_info(path)
    yield "keys.key_present", keys.key_present(path, name="other", check_mode=True)
    yield "keys.key_present", keys.key_present(path, name="other")
    yield "keys.key_download", keys.key_download(path, key_file, "a long password for the test", name="other")
    yield "keys.key_info", keys.key_info(path, file=key_file)
    yield "keys.key_absent", keys.key_absent(path, name="other", backup_roots=(root,))
    yield "keys.key_absent", keys.key_absent(path, name="other", backup_roots=(root,))
    yield "keys.key_upload", keys.key_upload(path, key_file, "a long password for the test")

    yield "services.control_services", services.control_services("stopped", ["db"], check_mode=True, **commands)
    yield "services.control_services", services.control_services("stopped", ["db"], **commands)
    yield "services.control_services", services.control_services("started", **commands)
    yield "services.control_services", services.control_services("started", **commands)

    yield "freeipa.list_native_backups", freeipa.list_native_backups(str(tmp_path / "ipa-backups"))
    yield "freeipa.topology_info", freeipa.topology_info(select="hidden", reinitialize_from="idm1.example.com")
    yield "freeipa.server_state", freeipa.server_state("idm1.example.com", "hidden", check_mode=True)
    yield "freeipa.server_state", freeipa.server_state("idm2.example.com", "hidden")
    yield "freeipa.reinitialize", freeipa.reinitialize("idm1.example.com", "domain", "DM-pass", check_mode=True)

    server_toml = tmp_path / "server.toml"
    server_toml.write_text('domain = "idm.example.com"\n')
    yield "kanidm.online_backup", kanidm.online_backup(str(server_toml), schedule="@daily", validate=False)


def test_no_operation_returns_a_key_ansible_reserves(tmp_path, keystore, monkeypatch):
    monkeypatch.setattr(cli, "ipa", fake_ipa)
    monkeypatch.setattr(topology, "ipa", fake_ipa)
    offending, seen = {}, set()
    for operation, result in scenario(tmp_path, keystore):
        seen.add(operation)
        for key in offending_keys(result):
            offending.setdefault(operation, set()).add(key)
    assert offending == {}, "results with keys Ansible reads itself: %s" % offending
    modules = {operation: name for name in MODULE_NAMES for operation in operations_of(name)}
    assert set(modules) - seen == set(), "operations of modules this test never runs: add them to scenario()"


def test_the_check_finds_what_it_is_for():
    assert offending_keys({"changed": True, "skipped": [{"name": "x"}]}) == ["skipped"]
    assert offending_keys({"changed": False, "failed": []}) == ["failed"]
    assert offending_keys({"changed": "yes", "diff": {"old": 1}, "ansible_facts": {}, "_ansible_no_log": 1}) == [
        "_ansible_no_log", "ansible_facts", "changed", "diff"]
    assert offending_keys({"changed": False, "msg": "nothing to do", "diff": {"before": {}, "after": {}},
                           "warnings": ["w"], "never_pruned": []}) == []
    assert operations_of("backup_prune") == ["prune.prune_backups"]
    assert "never_pruned" in return_keys("backup_prune")
