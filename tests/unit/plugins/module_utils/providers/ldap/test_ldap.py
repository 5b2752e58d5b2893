# -*- coding: utf-8 -*-
"""The ldap provider on the tests' real slapd (conftest's ldap_server): offline and online, both ways back."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import threading

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill import drill_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.providers.directories import openldap

PEOPLE = 3000
ENTRIES = PEOPLE + 4  # the suffix, ou=people, ou=groups and cn=staff


@pytest.fixture
def slapd(ldap_server):
    """The known content, slapd running; running again afterwards whatever the test did to it."""
    ldap_server.reset(PEOPLE)
    yield ldap_server
    ldap_server.start()


def offline_backup(keystore, tmp_path, server, **options):
    return create_backup(keystore, "ldap", server.options(**options), online=False, dest=str(tmp_path / "backups"),
                         **server.commands())


def online_backup(keystore, tmp_path, server, **options):
    return create_backup(keystore, "ldap", server.options(**options), online=True, dest=str(tmp_path / "backups"))


def restore(keystore, made, server, **options):
    return restore_backup(Unlocker(keystore), made["path"], provider_options=server.options(**options))


def damage(server):
    server.ldap("ldapdelete", server.alice_dn, "uid=user00001,ou=people," + server.suffix)


def slapcat(server) -> str:
    return subprocess.run(["slapcat", "-F", server.config_dir, "-n", "1", "-o", "ldif_wrap=no"], capture_output=True,
                          text=True, check=True).stdout


def leftovers(server) -> list:
    return [name for name in os.listdir(server.where) if ".drkit-old-" in name]


def test_an_offline_backup_brings_the_directory_back_with_slapd_stopped(slapd, tmp_path, keystore):
    before = slapd.fingerprint()
    made = offline_backup(keystore, tmp_path, slapd)
    header = made["backup"]
    assert slapd.running()  # stopped for the capture, started again
    assert [part["name"] for part in header["parts"]] == ["config.ldif", "db-dc_example_dc_com.ldif"]
    assert header["contentSummary"] == {"suffixes": {slapd.suffix: {"entries": ENTRIES}}}
    assert header["restorableTo"] == {"rule": "same_series", "version": header["productVersion"],
                                      "params": {"components": 2}}
    facts = backup_info(str(tmp_path / "backups"))["backups"][0]["header"]["directory"]
    assert facts["server"] == "OpenLDAP" and facts["version"] == header["productVersion"]
    assert facts["databases"] == {slapd.suffix: {"entries": ENTRIES, "backend": "mdb", "database": 1,
                                                 "directory": slapd.data_dir}}
    assert facts["configEntries"] > 5
    damage(slapd)
    assert not slapd.binds(slapd.alice_dn, slapd.alice_password)
    slapd.stop()

    with pytest.raises(InvalidInput, match="database dc=example,dc=com holds entries already: restore with "
                                           "provider_options.replace true"):
        restore(keystore, made, slapd)
    done = restore(keystore, made, slapd, replace=True)

    assert done["actions"] == ["restored database dc=example,dc=com"]
    assert leftovers(slapd) == []
    assert {os.stat(os.path.join(slapd.data_dir, name)).st_uid for name in os.listdir(slapd.data_dir)} == \
        {os.stat(slapd.where).st_uid}  # openldap's, as the directory it replaced
    slapd.start()
    assert slapd.fingerprint() == before
    assert slapd.binds(slapd.alice_dn, slapd.alice_password)
    counted = get_provider("ldap", slapd.options(), verb="restore").count(header["contentSummary"])
    assert counted == header["contentSummary"]


def test_an_offline_restore_is_refused_while_slapd_runs(slapd, tmp_path, keystore):
    made = offline_backup(keystore, tmp_path, slapd, config=False)
    damage(slapd)
    changed = slapd.fingerprint()
    with pytest.raises(InvalidInput, match=r"slapd is running \(pid \d+\): stop it first .*restore_with ldapadd"):
        restore(keystore, made, slapd, replace=True)
    assert slapd.fingerprint() == changed


def test_an_online_backup_restores_online_into_an_empty_suffix_and_offline_too(slapd, tmp_path, keystore):
    # An entry moved under a newer one: the export lists it before its new parent, and ldapadd needs parents first.
    slapd.ldap("ldapadd", input="dn: ou=newer,%s\nobjectClass: organizationalUnit\nou: newer\n" % slapd.suffix)
    slapd.ldap("ldapmodify", input="dn: ou=groups,%s\nchangetype: modrdn\nnewrdn: ou=groups\ndeleteoldrdn: 1\n"
                                   "newsuperior: ou=newer,%s\n" % (slapd.suffix, slapd.suffix))
    before = slapd.fingerprint()
    made = online_backup(keystore, tmp_path, slapd)
    assert made["backup"]["online"] is True
    assert made["backup"]["contentSummary"] == {"suffixes": {slapd.suffix: {"entries": ENTRIES + 1}}}
    slapd.admin("ldapdelete", "-r", slapd.suffix)  # the suffix entry too, which only the rootDN may delete
    assert slapd.entries() == 0

    done = restore(keystore, made, slapd, restore_with="ldapadd")
    assert done["actions"] == ["added the entries of dc=example,dc=com",
                               "left the cn=config part alone (ldapadd restores entries only)"]
    assert slapd.fingerprint() == before  # entryUUID too: the Relax Rules control kept it
    assert slapd.binds(slapd.alice_dn, slapd.alice_password)
    with pytest.raises(InvalidInput, match="holds entries already under dc=example,dc=com: restore into an empty "
                                           "suffix, or stop slapd"):
        restore(keystore, made, slapd, restore_with="ldapadd")
    with pytest.raises(InvalidInput, match="replace is not supported with restore_with ldapadd"):
        restore(keystore, made, slapd, restore_with="ldapadd", replace=True)

    slapd.stop()  # the same online export loads offline with slapadd: what slapd computes was left out
    restore(keystore, made, slapd, replace=True)
    assert not [line for line in slapcat(slapd).splitlines()
                if line.split(":")[0].lower() in ("entrydn", "hassubordinates", "subschemasubentry")]
    slapd.start()
    assert slapd.fingerprint() == before


def test_a_failed_slapadd_puts_the_old_database_back(slapd, tmp_path, keystore):
    made = offline_backup(keystore, tmp_path, slapd, config=False)
    damage(slapd)
    changed = slapd.fingerprint()
    slapd.stop()
    bin_dir = tools_dir(tmp_path, slapadd=FAILING_SLAPADD % (sys.executable, shutil.which("slapadd")))
    with pytest.raises(openldap.OpenLDAPError, match="slapadd of database dc=example,dc=com failed .exit 1.: "
                                                     ".*disk full"):
        restore(keystore, made, slapd, replace=True, bin_dir=str(bin_dir))
    assert leftovers(slapd) == []
    slapd.start()
    assert slapd.fingerprint() == changed


FAILING_SLAPADD = """#!%s
# The real slapadd, which then fails as if the disk had filled: the database it wrote must not stay.
import subprocess, sys
subprocess.run([%r] + sys.argv[1:], check=True)
print("mdb_tool_entry_put: txn_commit failed: MDB_MAP_FULL: disk full")
sys.exit(1)
"""


def test_a_fresh_host_gets_the_configuration_and_the_data(slapd, tmp_path, keystore):
    made = offline_backup(keystore, tmp_path, slapd)
    before = slapd.fingerprint()
    slapd.stop()
    with pytest.raises(InvalidInput, match="slapd configuration .*slapd.d exists already: restore with "
                                           "provider_options.replace true"):
        restore(keystore, made, slapd, restore_config=True)
    kept = str(tmp_path / "kept")
    os.mkdir(kept)
    for path in (slapd.config_dir, slapd.data_dir):  # as on a host where slapd is installed and never configured
        shutil.move(path, kept)
    try:
        done = restore(keystore, made, slapd, restore_config=True)
        assert done["actions"] == ["restored cn=config into %s" % slapd.config_dir,
                                   "restored database dc=example,dc=com"]
        slapd.start()
        assert slapd.fingerprint() == before
    finally:
        slapd.stop()
        for path in (slapd.config_dir, slapd.data_dir):
            shutil.rmtree(path, ignore_errors=True)
            shutil.move(os.path.join(kept, os.path.basename(path)), path)


def test_check_mode_stops_nothing_and_changes_nothing(slapd, tmp_path, keystore):
    plan = create_backup(keystore, "ldap", slapd.options(), online=False, dest=str(tmp_path / "backups"),
                         check_mode=True, **slapd.commands())
    assert plan["changed"] and plan["services"] == ["slapd"] and not (tmp_path / "backups").exists()
    assert slapd.running()
    made = online_backup(keystore, tmp_path, slapd)
    damage(slapd)
    changed = slapd.fingerprint()
    slapd.stop()
    planned = restore_backup(Unlocker(keystore), made["path"], provider_options=slapd.options(replace=True),
                             check_mode=True)
    assert planned["actions"] == ["restore database dc=example,dc=com with slapadd, replacing the one there once "
                                  "complete"]
    slapd.start()
    assert slapd.fingerprint() == changed


def test_a_wrong_password_is_one_clear_message_and_never_shown(slapd, tmp_path, keystore, command_lines):
    seen = command_lines
    wrong = "not-the-password-%s" % os.getpid()
    admin = dict(uri=slapd.uri, bind_dn=slapd.admin_dn, config=False)
    with pytest.raises(DrkitError) as failed:
        create_backup(keystore, "ldap", admin, online=True, dest=str(tmp_path / "backups"),
                      provider_secrets={"password": wrong})
    message = str(failed.value)
    assert message.startswith("the LDAP server at %s (bound as %s) refused the bind (wrong password or bind DN)"
                              % (slapd.uri, slapd.admin_dn))
    assert wrong not in message
    assert seen and not any(wrong in argv for argv in seen)
    assert not (tmp_path / "backups").exists()
    made = create_backup(keystore, "ldap", admin, online=True, dest=str(tmp_path / "backups"),
                         provider_secrets={"password": slapd.admin_password})
    assert made["backup"]["contentSummary"]["suffixes"][slapd.suffix]["entries"] == ENTRIES
    assert slapd.admin_password not in repr(made) and not any(slapd.admin_password in argv for argv in seen)
    with pytest.raises(InvalidInput, match="bind_dn cn=admin,dc=example,dc=com needs provider_secrets.password"):
        create_backup(keystore, "ldap", admin, online=True, dest=str(tmp_path / "backups"))


@pytest.mark.parametrize("tool,online", [("slapcat", False), ("ldapsearch", True)])
def test_an_export_killed_halfway_leaves_no_backup_and_no_plaintext(slapd, tmp_path, keystore, tool, online):
    """The real tool, killed once it has written 64 KiB (as the OOM killer would): the backup fails, nothing is left,
    and slapd runs again."""
    bin_dir = tools_dir(tmp_path, **{tool: KILLED_EXPORT % (sys.executable, shutil.which(tool))})
    dest = tmp_path / "backups"
    with pytest.raises(DrkitError, match="%s of .*dc=example,dc=com was killed by signal 9 after 65536 bytes" % tool):
        create_backup(keystore, "ldap", slapd.options(bin_dir=str(bin_dir), config=False), online=online,
                      dest=str(dest), **slapd.commands())
    assert slapd.running()
    assert not dest.exists() or os.listdir(str(dest)) == []
    assert [os.path.join(top, name) for where in (str(dest), str(tmp_path / "state"))
            for top, _dirs, files in os.walk(where) for name in files if name != "lock" and not name.endswith(".json")] == []


KILLED_EXPORT = """#!%s
# The real tool, killed (SIGKILL) once it has written 64 KiB (a shorter answer, the root DSE's, goes through).
import os, signal, subprocess, sys
child = subprocess.Popen([%r] + sys.argv[1:], stdout=subprocess.PIPE)
data = child.stdout.read(65536)
sys.stdout.buffer.write(data)
sys.stdout.buffer.flush()
if len(data) < 65536:
    sys.exit(child.wait())
child.kill()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_export_that_holds_no_entry_is_a_failure_whatever_the_exit_code(slapd, tmp_path, keystore):
    """slapcat exits 0 on a database it could not read: an empty LDIF is never a backup."""
    bin_dir = tools_dir(tmp_path, slapcat="#!/bin/sh\nexit 0\n")
    with pytest.raises(CaptureError, match="the export of database dc=example,dc=com holds no entry"):
        offline_backup(keystore, tmp_path, slapd, bin_dir=str(bin_dir), config=False)
    assert slapd.running() and not (tmp_path / "backups").exists() or os.listdir(str(tmp_path / "backups")) == []


def test_a_missing_suffix_or_configuration_is_refused_naming_what_there_is(slapd, tmp_path, keystore):
    with pytest.raises(InvalidInput, match="has no database for suffix dc=nowhere .it has: dc=example,dc=com."):
        offline_backup(keystore, tmp_path, slapd, suffixes=["dc=nowhere"])
    with pytest.raises(InvalidInput, match="has no database for suffix dc=nowhere .it has: dc=example,dc=com."):
        online_backup(keystore, tmp_path, slapd, suffixes=["dc=nowhere"])
    with pytest.raises(DrkitError, match="the slapd configuration /nowhere is not there"):
        create_backup(keystore, "ldap", {"config_dir": "/nowhere"}, dest=str(tmp_path / "backups"))
    assert slapd.running() and not (tmp_path / "backups").exists()


def tools_dir(tmp_path, **scripts):
    """A bin_dir of the real tools, with ``scripts`` (name -> text) in place of some."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("slapd", "slapcat", "slapadd", "ldapsearch", "ldapadd", "ldapdelete"):
        if tool in scripts:
            (bin_dir / tool).write_text(scripts[tool])
            (bin_dir / tool).chmod(0o755)
        else:
            os.symlink(shutil.which(tool), str(bin_dir / tool))
    return bin_dir


def test_an_ldif_is_counted_and_filtered_whatever_its_chunks():
    ldif = (b"dn: dc=a\nobjectClass: top\nentryDN: dc=a\n\n# pagedresults: cookie=\n"
            b"dn:: ZGM9Yg==\ndescription: one\n  two\nhasSubordinates: TRUE\n continued\nsn: x\n\n")
    for size in (1, 2, 3, 7, len(ldif)):
        out = []
        counter = openldap.LdifCounter(type("Out", (), {"write": lambda self, data: out.append(data)})(),
                                       openldap.COMPUTED)
        for at in range(0, len(ldif), size):
            counter.write(ldif[at:at + size])
        counter.finish()
        assert counter.entries == 2
        assert b"".join(out) == b"dn: dc=a\nobjectClass: top\n\ndn:: ZGM9Yg==\ndescription: one\n  two\nsn: x\n\n"


def test_cn_config_from_another_series_is_refused_and_entries_go_anywhere(ldap_server):
    """This machine has one OpenLDAP release: the refusal side is what can be shown (decision 34)."""
    here = get_provider("ldap", ldap_server.options(), verb="restore").target_release()
    older = "2.4.59" if not here.startswith("2.4.") else "2.3.43"

    class Header:
        manifest = {"restorableTo": {"rule": "same_series", "version": older, "params": {"components": 2}}}

    with_config = get_provider("ldap", ldap_server.options(restore_config=True), verb="restore")
    assert with_config.check_release(Header()) == [
        "it was made by ldap %s and may be restored only to the %s.x series (rule same_series), and this host runs "
        "ldap %s" % (older, older.rsplit(".", 1)[0], here)]
    assert get_provider("ldap", ldap_server.options(), verb="restore").check_release(Header()) == []


def test_a_drill_restores_into_a_slapd_of_its_own_and_counts_what_the_backup_says(slapd, tmp_path, keystore):
    made = offline_backup(keystore, tmp_path, slapd)
    before, pid = slapd.fingerprint(), open(os.path.join(slapd.where, "slapd.pid")).read()
    scratch = str(tmp_path / "scratch")
    alice = {"name": "alice", "ldap_search": {"uri": "ldapi://{root}%2Fldap%2Fldapi", "bind_dn": slapd.admin_dn,
                                              "password_secret": "admin", "base": slapd.alice_dn}}
    drilled = drill_backup(Unlocker(keystore), made["path"], scratch, checks=[alice],
                           check_secrets={"admin": slapd.admin_password}, provider_options=slapd.options())["drill"]
    assert drilled["passed"], drilled["checks"]
    assert [step["name"] for step in drilled["checks"]] == ["verify", "restore", "health", "entries", "content",
                                                            "alice"]
    assert "dc=example,dc=com entries %d" % ENTRIES in drilled["checks"][-2]["message"]
    assert drilled["torn_down"] and not os.path.exists(scratch)
    assert subprocess.run(["pgrep", "-f", scratch], check=False).returncode == 1  # no scratch slapd left
    assert slapd.fingerprint() == before  # the live server was only read, and never stopped
    assert open(os.path.join(slapd.where, "slapd.pid")).read() == pid


def test_a_drill_needs_the_backup_s_cn_config(slapd, tmp_path, keystore):
    made = offline_backup(keystore, tmp_path, slapd, config=False)
    with pytest.raises(InvalidInput, match="holds no cn=config part .*cannot drill this backup"):
        drill_backup(Unlocker(keystore), made["path"], str(tmp_path / "scratch"), provider_options=slapd.options())


def test_the_drill_s_cn_config_is_standalone_and_lets_root_read_everything(tmp_path):
    source, target = tmp_path / "config.ldif", tmp_path / "standalone.ldif"
    manager = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
    description = base64.b64encode("Ünïcode: the directory".encode()).decode()
    source.write_text(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\nolcPidFile: /run/slapd/slapd.pid\n"
        "olcTLSCertificateFile: /etc/ldap/tls/cert.pem\nolcTLSCertificateKeyFile: /etc/ldap/tls/key.pem\n"
        "olcReferral: ldap://upstream.example.com\n\n"
        "dn: olcDatabase={1}mdb,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcMdbConfig\n"
        "olcDatabase: {1}mdb\nolcDbDirectory: /var/lib/ldap\nolcSuffix: dc=example,dc=com\n"
        "description:: %s\n"
        "olcSyncrepl: {0}rid=001 provider=ldap://peer.example.com binddn=\"cn=repl\" credentials=secret\n"
        "olcMultiProvider: TRUE\nolcAccess: {0}to * by self read by * none\nolcAccess: {1}to dn.base=\"\" by * read\n"
        "olcLimits: {0}users size=10\n\n" % description)
    directories = openldap.scratch_config(str(source), str(target), "/scratch/ldap", manager)
    assert directories == ["/scratch/ldap/db/1"]
    entries = list(openldap.records(target.read_text()))
    assert "olctlscertificatefile" not in entries[0] and "olcreferral" not in entries[0]
    assert entries[0]["olcpidfile"] == ["/scratch/ldap/slapd.pid"]
    database = entries[1]
    assert "olcsyncrepl" not in database and "olcmultiprovider" not in database
    assert database["olcdbdirectory"] == ["/scratch/ldap/db/1"]
    assert database["description"] == ["Ünïcode: the directory"]
    assert database["olcaccess"] == ['{0}to * by dn.exact="%s" manage by * break' % manager,
                                     "{1}to * by self read by * none", '{2}to dn.base="" by * read']
    assert database["olclimits"] == ['{0}dn.exact="%s" size=unlimited time=unlimited' % manager, "{1}users size=10"]


def test_the_drill_s_slapd_has_no_network_and_one_a_killed_drill_left_is_stopped_by_its_pid_file(slapd, tmp_path):
    root, config = str(tmp_path / "ldap"), str(tmp_path / "config.ldif")
    with open(config, "w") as out:
        out.write(subprocess.run(["slapcat", "-F", slapd.config_dir, "-n", "0", "-o", "ldif_wrap=no"],
                                 capture_output=True, text=True, check=True).stdout)
    for directory in openldap.scratch_config(config, config + ".standalone", root, openldap.peer_credentials_dn()):
        os.makedirs(directory)
    os.makedirs(os.path.join(root, "slapd.d"))
    subprocess.run(["slapadd", "-n", "0", "-F", os.path.join(root, "slapd.d"), "-l", config + ".standalone"],
                   check=True, capture_output=True)
    started = openldap.ScratchServer(root, openldap.Tools())
    started.start()
    assert os.readlink("/proc/%d/ns/net" % started.process.pid) != os.readlink("/proc/self/ns/net")
    reaper = threading.Thread(target=started.process.wait)  # as init reaps the slapd of a drill that was killed
    reaper.start()
    left = openldap.ScratchServer(root, openldap.Tools())  # what the next drill sees: the pid file only
    assert left.stop() == []
    reaper.join(timeout=5)
    assert started.process.returncode == 0
