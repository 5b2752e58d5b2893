# -*- coding: utf-8 -*-
"""Every module given bad parameters: wrong types, missing combinations, paths that do not exist or
cannot be written, a key of the wrong scope, a backup of another product. Each gets one clear ``msg``,
never a traceback, and changes nothing."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys


def run_module(name, args):
    """Runs drkit.backup.<name> in this process; returns its JSON result."""
    module = importlib.import_module("ansible_collections.drkit.backup.plugins.modules.%s" % name)
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A keystore with a system and a domain key, a files backup, a file that is not a directory."""
    base = tmp_path_factory.mktemp("bad-input")
    store = keys.Keystore(str(base / "keys"))
    system = keys.BackupKey.generate("main", "system", None)
    domain = keys.BackupKey.generate("fin", "domain", "finance")
    for key in (system, domain):
        store.add(key)
    store.set_default(system, True)
    (base / "data").mkdir()
    (base / "data" / "f.txt").write_text("x\n")
    made = create_backup(store, "files", {"paths": [str(base / "data")]}, dest=str(base / "backups"))
    (base / "a-file").write_text("not a directory\n")
    (base / "not-a-key").write_text("hello\n")
    return {"base": str(base), "keystore": str(base / "keys"), "system": system.id, "domain": domain.id,
            "backup": made["path"], "data": str(base / "data")}


def cases(w):
    """(module, args, words the message must contain)."""
    ks = {"keystore": w["keystore"]}
    files = {"provider": "files", "provider_options": {"paths": [w["data"]]}, "dest": w["base"] + "/b2"}
    missing = w["base"] + "/does/not/exist"
    return [
        ("backup", dict(files, type="incremental", **ks), ["type", "one of"]),
        ("backup", dict(files, online="sometimes", **ks), ["online", "bool"]),
        ("backup", dict(files, compression_level="high", **ks), ["compression_level", "int"]),
        ("backup", dict(files, compression_level=42, **ks), ["compression_level", "between 0 and 19"]),
        ("backup", dict(files, provider_options="paths", **ks), ["provider_options", "dict"]),
        ("backup", dict(files, max_age="a while", **ks), ["max_age", "not a duration"]),
        ("backup", dict(state="absent", **ks), ["name"]),
        ("backup", dict({k: v for k, v in files.items() if k != "provider"}, **ks), ["provider"]),
        ("backup", dict(files, provider="oracle", **ks), ["unknown provider", "oracle"]),
        ("backup", dict(files, provider_options={}, **ks), ["paths"]),
        ("backup", dict(files, provider_options={"paths": [missing]}, **ks), ["does not exist"]),
        ("backup", dict(files, provider_options={"paths": ["relative"]}, **ks), ["must be absolute"]),
        ("backup", dict(files, dest=w["base"] + "/a-file", **ks), ["not a directory"]),
        ("backup", dict(files, type="data", **ks), ["full backups only"]),
        ("backup", dict(files, encryption="none", key_id=w["system"], **ks), ["encryption none", "key_id"]),
        ("backup", dict(files, encryption="gpg", **ks), ["gpg_recipients"]),
        ("backup", dict(files, key_id=w["domain"], **ks), ["domain finance", "cannot encrypt a system backup"]),
        ("backup", dict(files, key_id="not-a-uuid", **ks), ["not a backup key id"]),
        ("backup", dict(files, key_id="5dac1d33-9c2d-4fc1-9793-961052d73a29", **ks), ["not in keystore"]),
        ("backup", dict(files, scope="domain", **ks), ["domain name"]),
        ("backup", dict(files, keystore=w["base"] + "/empty-keys"), ["no default backup key"]),
        ("backup", dict(files, tied_to_hsm=True, **ks), ["tied_to_hsm needs hsm"]),
        ("backup", dict(files, signing_certificate=missing, **ks), ["signing needs both"]),
        ("backup", dict(files, signing_certificate=missing, signing_key=missing, **ks), ["cannot read"]),
        ("backup", dict(files, provider_options={"paths": [w["data"]], "services": "ldap"}, **ks), ["services"]),
        ("backup", dict(files, stop_command="systemctl stop", **ks), ["{service}"]),
        ("backup_info", dict(path=missing, **ks), ["does not exist"]),
        ("backup_info", dict(path=w["backup"], verify="deep", **ks), ["verify", "one of"]),
        ("backup_info", dict(path=w["backup"], verify="checksum", trusted_certificates=[missing], **ks),
         ["cannot read"]),
        ("backup_info", dict(path=w["base"] + "/a-file", **ks), ["not a single-file backup"]),
        ("restore", dict(**ks), ["backup"]),
        ("restore", dict(backup=missing, **ks), ["does not exist"]),
        ("restore", dict(backup=w["backup"], provider="freeipa", **ks), ["taken by provider files"]),
        ("restore", dict(backup=w["backup"], parts=["nope"], **ks), ["has no part"]),
        ("restore", dict(backup=w["backup"], parts="all", **ks), ["has no part 'all'"]),
        ("restore", dict(backup=w["backup"], keystore=w["base"] + "/empty-keys"), ["not in keystore"]),
        ("restore", dict(backup=w["backup"], provider_options={"target_root": w["base"] + "/a-file"}, **ks),
         ["not a directory"]),
        ("restore", dict(backup=w["backup"], hsm={"pin": "1"}, **ks), ["module"]),
        ("backup_key", dict(**ks), ["one of the following", "name", "id"]),
        ("backup_key", dict(name="x", scope="galaxy", **ks), ["scope", "one of"]),
        ("backup_key", dict(name="x", scope="domain", **ks), ["domain name"]),
        ("backup_key", dict(name="x", default="perhaps", **ks), ["default", "bool"]),
        ("backup_key", dict(id="5dac1d33-9c2d-4fc1-9793-961052d73a29", **ks), ["not in keystore"]),
        ("backup_key", dict(name="main", scope="domain", domain="hr", **ks), ["already exists in the system scope"]),
        ("backup_key", dict(id=w["system"], state="absent", backup_roots=[w["base"] + "/backups"], **ks),
         ["only key"]),
        ("backup_key", dict(name="x", keystore=w["base"] + "/a-file"), ["not a directory"]),
        ("backup_key_download", dict(name="main", dest=w["base"] + "/k", **ks), ["password"]),
        ("backup_key_download", dict(name="main", dest=w["base"] + "/k", password="short", **ks), ["at least 8"]),
        ("backup_key_download", dict(name="main", id=w["system"], dest=w["base"] + "/k", password="longenough", **ks),
         ["mutually exclusive"]),
        ("backup_key_download", dict(name="nobody", dest=w["base"] + "/k", password="longenough", **ks),
         ["not in keystore"]),
        ("backup_key_download", dict(name="main", dest=missing + "/k", password="longenough", **ks),
         ["No such file or directory"]),
        ("backup_key_upload", dict(src=missing, password="longenough", **ks), ["does not exist"]),
        ("backup_key_upload", dict(src=w["base"] + "/not-a-key", password="longenough", **ks), ["not valid JSON"]),
        ("backup_key_upload", dict(src=w["base"], password="longenough", **ks), ["directory"]),
        ("backup_key_info", dict(file=w["base"] + "/not-a-key"), ["not valid JSON"]),
        ("backup_pack", dict(src=missing, dest=w["base"]), ["does not exist"]),
        ("backup_pack", dict(src=w["data"], dest=w["base"]), ["no header.json"]),
        ("backup_pack", dict(src=w["backup"], dest=w["base"] + "/a-file/x"), ["Not a directory"]),
        ("backup_rekey", dict(path=w["backup"], key_ids=[w["domain"]], **ks), ["cannot encrypt a system backup"]),
        ("backup_rekey", dict(path=w["backup"], **ks), ["no way to open it"]),
        ("backup_rekey", dict(path=missing, key_ids=[w["system"]], **ks), ["does not exist"]),
    ]


def test_each_bad_input_gets_one_clear_message(world, tally):
    before = sorted(os.listdir(world["base"]))
    for module, args, words in cases(world):
        result = run_module(module, args)
        tally["bad inputs tried"] += 1
        assert result.get("failed"), "%s %s did not fail: %s" % (module, args, result)
        msg = result.get("msg", "")
        assert "Traceback" not in json.dumps(result) and "exception" not in result, (module, args, result)
        for word in words:
            assert word.lower() in msg.lower(), "%s %s: %r lacks %r" % (module, args, msg, word)
        tally["bad inputs with a clear message"] += 1
    assert sorted(os.listdir(world["base"])) == before  # nothing was written by any failure
