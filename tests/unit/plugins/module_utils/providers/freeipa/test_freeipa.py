# -*- coding: utf-8 -*-
"""The freeipa provider without a server: header parsing, option rules, restore checks, topology logic."""

from __future__ import annotations

import datetime
import os
import stat

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa import (
    cli, native as ipa_native, provider as freeipa_provider, topology)

HEADER = """[ipa]
type = FULL
time = 2026-01-14T11:26:06
host = idm2.example.com
ipa_version = 4.12.2
version = 1
services = ADTRUST,CA,DNS,DNSKeySync,EXTID,HTTP,KDC,KEYS,KPASSWD,KRA,OTPD
"""


# --- the native header ------------------------------------------------------------------

def test_header_is_read_into_typed_fields():
    header = ipa_native.parse_header(HEADER, "header")
    assert header["type"] == "FULL"
    assert header["time"] == datetime.datetime(2026, 1, 14, 11, 26, 6, tzinfo=datetime.timezone.utc)
    assert header["host"] == "idm2.example.com"
    assert header["ipa_version"] == "4.12.2"
    assert header["version"] == "1"
    assert "KDC" in header["services"]
    assert ipa_native.roles_of(header["services"]) == ["CA", "KRA", "DNS", "DNSKeySync", "ADTRUST"]


def test_header_without_roles_has_none():
    header = ipa_native.parse_header(HEADER.replace("ADTRUST,CA,DNS,DNSKeySync,EXTID,", "").replace(",KRA", ""), "h")
    assert ipa_native.roles_of(header["services"]) == []


@pytest.mark.parametrize("text, message", [
    ("not an ini file", "is not an ipa-backup header"),
    ("[other]\ntype = FULL\n", "has no \\[ipa\\] section"),
    (HEADER.replace("host = idm2.example.com\n", ""), "lacks host"),
    (HEADER.replace("type = FULL", "type = SOME"), "has type 'SOME'"),
    (HEADER.replace("2026-01-14T11:26:06", "yesterday"), "has time 'yesterday'"),
])
def test_a_bad_header_is_refused_with_what_is_wrong(text, message):
    with pytest.raises(FormatError, match=message):
        ipa_native.parse_header(text, "header of ipa-full-x")


# --- ipa-backup's option rules ----------------------------------------------------------

def test_online_needs_type_data():
    with pytest.raises(InvalidInput, match="online FreeIPA backup must be of type data"):
        cli.check_backup_options("full", True, {})
    cli.check_backup_options("data", True, {})


def test_data_with_logs_is_refused():
    with pytest.raises(InvalidInput, match="logs cannot go with type data"):
        cli.check_backup_options("data", False, {"logs": True})
    cli.check_backup_options("full", False, {"logs": True})


def test_backup_argv_passes_only_what_was_asked():
    assert cli.backup_argv("full", False, {}) == ["ipa-backup"]
    assert cli.backup_argv("data", True, {"gpg": True}) == ["ipa-backup", "--data", "--online", "--gpg"]
    assert cli.backup_argv("full", False, {"logs": True, "disable_role_check": True}) == [
        "ipa-backup", "--logs", "--disable-role-check"]
    assert "--disable-role-check" not in cli.backup_argv("full", False, {"disable_role_check": False})


def test_provider_rules_come_before_anything_runs(tmp_path):
    provider = get_provider("freeipa", {"root": str(tmp_path)})
    with pytest.raises(InvalidInput, match="must be of type data"):
        provider.check_backup("full", True)
    with pytest.raises(InvalidInput, match="IdM is not configured on this host"):
        provider.check_backup("full", False)


@pytest.mark.parametrize("options, message", [
    ({"dm_password": "x"}, "must not go in provider_options"),
    ({"colour": "blue"}, "has no option colour"),
    ({"logs": "perhaps"}, "provider_options.logs is of type str"),
    ({"timeout": 0}, "timeout must be a number of seconds"),
])
def test_bad_provider_options_are_refused(options, message):
    with pytest.raises(InvalidInput, match=message):
        get_provider("freeipa", options)


def test_the_files_provider_still_takes_its_options():
    assert get_provider("files", {"paths": ["/etc"]}).name == "files"


# --- native backups on a server ------------------------------------------------------------

def native(root, name, header=HEADER, archive=True, gpg=False):
    path = root / name
    path.mkdir(parents=True)
    if header is not None:
        (path / "header").write_text(header)
    if archive:
        kind = "full" if "full" in name else "data"
        (path / ("ipa-%s.tar%s" % (kind, ".gpg" if gpg else ""))).write_bytes(b"\x1f\x8b" + b"0" * 100)
    return path


def test_native_backups_are_listed_newest_first_with_their_state(tmp_path):
    native(tmp_path, "ipa-full-2026-01-14-11-26-07")
    native(tmp_path, "ipa-data-2026-01-15-01-00-00", header=HEADER.replace("FULL", "DATA"), gpg=True)
    native(tmp_path, "ipa-full-2026-01-16-00-00-00", header=None)
    native(tmp_path, "ipa-full-2026-01-13-00-00-00", header=HEADER.replace("FULL", "DATA"))
    (tmp_path / "unrelated").mkdir()
    listed = ipa_native.native_backups(str(tmp_path))
    assert [b["name"] for b in listed] == ["ipa-full-2026-01-16-00-00-00", "ipa-data-2026-01-15-01-00-00",
                                           "ipa-full-2026-01-14-11-26-07", "ipa-full-2026-01-13-00-00-00"]
    assert [b["status"] for b in listed] == ["incomplete", "complete", "complete", "damaged"]
    assert listed[1]["encrypted"] and not listed[2]["encrypted"]
    assert listed[2]["time"] == "2026-01-14T11:26:06.000000Z"
    assert listed[2]["roles"] == ["CA", "KRA", "DNS", "DNSKeySync", "ADTRUST"]
    assert "says DATA" in listed[3]["problems"][0]


# --- what ipa-restore would refuse, checked first ----------------------------------------------

class FakeHeader:
    def __init__(self, native_fields, parts=("header", "ipa-full.tar")):
        self.name = "freeipa-full-2026-01-14-11-26-06"
        self.id = "0123456789abcdef"
        self.manifest = {"product": "freeipa", "native": native_fields}
        self.parts = [{"name": name, "size": 10} for name in parts]


def server_root(tmp_path, host="idm2.example.com", packages=("usr/sbin/ipa-dns-install",)):
    root = tmp_path / "root"
    (root / "etc/ipa").mkdir(parents=True)
    (root / "etc/ipa/default.conf").write_text("[global]\nhost = %s\nrealm = EXAMPLE.COM\n" % host)
    (root / "var/lib/ipa/backup").mkdir(parents=True)
    for package in packages:
        tool = root / package
        tool.parent.mkdir(parents=True, exist_ok=True)
        tool.write_text("#!/bin/sh\n")
    return root


def fake_tools(tmp_path, monkeypatch, version="4.12.2"):
    """ipa-restore and ipa on PATH, the latter answering --version."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("ipa-restore", "exit 0"), ("ipa", "echo 'VERSION: %s, API_VERSION: 2.254'" % version)):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n%s\n" % body)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))


NATIVE = {"name": "ipa-full-2026-01-14-11-26-07", "type": "FULL", "host": "idm2.example.com",
          "ipaVersion": "4.12.2", "services": ["CA", "DNS", "HTTP", "KDC"], "time": "2026-01-14T11:26:06.000000Z"}


def provider_for(root, tmp_path, **options):
    options.setdefault("staging_dir", str(tmp_path / "stage-root"))
    os.makedirs(options["staging_dir"], exist_ok=True)
    return get_provider("freeipa", dict(root=str(root), **options), {"dm_password": "DM-pass"})


@pytest.fixture
def staging_outside_tmp(monkeypatch):
    """pytest's tmp_path is under /tmp, which the provider refuses for staging: let this test pretend it is not."""
    real = os.path.realpath
    monkeypatch.setattr(freeipa_provider.os.path, "realpath",
                        lambda path: "/srv" + real(path) if real(path).startswith("/tmp/") else real(path))


def test_a_fitting_backup_has_no_problem(tmp_path, monkeypatch, staging_outside_tmp):
    fake_tools(tmp_path, monkeypatch)
    provider = provider_for(server_root(tmp_path), tmp_path)
    assert provider.check_restore(FakeHeader(NATIVE)) == []
    assert provider.warnings == []


def test_another_host_is_refused(tmp_path, monkeypatch, staging_outside_tmp):
    fake_tools(tmp_path, monkeypatch)
    provider = provider_for(server_root(tmp_path, host="idm1.example.com"), tmp_path)
    problems = provider.check_restore(FakeHeader(NATIVE))
    assert len(problems) == 1
    assert "taken on idm2.example.com and this server is idm1.example.com" in problems[0]


def test_a_data_restore_into_an_unconfigured_server_is_refused(tmp_path, monkeypatch, staging_outside_tmp):
    fake_tools(tmp_path, monkeypatch)
    root = server_root(tmp_path)
    os.unlink(str(root / "etc/ipa/default.conf"))
    provider = provider_for(root, tmp_path)
    problems = provider.check_restore(FakeHeader(dict(NATIVE, type="DATA"), parts=("header", "ipa-data.tar")))
    assert any("Cannot restore a data backup into an empty system" in p for p in problems)
    # A full restore onto a server without IdM needs no password, and is not refused.
    assert provider.check_restore(FakeHeader(NATIVE)) == []


def test_missing_packages_for_roles_in_the_header_are_named(tmp_path, monkeypatch, staging_outside_tmp):
    fake_tools(tmp_path, monkeypatch)
    provider = provider_for(server_root(tmp_path, packages=()), tmp_path)
    problems = provider.check_restore(FakeHeader(dict(NATIVE, services=["ADTRUST", "CA", "DNS"])))
    assert any("freeipa-server-dns" in p for p in problems)
    assert any("freeipa-server-trust-ad" in p for p in problems)
    # A data restore does not need them (ipa-restore checks them for full restores only).
    assert provider_for(server_root(tmp_path / "b", packages=()), tmp_path, data_only=True).check_restore(
        FakeHeader(dict(NATIVE, services=["ADTRUST", "DNS"]))) == []


def test_a_version_mismatch_is_a_warning(tmp_path, monkeypatch, staging_outside_tmp):
    fake_tools(tmp_path, monkeypatch, version="4.11.0")
    provider = provider_for(server_root(tmp_path), tmp_path)
    assert provider.check_restore(FakeHeader(NATIVE)) == []
    assert "taken with IPA 4.12.2 and this server runs IPA 4.11.0" in provider.warnings[0]


def test_another_series_is_refused_unless_forced(tmp_path, monkeypatch, staging_outside_tmp):
    """restorableTo (decision 22): IdM backups go to the same X.Y series; ipa-restore itself would only warn."""
    fake_tools(tmp_path, monkeypatch, version="4.11.0")
    provider = provider_for(server_root(tmp_path), tmp_path)
    header = FakeHeader(NATIVE)
    assert provider.check_release(header) == []  # a header without the rule (an older drkit.backup)
    header.manifest["restorableTo"] = provider.restorable_to("4.12.2")
    assert header.manifest["restorableTo"] == {"rule": "same_series", "version": "4.12.2", "params": {}}
    refused = provider.check_release(header)
    assert len(refused) == 1 and "may be restored only to the 4.12.x series" in refused[0]
    assert "this host runs freeipa 4.11.0" in refused[0]
    assert provider.check_release(header, force=True) == [] and "restored anyway" in provider.warnings[-1]
    (tmp_path / "same").mkdir()
    fake_tools(tmp_path / "same", monkeypatch, version="4.12.5")
    provider = provider_for(server_root(tmp_path / "same"), tmp_path / "same")  # a new module call reads it anew
    assert provider.check_release(header) == []


def test_no_password_and_staging_under_tmp_are_refused(tmp_path, monkeypatch):
    fake_tools(tmp_path, monkeypatch)
    provider = get_provider("freeipa", {"root": str(server_root(tmp_path)), "staging_dir": str(tmp_path)})
    problems = provider.check_restore(FakeHeader(NATIVE))
    assert any("needs the Directory Manager password" in p for p in problems)
    assert any("under /tmp or /var/tmp" in p for p in problems)


def test_the_password_file_is_read_and_never_in_argv(tmp_path, monkeypatch, staging_outside_tmp):
    """ipa-restore gets the password on standard input; its arguments never hold it."""
    seen = {}

    def fake_run(argv, secret=None, stdin_text=None, env=None, timeout=None, netns=None):
        seen.setdefault("calls", []).append((list(argv), stdin_text))
        if argv[0] == "ipactl":
            return 0, "Directory Service: RUNNING"
        return 0, "Directory Manager (existing master) password: \nThe ipa-restore command was successful"

    monkeypatch.setattr(freeipa_provider.cli, "run", fake_run)
    monkeypatch.setattr(freeipa_provider.cli, "ipa", lambda *a, **k: (1, ""))
    root = server_root(tmp_path)
    password_file = tmp_path / "dm"
    password_file.write_text("from-a-file\n")
    provider = get_provider("freeipa", {"root": str(root), "dm_password_file": str(password_file)})
    provider.restore_whole(FakeHeader(NATIVE), "/var/lib/ipa/backup/stage/ipa-full-x")
    restore_argv, stdin_text = seen["calls"][0]
    assert restore_argv == ["ipa-restore", "/var/lib/ipa/backup/stage/ipa-full-x"]
    assert stdin_text == "from-a-file\nyes\nyes\n"
    assert not any("from-a-file" in word for argv, _stdin in seen["calls"] for word in argv)


def test_run_masks_the_secret_in_output():
    code, output = cli.run(["sh", "-c", "read pw; echo \"got $pw\""], secret="s3cret", stdin_text="s3cret\n")
    assert code == 0 and output.strip() == "got ********"


# --- topology ------------------------------------------------------------------------------

ROLE_FIND = """-----------------------
5 server roles matched
-----------------------
  Server name: idm1.example.com
  Role name: CA server
  Role status: enabled

  Server name: idm1.example.com
  Role name: IPA master
  Role status: enabled

  Server name: idm2.example.com
  Role name: CA server
  Role status: hidden

  Server name: idm2.example.com
  Role name: KRA server
  Role status: hidden

  Server name: idm2.example.com
  Role name: IPA master
  Role status: hidden

  Server name: idm3.example.com
  Role name: DNS server
  Role status: absent
----------------------------
Number of entries returned 6
----------------------------
"""


def test_ipa_output_is_parsed_into_entries():
    entries = cli.parse_entries(ROLE_FIND)
    assert len(entries) == 6
    assert entries[2] == {"Server name": "idm2.example.com", "Role name": "CA server", "Role status": "hidden"}


def servers_from(text):
    roles = {}
    for entry in cli.parse_entries(text):
        roles.setdefault(entry["Server name"], {})[cli.ROLE_NAMES[entry["Role name"]]] = entry["Role status"]
    return topology.describe_servers(roles)


def test_the_hidden_replica_holding_every_role_is_chosen():
    servers = servers_from(ROLE_FIND)
    assert [(s["name"], s["hidden"], s["roles"]) for s in servers] == [
        ("idm1.example.com", False, ["CA"]), ("idm2.example.com", True, ["CA", "KRA"]), ("idm3.example.com", False, [])]
    choice = topology.choose_backup_server(servers, select="hidden")
    assert choice["server"] == "idm2.example.com" and choice["hidden"]
    assert choice["roles_in_use"] == ["CA", "KRA"]


def test_without_a_complete_hidden_replica_select_hidden_fails_and_any_takes_an_enabled_one():
    servers = servers_from(ROLE_FIND.replace("Role name: KRA server\n  Role status: hidden",
                                             "Role name: KRA server\n  Role status: absent"))
    servers[0]["roles"].append("KRA")  # idm1 now holds CA and KRA, enabled
    with pytest.raises(InvalidInput) as refused:
        topology.choose_backup_server(servers, select="hidden")
    assert str(refused.value) == (
        "no hidden replica holds every role in use (CA, KRA): servers are idm1.example.com (enabled; has CA, KRA), "
        "idm2.example.com (hidden; has CA; lacks KRA), idm3.example.com (enabled; has no role; lacks CA, KRA); "
        "install the missing roles on a hidden replica and run again")
    choice = topology.choose_backup_server(servers, select="any")
    assert choice["server"] == "idm1.example.com" and not choice["hidden"]
    assert "serves clients" in choice["reason"]


def test_no_complete_server_at_all():
    servers = servers_from(ROLE_FIND)
    with pytest.raises(InvalidInput, match=r"no IdM server holds every role in use \(CA, DNS\): servers are "
                                           r"idm1.example.com \(enabled; has CA; lacks DNS\), "):
        topology.choose_backup_server(servers, select="any", roles=["CA", "DNS"])


def test_without_any_hidden_replica_the_message_says_to_hide_one():
    servers = [dict(s, hidden=False) for s in servers_from(ROLE_FIND)]
    with pytest.raises(InvalidInput, match=r"hide a replica that holds them all \(drkit.backup.freeipa_server_state\)"):
        topology.choose_backup_server(servers, select="hidden")
    assert topology.choose_backup_server(servers, roles=["CA", "DNS"])["server"] is None


def test_ties_are_broken_by_preference_then_name():
    servers = [{"name": n, "hidden": True, "roles": ["CA"]} for n in ("b", "a", "c")]
    assert topology.choose_backup_server(servers)["server"] == "a"
    assert topology.choose_backup_server(servers, prefer=["c", "b"])["server"] == "c"


def test_reinitialisation_goes_outward_domain_before_ca():
    # The RHEL example: server1 <-> caReplica2 <-> replica3, CA on server1 and caReplica2; server1 restored.
    servers = [{"name": n, "hidden": False, "roles": []} for n in ("server1", "caReplica2", "replica3")]
    plan = topology.reinitialize_plan("server1", servers, [("server1", "caReplica2"), ("caReplica2", "replica3")],
                                      [("server1", "caReplica2")])
    assert [(s["server"], s["suffix"], s["from"]) for s in plan] == [
        ("caReplica2", "domain", "server1"), ("caReplica2", "ca", "server1"), ("replica3", "domain", "caReplica2")]
    assert plan[1]["command"] == "ipa-csreplica-manage re-initialize --from=server1"
    with pytest.raises(InvalidInput, match="is not a server of this topology"):
        topology.reinitialize_plan("elsewhere", servers, [], [])


def test_freeipa_stops_nothing_online_or_when_adopting():
    provider = get_provider("freeipa", {})
    assert provider.tool_stops("full", False) and provider.tool_stops("data", False)
    assert not provider.tool_stops("data", True)
    assert not get_provider("freeipa", {"adopt": "ipa-full-2026-11-23-02-00-00"}).tool_stops("full", False)
    assert not get_provider("files", {"paths": ["/etc/hosts"]}).tool_stops("full", False)
