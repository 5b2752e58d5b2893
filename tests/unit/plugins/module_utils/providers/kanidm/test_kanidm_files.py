# -*- coding: utf-8 -*-
"""What the kanidm provider (not registered yet: its emulator comes next) reads and writes itself: server.toml and
kanidmd's backup files; and drkit.backup.kanidm_online_backup's edit of server.toml."""

from __future__ import annotations

import gzip
import json
import os
import tomllib

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations import kanidm
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm import cli, config

SERVER_TOML = '''# Kanidm's example, shortened
version = "2"
bindaddress = ["[::]:8443", "127.0.0.1:8444"]
domain = "idm.example.com"
origin = "https://idm.example.com"   # the user-facing URL
db_path = "/var/lib/private/kanidm/kanidm.db"
tls_chain = "/data/chain.pem"
tls_key = '/data/key.pem'

[online_backup]
# kanidmd writes them here
path = "/var/lib/private/kanidm/backups/"
schedule = "00 22 * * *"
versions = 7

[replication]
origin = "repl://idm1.example.com:8444"
bindaddress = "[::]:8444"

[replication."repl://idm2.example.com:8444"]
type = "mutual-pull"
partner_cert = "M...g"
'''


def test_the_reader_for_older_pythons_reads_a_server_toml_as_tomllib_does():
    assert config._parse(SERVER_TOML) == tomllib.loads(SERVER_TOML)


def test_the_reader_for_older_pythons_refuses_what_it_cannot_read_by_line():
    with pytest.raises(ValueError, match="line 2: .* not 1979-05-27"):
        config._parse('a = 1\nwhen = 1979-05-27\n')


def test_what_the_provider_reads_of_server_toml(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(SERVER_TOML)
    read = config.ServerConfig(str(path))
    assert read.bindaddress() == "[::]:8443" and read.compressed()
    assert read.online_backup_dir() == "/var/lib/private/kanidm/backups"
    assert read.peers() == ["repl://idm2.example.com:8444"]


def test_online_backup_table_is_replaced_added_and_removed_leaving_every_other_line():
    values = {"schedule": "@daily", "versions": 3, "compression": "none", "enabled": True}
    replaced = config.with_table(SERVER_TOML, "online_backup", values)
    assert tomllib.loads(replaced)["online_backup"] == values
    assert replaced.replace('schedule = "@daily"\nversions = 3\ncompression = "none"\nenabled = true\n', "") == \
        SERVER_TOML.replace('# kanidmd writes them here\npath = "/var/lib/private/kanidm/backups/"\n'
                            'schedule = "00 22 * * *"\nversions = 7\n', "")
    assert config.with_table(replaced, "online_backup", values) == replaced  # idempotent
    removed = config.with_table(SERVER_TOML, "online_backup", None)
    assert "online_backup" not in tomllib.loads(removed) and tomllib.loads(removed)["replication"]
    added = config.with_table(removed, "online_backup", values)
    assert tomllib.loads(added)["online_backup"] == values and added.startswith(removed)


def test_a_top_key_is_set_in_place(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(SERVER_TOML)
    assert config.set_top_key(str(path), "origin", "https://idm-new.example.com:8443")
    assert not config.set_top_key(str(path), "origin", "https://idm-new.example.com:8443")
    values = tomllib.loads(path.read_text())
    assert values["origin"] == "https://idm-new.example.com:8443" and values["replication"]["origin"] == \
        "repl://idm1.example.com:8444"


def entry(*classes, name="x"):
    return {"ent": {"V3": {"changestate": {}, "attrs": {"class": {"I8": list(classes)}, "name": {"N8": [name]}}}}}


def test_a_backup_file_is_read_whatever_its_compression_and_deleted_entries_are_not_counted(tmp_path):
    backup = {"version": "1.11", "db_s_uuid": "s", "db_d_uuid": "d", "db_ts_max": {"secs": 1, "nanos": 0},
              "keyhandles": {}, "repl_meta": {}, "entries": [
                  entry("object", "account", "person", name="alice"), entry("object", "group", name="staff"),
                  entry("object", "person", "recycled", name="gone"), entry("object", "system_info")]}
    plain, packed = tmp_path / "b.json", tmp_path / "b.json.gz"
    plain.write_text(json.dumps(backup))
    packed.write_bytes(gzip.compress(json.dumps(backup).encode()))
    for path, compressed in ((plain, False), (packed, True)):
        held = cli.read(str(path))
        assert held == {"series": "1.11", "compressed": compressed,
                        "counts": {"entries": 3, "persons": 1, "groups": 1}}


def test_a_file_that_is_no_backup_is_named(tmp_path):
    broken = tmp_path / "backup.json.gz"
    broken.write_bytes(gzip.compress(b"{\"version\": \"1.11\", \"entr")[:30])
    with pytest.raises(cli.KanidmError, match="backup.json.gz is not a kanidmd backup .gzip-compressed"):
        cli.read(str(broken))


def test_releases_and_their_series():
    assert cli.series("1.11.1") == "1.11" and cli.series("1.1.0-alpha.8") == "1.1"
    assert cli.release_tuple("1.1.0-alpha.8") < (1, 1, 0, 9) <= cli.release_tuple("1.1.0-alpha.9")
    assert cli.release_tuple("1.1.0") > cli.release_tuple("1.1.0-rc.15")


def test_online_backup_writes_the_table_once_and_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(SERVER_TOML)
    path.chmod(0o640)
    asked = dict(config_path=str(path), schedule="@daily", versions=3, compression="none", validate=False)

    planned = kanidm.online_backup(check_mode=True, **asked)
    assert planned["changed"] and path.read_text() == SERVER_TOML
    assert 'schedule = "@daily"' in planned["diff"]["after"]

    done = kanidm.online_backup(**asked)
    assert done["changed"] and "restart kanidmd" in done["msg"]
    assert tomllib.loads(path.read_text())["online_backup"] == {
        "schedule": "@daily", "versions": 3, "compression": "none", "enabled": True}
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert not kanidm.online_backup(**asked)["changed"]  # idempotent

    removed = kanidm.online_backup(config_path=str(path), state="absent", validate=False)
    assert removed["changed"] and "online_backup" not in tomllib.loads(path.read_text())
    assert [name for name in os.listdir(tmp_path) if name != "server.toml"] == []  # no candidate left behind


def test_online_backup_without_a_schedule_is_refused_before_the_file_is_touched(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(SERVER_TOML)
    with pytest.raises(InvalidInput, match="schedule is required"):
        kanidm.online_backup(config_path=str(path), validate=False)
    assert path.read_text() == SERVER_TOML


def test_a_drill_drops_every_replication_table_and_a_top_key_can_be_removed(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text(SERVER_TOML)
    text = config.without_tables(config.without_tables(SERVER_TOML, "replication"), "online_backup")
    assert set(tomllib.loads(text)) == {"version", "bindaddress", "domain", "origin", "db_path", "tls_chain",
                                        "tls_key"}
    assert config.set_top_key(str(path), "bindaddress", "127.0.0.1:18443")
    assert config.set_top_key(str(path), "tls_key", None) and not config.set_top_key(str(path), "tls_key", None)
    values = tomllib.loads(path.read_text())
    assert values["bindaddress"] == "127.0.0.1:18443" and "tls_key" not in values


def test_the_provider_declares_its_options_as_every_provider_does():
    from ansible_collections.drkit.backup.plugins.module_utils.providers import options as option_spec
    from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm.provider import KanidmProvider
    option_spec.check_spec("kanidm", KanidmProvider.OPTIONS)
    facts = KanidmProvider.facts()
    assert facts["kind"] == "parts" and {"type": "full", "online": True} in facts["supports"]
    assert "check_password" not in facts["restore_options"]
