# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for a FreeIPA (Red Hat IdM) server's backup and topology tools, over a real slapd.

FreeIPA does not install on Debian. This emulator gives the tests the commands
the ``freeipa`` provider runs: ``ipa-backup``, ``ipa-restore``, ``ipactl``, the
``ipa`` commands (``--version``, ``server-find``, ``server-show``,
``server-role-find``, ``server-state``, ``topologysegment-find``, ``user-show``,
``user-del``), ``ipa-replica-manage re-initialize``, ``ipa-csreplica-manage
re-initialize`` and ``ipa-server-install --uninstall``. Behind them runs a REAL OpenLDAP slapd (two mdb databases:
``userRoot`` for the IdM tree and ``ipaca`` for the CA subtree), so a backup's
LDIF is real data (slapcat) and a restore really replaces the directory's
contents (slapadd into fresh databases while slapd is stopped).

Documents followed (options, messages, exit codes, names, formats):

- ``../shared/reference/000_fab5ae90eed2c840.txt``: "Preparing for data loss
  with IdM backups" (backup types, ``ipa-full-YYYY-MM-DD-HH-MM-SS`` in GMT,
  ``header`` + ``ipa-full.tar``, the console transcript of ``ipa-backup`` and
  ``ipa-backup --gpg``, ``TMPDIR``, ``GNUPGHOME``);
- the ipa-backup(1) and ipa-restore(1) manual pages of FreeIPA (options,
  ``--disable-role-check``, exit status 0/1/2, "can not be restored on another
  host", re-initialisation with ipa-replica-manage/ipa-csreplica-manage);
- FreeIPA's ``ipaserver/install/ipa_backup.py`` and ``ipa_restore.py``: the
  ``header`` file (ConfigParser section ``[ipa]``: type FULL/DATA, time, host,
  ipa_version, version 1, services = the cn of the entries under this master in
  ``cn=masters,cn=ipa,cn=etc``), the tar layout (a gzip-compressed tar of ``.``
  holding ``<INSTANCE>-userRoot.ldif``, ``<INSTANCE>-ipaca.ldif``, the db2bak
  directory ``<INSTANCE>/`` and, for full backups, ``files.tar``, itself
  gzip-compressed), the option rules ("You cannot specify --online without
  --data", "You cannot specify --data with --logs"), the order of steps and
  their log lines, and ipa-restore's refusals ("Host name %s does not match
  backup name %s", "Cannot restore a data backup into an empty system", the
  DNS and AD-trust package checks, the version warning, "Directory Manager
  password required"); the Directory Manager password is read from standard
  input when it is not a terminal (``installutils.get_password``), as the real
  tool does, and ``--unattended`` never prompts;
- FreeIPA's ``ipaserver/plugins/server.py``: ``server-state --state=hidden|enabled``
  (refuses to hide the CA renewal master or the last enabled CA/DNS/KRA server;
  "no modifications to be performed" when nothing changes), role status
  enabled/hidden/configured/absent from ``enabledService``/``hiddenService``;
- the RHEL "Backing up and restoring IdM" guide: the ipa-restore transcript,
  "Update in progress, N seconds elapsed / Update succeeded";
- FreeIPA's ``ipa_restore.py`` ``disable_agreements``: before it restores a
  running server, ipa-restore connects to every other master (as Directory
  Manager) to disable its replication agreement with this host, and says
  "Unable to disable agreement on %s: %s" and goes on when it cannot; and the
  restored server's own agreements reach its topology peers as soon as its
  directory starts (the man page: "Each master will individually need to be
  re-initialized or re-created from this one");
- ``ipa-server-install --uninstall`` as a user's transcript shows it
  (``--unattended``; "WARNING: IPA server is not configured on this system. If
  you want to install the IPA server, please install it using
  'ipa-server-install'."; "Server removal aborted: Replication topology in
  suffix 'domain' is disconnected" unless ``--ignore-topology-disconnect``;
  "The ipa-server-install command failed. See
  /var/log/ipaserver-uninstall.log for more information"), and the IdM guide's
  "Uninstalling an IdM server does not automatically remove any backup files";
- 389 Directory Server's root DN ``cn=Directory Manager``, bound with the
  Directory Manager password.

Every attempt to contact a peer (ipa-restore disabling agreements, a restored
server's replication reaching out) is recorded, reached or not, as one JSON line
in ``peer-contacts.jsonl`` beside the cluster file: the tests of drills, which
restore inside a network namespace of their own, assert that none reached a
live server.

As the issue that asked for this emulator states, ipa-restore leaves the
restored server enabled: the emulator turns its ``hiddenService`` entries back
into ``enabledService`` after a restore, so that re-hiding can be tested.

Where the emulator differs from the product (documented, on purpose):
- it never needs root, Kerberos credentials or systemd; ``ipactl`` controls the
  one real daemon (slapd) and records the others' state in a file;
- the db2bak directory holds one slapcat LDIF per backend instead of 389-ds
  ``db2bak`` output (ipa-restore reads only the LDIF files, as the real one does);
- ``ipa-backup`` and ``ipa-restore`` log to standard error and to
  ``var/log/ipabackup.log`` / ``iparestore.log`` under the emulated root;
- the emulator does not replicate: a contact with a peer is a TCP connection to
  the peer's LDAP port, recorded, and nothing more; ``ipa-server-install
  --uninstall`` does not check for the last server of a role
  (``--ignore-last-of-role`` is accepted) and contacts no peer;
- OpenLDAP gives a root password only to a DN under a database's suffix, so
  ``cn=Directory Manager`` is the root DN of a small database of its own, and
  each suffix also has its own ``cn=Directory Manager,<suffix>`` (the
  emulator's tools bind with those);
- the role check of ipa-backup (refused unless ``--disable-role-check`` when
  this host lacks a role some server has, as the man page and the RHEL guide
  describe) words its error in its own way: the source read for this emulator
  predates that check.

Configuration: ``IPA_EMULATOR_ROOT`` names one emulated server's root (several
servers live on one machine, each with its own root, slapd port and data). The
root holds ``emulator.json`` and the server's files at their usual paths
(``etc/ipa/default.conf``, ``var/lib/ipa/backup/`` ...). ``IPA_EMULATOR_FAIL``
set to ``db2ldif`` or ``ldif2db`` makes that step fail, to test recovery; ``skip-ipaca`` makes
ipa-restore leave the CA's suffix out and still report success (a tool that lies, for the drills' checks).

``ipa-emulator create|start|stop|destroy`` (see ``main_admin``) builds, runs and
removes emulated servers from a cluster description. ``create --unconfigured``
builds a replacement host instead: the IdM packages installed and
``ipa-server-install`` never run (no ``etc/ipa/default.conf``, no directory
server instance, no data, slapd not running); with ``--drill-target`` that host
stands apart from the cluster (its root is not recorded in the cluster file, so
no server of the cluster ever finds it): a drill target prepared to take a
server's host name. There, as on a real host,
``ipactl`` says "IPA is not configured (see man pages of ipa-server-install for
help)" (exit 4 for status, 6 otherwise), ``ipa-backup`` "IPA is not configured
on this system." (exit 2), the ``ipa`` client "IPA client is not configured on
this system" (exit 1), and a FULL ``ipa-restore`` of the host's backup needs no
Directory Manager password and makes it a working server again.
"""

from __future__ import annotations

import base64
import configparser
import datetime
import json
import optparse  # pylint: disable=deprecated-module  # ipa-backup/ipa-restore parse with optparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

EMULATOR_DIR = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = "/etc/ldap/schema"
IPA_VERSION = "4.12.2"
API_VERSION = "2.254"
ROLE_SERVICES = {
    "CA": ["CA"],
    "KRA": ["KRA"],
    "DNS": ["DNS", "DNSKeySync"],
    "ADTRUST": ["ADTRUST", "EXTID"],
}
MASTER_SERVICES = ["HTTP", "KDC", "KEYS", "KPASSWD", "OTPD"]
ROLE_NAMES = [("AD trust controller", ["ADTRUST"]), ("CA server", ["CA"]), ("DNS server", ["DNS"]),
              ("IPA master", ["HTTP"]), ("KRA server", ["KRA"])]
PACKAGE_TOOLS = {"dns": "usr/sbin/ipa-dns-install", "trust": "usr/sbin/ipa-adtrust-install"}
IPACTL_SERVICES = ["Directory", "krb5kdc", "kadmin", "httpd", "ipa-custodia", "pki-tomcatd", "ipa-otpd"]


class ScriptError(Exception):
    """A failure the tool reports and exits with (rc 1 unless given)."""

    def __init__(self, msg, rc=1):
        super().__init__(msg)
        self.msg = msg
        self.rc = rc


# --- one emulated server ---------------------------------------------------------

class Server:
    """The emulated server at ``root``: its configuration, files and slapd."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        with open(os.path.join(self.root, "emulator.json")) as handle:
            self.conf = json.load(handle)
        self.host = self.conf["host"]
        self.realm = self.conf["realm"]
        self.basedn = self.conf["basedn"]
        self.instance = self.realm.replace(".", "-")
        self.uri = self.conf["ldap_uri"]
        self.slapd_conf = self.path("etc/dirsrv/slapd-%s/slapd.conf" % self.instance)
        self.pidfile = self.path("run/slapd.pid")

    @classmethod
    def from_env(cls):
        root = os.environ.get("IPA_EMULATOR_ROOT")
        if not root or not os.path.isfile(os.path.join(root, "emulator.json")):
            raise ScriptError("IPA is not configured on this system.", 2)
        return cls(root)

    def path(self, relative):
        return os.path.join(self.root, relative)

    @property
    def default_conf(self):
        return self.path("etc/ipa/default.conf")

    @property
    def configured(self):
        return os.path.isfile(self.default_conf)

    @property
    def backup_dir(self):
        return self.path("var/lib/ipa/backup")

    def backends(self):
        """(backend name, suffix, database directory), ipaca first as ipa-backup takes them."""
        db = self.path("var/lib/dirsrv/slapd-%s/db" % self.instance)
        return [("ipaca", "o=ipaca", os.path.join(db, "ipaca")),
                ("userRoot", self.basedn, os.path.join(db, "userRoot"))]

    def database_dirs(self):
        """Every database directory slapd.conf names (the backends', and the Directory Manager's)."""
        db = self.path("var/lib/dirsrv/slapd-%s/db" % self.instance)
        return [directory for _b, _s, directory in self.backends()] + [os.path.join(db, "dm")]

    def rootdn(self, suffix=None):
        return "cn=Directory Manager,%s" % (suffix or self.basedn)

    # slapd ---------------------------------------------------------------------------

    def slapd_pid(self):
        try:
            with open(self.pidfile) as handle:
                pid = int(handle.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def running(self):
        return self.slapd_pid() is not None

    def start_slapd(self):
        if self.running():
            return
        proc = subprocess.run(["slapd", "-f", self.slapd_conf, "-h", self.uri], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise ScriptError("Failed to start Directory Service: %s" % proc.stdout.decode(errors="replace").strip())
        host, port = self.uri.split("//", 1)[1].rstrip("/").rsplit(":", 1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise ScriptError("Directory Service did not start listening on %s" % self.uri)

    def stop_slapd(self):
        pid = self.slapd_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
        else:
            raise ScriptError("Directory Service (pid %d) did not stop" % pid)
        # slapd removes its pid file on a clean exit; a stale one would confuse the next start.
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)

    # ipactl's view of the other services -----------------------------------------------

    def services_state(self):
        try:
            with open(self.path("run/ipactl.state")) as handle:
                return handle.read().strip() or "stopped"
        except OSError:
            return "stopped"

    def set_services_state(self, state):
        with open(self.path("run/ipactl.state"), "w") as handle:
            handle.write(state + "\n")

    def ipactl_stop(self):
        self.stop_slapd()
        self.set_services_state("stopped")

    def ipactl_start(self):
        self.start_slapd()
        self.set_services_state("running")

    # LDAP through the real client tools --------------------------------------------------

    def _pwfile(self):
        return self.path("etc/dirsrv/slapd-%s/dm_password" % self.instance)

    def search(self, base, scope="sub", filterstr="(objectClass=*)", attrs=()):
        proc = subprocess.run(["ldapsearch", "-LLL", "-x", "-o", "ldif-wrap=no", "-H", self.uri, "-D",
                               self.rootdn(base if base == "o=ipaca" or base.endswith(",o=ipaca") else None),
                               "-y", self._pwfile(), "-b", base, "-s", scope, filterstr] + list(attrs),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode == 32:  # no such object
            return []
        if proc.returncode != 0:
            raise ScriptError("LDAP search of %s failed: %s" % (base, proc.stderr.decode(errors="replace").strip()))
        return parse_ldif(proc.stdout.decode())

    def modify(self, ldif_text):
        proc = subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", self.rootdn(), "-y", self._pwfile()],
                              input=ldif_text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise ScriptError("LDAP modify failed: %s" % proc.stderr.decode(errors="replace").strip())

    def check_dm_password(self, password):
        """Binds as Directory Manager with ``password`` (through a root-only file, never argv)."""
        if not self.running():
            raise ScriptError("directory server instance is not running")
        fd, pwfile = tempfile.mkstemp(prefix=".dm", dir=self.path("run"))
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(password)
            proc = subprocess.run(["ldapwhoami", "-x", "-H", self.uri, "-D", self.rootdn(), "-y", pwfile],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        finally:
            os.unlink(pwfile)
        if proc.returncode == 49:
            raise ScriptError("Incorrect Directory Manager password provided")
        if proc.returncode != 0:
            raise ScriptError("Unable to bind to LDAP server: %s" % proc.stderr.decode(errors="replace").strip())

    # topology as FreeIPA stores it --------------------------------------------------------

    def masters_dn(self):
        return "cn=masters,cn=ipa,cn=etc,%s" % self.basedn

    def masters(self):
        return sorted(values(entry, "cn")[0] for entry in self.search(self.masters_dn(), "one", "(objectClass=*)", ["cn"]))

    def master_services(self, host):
        """{service cn: [ipaConfigString values]} under ``host``'s master entry."""
        entries = self.search("cn=%s,%s" % (host, self.masters_dn()), "one", "(objectClass=*)",
                              ["cn", "ipaConfigString"])
        return {values(entry, "cn")[0]: values(entry, "ipaConfigString") for entry in entries}

    def role_status(self, host):
        """[(role name, status)] for ``host``: enabled, hidden, configured or absent."""
        services = self.master_services(host)
        result = []
        for role, names in ROLE_NAMES:
            values = [v.lower() for name in names if name in services for v in services[name]]
            if not any(name in services for name in names):
                status = "absent"
            elif "enabledservice" in values:
                status = "enabled"
            elif "hiddenservice" in values:
                status = "hidden"
            else:
                status = "configured"
            result.append((role, status))
        return result

    def segments(self, suffix):
        base = "cn=%s,cn=topology,cn=ipa,cn=etc,%s" % (suffix, self.basedn)
        return [(values(entry, "cn")[0], values(entry, "ipaReplTopoSegmentLeftNode")[0],
                 values(entry, "ipaReplTopoSegmentRightNode")[0],
                 (values(entry, "ipaReplTopoSegmentDirection") or ["both"])[0])
                for entry in self.search(base, "one", "(ipaReplTopoSegmentLeftNode=*)")]

    def set_host_state(self, host, to_state):
        """Rewrites ``host``'s service entries from hidden to enabled or back."""
        old, new = ("hiddenService", "enabledService") if to_state == "enabled" else ("enabledService",
                                                                                      "hiddenService")
        changes = []
        for name, values in self.master_services(host).items():
            if any(v.lower() == old.lower() for v in values):
                changes.append("dn: cn=%s,cn=%s,%s\nchangetype: modify\ndelete: ipaConfigString\n"
                               "ipaConfigString: %s\n-\nadd: ipaConfigString\nipaConfigString: %s\n"
                               % (name, host, self.masters_dn(), old, new))
        if changes:
            self.modify("\n".join(changes))
        return bool(changes)

    # slapcat / slapadd -------------------------------------------------------------------

    def slapcat(self, suffix, out_path):
        proc = subprocess.run(["slapcat", "-f", self.slapd_conf, "-b", suffix, "-l", out_path],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise ScriptError("db2ldif failed: %s Check if destination directory %s has enough space."
                              % (proc.stdout.decode(errors="replace").strip(), os.path.dirname(out_path)))

    def slapadd(self, suffix, directory, ldif_path):
        """Replaces the database at ``directory`` with the entries of ``ldif_path`` (slapd stopped)."""
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        proc = subprocess.run(["slapadd", "-q", "-f", self.slapd_conf, "-b", suffix, "-l", ldif_path],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise ScriptError("ldif2db failed: %s" % proc.stdout.decode(errors="replace").strip())


def parse_ldif(text):
    """Entries of ldapsearch -LLL output as {attribute: [values]} with "dn"."""
    entries, current, last = [], None, None
    for line in text.splitlines():
        if line.startswith(" ") and current is not None and last is not None:
            current[last][-1] += line[1:]
            continue
        if not line.strip():
            if current:
                entries.append(current)
            current, last = None, None
            continue
        if line.startswith("#"):
            continue
        name, _sep, value = line.partition(":")
        if value.startswith(":"):
            value = base64.b64decode(value[1:].strip()).decode("utf-8", "replace")
        else:
            value = value.strip()
        if current is None:
            current = {}
        current.setdefault(name, []).append(value)
        last = name
    if current:
        entries.append(current)
    for entry in entries:
        entry["dn"] = entry["dn"][0]
    return entries


def values(entry, name):
    """An attribute's values, whatever case the server spelled its name in."""
    for key, found in entry.items():
        if key.lower() == name.lower() and key != "dn":
            return found
    return []


# --- logging as the admin tools do ------------------------------------------------------

class Log:
    """Console lines on standard error, also appended to the tool's log file."""

    def __init__(self, server, name, quiet=False):
        self.quiet = quiet
        self.file = None
        if server is not None:
            os.makedirs(server.path("var/log"), exist_ok=True)
            self.file = open(server.path("var/log/%s.log" % name), "a")

    def info(self, msg):
        if not self.quiet:
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        self._record("INFO", msg)

    def warning(self, msg):
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()
        self._record("WARNING", msg)

    def error(self, msg):
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()
        self._record("ERROR", msg)

    def _record(self, level, msg):
        if self.file is not None:
            self.file.write("%s %s %s\n" % (datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), level, msg))
            self.file.flush()


def fail_at(step):
    if os.environ.get("IPA_EMULATOR_FAIL") == step:
        raise ScriptError("%s failed: emulated failure (IPA_EMULATOR_FAIL=%s)" % (step, step))


def run_tool(name, body, server_needed=True, log_name=None):
    """Runs an admin tool's body with AdminTool's exit protocol."""
    server = None
    log_name = log_name or name.replace("-", "")
    log = Log(None, name)
    try:
        server = Server.from_env() if server_needed else None
        if server is not None:
            log = Log(server, log_name)
        body(server, log)
    except ScriptError as exc:
        log.error(exc.msg)
        if exc.rc == 1 and server is not None:
            log.error("The %s command failed. See %s for more information" % (name, "/var/log/%s.log" % log_name))
        return exc.rc
    log.info("The %s command was successful" % name)
    return 0


def read_password(prompt):
    """installutils.get_password: a terminal prompt, or one line of standard input when it is not one."""
    if sys.stdin.isatty():
        import getpass  # pylint: disable=import-outside-toplevel
        return getpass.getpass(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        return None
    return line.rstrip("\n")


def user_input(prompt, default=False):
    """ipautil.user_input for a yes/no question."""
    sys.stdout.write("%s [%s]: " % (prompt, "yes" if default else "no"))
    sys.stdout.flush()
    line = sys.stdin.readline()
    answer = line.strip().lower()
    if not answer:
        return default
    return answer in ("y", "yes", "true")


def gpg(args, log_failure="gpg failed: %s"):
    proc = subprocess.run(["gpg", "--batch"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        raise ScriptError(log_failure % proc.stderr.decode(errors="replace").strip())


def config_files(server, logs):
    """The files ipa-backup's files.tar holds, relative to the root (the real tool's paths without '/')."""
    wanted = ["etc/ipa", "etc/dirsrv/slapd-%s" % server.instance, "etc/hosts.ipa", "var/lib/ipa/sysrestore"]
    if logs:
        wanted += ["var/log/dirsrv", "var/log/ipaserver-install.log"]
    return [rel for rel in wanted if os.path.lexists(server.path(rel))]


# --- ipa-backup ----------------------------------------------------------------------------

def backup_parser():
    parser = optparse.OptionParser(usage="%prog [options]", prog="ipa-backup")
    parser.add_option("--gpg-keyring", dest="gpg_keyring", help=optparse.SUPPRESS_HELP)
    parser.add_option("--gpg", dest="gpg", action="store_true", default=False, help="Encrypt the backup")
    parser.add_option("--data", dest="data_only", action="store_true", default=False, help="Backup only the data")
    parser.add_option("--logs", dest="logs", action="store_true", default=False,
                      help="Include log files in backup")
    parser.add_option("--online", dest="online", action="store_true", default=False,
                      help="Perform the LDAP backups online, for data only.")
    parser.add_option("--disable-role-check", dest="disable_role_check", action="store_true", default=False,
                      help="Perform the backup even if this host does not have all the roles used in the cluster. "
                           "This is not recommended.")
    parser.add_option("-v", "--verbose", "-d", "--debug", dest="verbose", action="store_true", default=False)
    parser.add_option("-q", "--quiet", dest="quiet", action="store_true", default=False)
    parser.add_option("--log-file", dest="log_file")
    return parser


def main_backup(argv):
    parser = backup_parser()
    options, args = parser.parse_args(argv)
    if args:
        parser.error("No arguments are expected")

    def body(server, log):
        log.quiet = options.quiet
        if not server.configured:
            raise ScriptError("IPA is not configured on this system.", 2)
        if options.gpg_keyring is not None:
            sys.stderr.write("--gpg-keyring is no longer supported, use GNUPGHOME environment variable to use "
                             "a custom GnuPG2 directory.\n")
            options.gpg = True
        if options.online and not options.data_only:
            parser.error("You cannot specify --online without --data")
        if options.gpg:
            probe_dir = tempfile.mkdtemp("ipa")
            try:
                probe = os.path.join(probe_dir, "encryptme")
                with open(probe, "w") as handle:
                    handle.write("encryptme")
                gpg(["--default-recipient-self", "--output", probe + ".gpg", "--encrypt", probe])
            finally:
                shutil.rmtree(probe_dir)
        if options.data_only and options.logs:
            parser.error("You cannot specify --data with --logs")
        backup(server, log, options)

    return run_tool("ipa-backup", body)


def check_roles(server, log):
    """Refuses when this host lacks a role (CA, KRA, DNS, AD trust) some server of the topology has."""
    in_use, local = set(), set()
    for host in server.masters():
        for role, status in server.role_status(host):
            if status in ("enabled", "hidden") and role != "IPA master":
                in_use.add(role)
                if host == server.host:
                    local.add(role)
    missing = sorted(in_use - local)
    if missing:
        for role in missing:
            log.error("Error: %s is used in the topology but is not installed on %s" % (role, server.host))
        raise ScriptError("This host does not have all the roles used in the cluster: a backup of it would not "
                          "be sufficient to restore the deployment. Run ipa-backup on a server with all roles "
                          "installed, or use --disable-role-check (not recommended).")


def backup(server, log, options):
    log.info("Preparing backup on %s" % server.host)
    top_dir = tempfile.mkdtemp("ipa")  # honours TMPDIR, as the real tool does
    work = os.path.join(top_dir, "ipa")
    os.mkdir(work, 0o750)
    try:
        server.start_slapd()  # "We need the dirsrv running to get the list of services"
        header = create_header(server, options.data_only)
        if not options.disable_role_check:
            check_roles(server, log)
        if options.data_only:
            if not options.online:
                log.info("Stopping Directory Server")
                server.stop_slapd()
        else:
            log.info("Stopping IPA services")
            server.ipactl_stop()
        for backend, suffix, directory in server.backends():
            if os.path.isdir(directory):
                log.info("Backing up %s in %s to LDIF" % (backend, server.instance))
                fail_at("db2ldif")
                server.slapcat(suffix, os.path.join(work, "%s-%s.ldif" % (server.instance, backend)))
        log.info("Backing up %s" % server.instance)
        bak = os.path.join(work, server.instance)
        os.mkdir(bak)
        for backend, suffix, _directory in server.backends():
            os.mkdir(os.path.join(bak, backend))
            server.slapcat(suffix, os.path.join(bak, backend, "%s.ldif" % backend))
        files_tar = None
        if not options.data_only:
            log.info("Backing up files")
            files_tar = os.path.join(work, "files.tar")
            with tarfile.open(files_tar, "w:gz", format=tarfile.PAX_FORMAT) as tar:
                for rel in config_files(server, options.logs):
                    tar.add(server.path(rel), arcname=rel)
        if options.data_only:
            if not options.online:
                log.info("Starting Directory Server")
                server.start_slapd()
        else:
            log.info("Starting IPA service")
            server.ipactl_start()
        finalize_backup(server, log, work, header, options)
    finally:
        shutil.rmtree(top_dir, ignore_errors=True)


def create_header(server, data_only):
    config = configparser.ConfigParser()
    config.add_section("ipa")
    config.set("ipa", "type", "DATA" if data_only else "FULL")
    config.set("ipa", "time", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
    config.set("ipa", "host", server.host)
    config.set("ipa", "ipa_version", server.conf.get("ipa_version", IPA_VERSION))
    config.set("ipa", "version", "1")
    config.set("ipa", "services", ",".join(sorted(server.master_services(server.host))))
    return config


def finalize_backup(server, log, work, header, options):
    kind = "data" if options.data_only else "full"
    backup_dir = os.path.join(server.backup_dir, time.strftime("ipa-%s-%%Y-%%m-%%d-%%H-%%M-%%S" % kind, time.gmtime()))
    try:
        os.makedirs(server.backup_dir, exist_ok=True)
        os.mkdir(backup_dir, 0o700)
    except OSError as exc:
        raise ScriptError("Could not create backup directory: %s" % exc)
    filename = os.path.join(backup_dir, "ipa-%s.tar" % kind)
    with tarfile.open(filename, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.add(work, arcname=".")
    if options.gpg:
        log.info("Encrypting %s" % filename)
        gpg(["--default-recipient-self", "--output", filename + ".gpg", "--encrypt", filename])
        os.unlink(filename)
    with open(os.path.join(backup_dir, "header"), "w") as handle:
        header.write(handle)
    log.info("Backed up to %s" % backup_dir)


# --- ipa-restore ----------------------------------------------------------------------------

def restore_parser():
    parser = optparse.OptionParser(usage="%prog [options] backup", prog="ipa-restore")
    parser.add_option("-p", "--password", dest="password", help="Directory Manager password")
    parser.add_option("--gpg-keyring", dest="gpg_keyring", help=optparse.SUPPRESS_HELP)
    parser.add_option("--data", dest="data_only", action="store_true", default=False, help="Restore only the data")
    parser.add_option("--online", dest="online", action="store_true", default=False,
                      help="Perform the LDAP restores online, for data only.")
    parser.add_option("--instance", dest="instance", help="The 389-ds instance to restore (defaults to all found)")
    parser.add_option("--backend", dest="backend", help="The backend to restore within the instance or instances")
    parser.add_option("--no-logs", dest="no_logs", action="store_true", default=False,
                      help="Do not restore log files from the backup")
    parser.add_option("-U", "--unattended", dest="unattended", action="store_true", default=False,
                      help="Unattended restoration never prompts the user")
    parser.add_option("-v", "--verbose", "-d", "--debug", dest="verbose", action="store_true", default=False)
    parser.add_option("-q", "--quiet", dest="quiet", action="store_true", default=False)
    parser.add_option("--log-file", dest="log_file")
    return parser


def main_restore(argv):
    parser = restore_parser()
    options, args = parser.parse_args(argv)

    def body(server, log):
        log.quiet = options.quiet
        if len(args) < 1:
            parser.error("must provide the backup to restore")
        elif len(args) > 1:
            parser.error("must provide exactly one name for the backup")
        dirname = args[0] if os.path.isabs(args[0]) else os.path.join(server.backup_dir, args[0])
        if not os.path.isdir(dirname):
            parser.error("must provide path to backup directory")
        password = None
        if server.configured:  # "no IPA config means we are reinstalling from nothing"
            password = options.password
            if not password and not options.unattended:
                password = read_password("Directory Manager (existing master) password: ")
                sys.stdout.write("\n")
            if not password:
                raise ScriptError("Directory Manager password required")
        restore(server, log, options, dirname, password)

    return run_tool("ipa-restore", body)


def read_header(dirname):
    config = configparser.ConfigParser()
    try:
        with open(os.path.join(dirname, "header")) as handle:
            config.read_file(handle)
        fields = ("type", "time", "host", "ipa_version", "version", "services")
        return {key: config.get("ipa", key) for key in fields}
    except (OSError, configparser.Error) as exc:
        raise ScriptError("Cannot read backup metadata: %s" % exc)


def restore(server, log, options, dirname, password):
    log.info("Preparing restore from %s on %s" % (dirname, server.host))
    header = read_header(dirname)
    services = header["services"].split(",")
    restore_type = "DATA" if options.data_only else header["type"]
    if restore_type == "FULL":
        if options.online:
            raise ScriptError("File restoration cannot be done online")
        if options.instance or options.backend:
            raise ScriptError("Restore must be in data-only mode when restoring a specific instance or backend")
    else:
        if not server.configured:
            raise ScriptError("IPA is not configured on this system.", 2)
        if not any(os.path.isdir(directory) and os.listdir(directory) for _b, _s, directory in server.backends()):
            raise ScriptError("Cannot restore a data backup into an empty system")
    if password is not None:
        server.check_dm_password(password)
    log.info("Performing %s restore from %s backup" % (restore_type, header["type"]))
    if header["host"] != server.host:
        raise ScriptError("Host name %s does not match backup name %s" % (server.host, header["host"]))
    local_version = server.conf.get("ipa_version", IPA_VERSION)
    if header["ipa_version"] != local_version:
        log.warning("Restoring data from a different release of IPA.\nData is version %s.\nServer is running %s."
                    % (header["ipa_version"], local_version))
        if not options.unattended and not user_input("Continue to restore?", False):
            raise ScriptError("Aborted")
    if restore_type == "FULL":
        if "ADTRUST" in services and not os.path.isfile(server.path(PACKAGE_TOOLS["trust"])):
            raise ScriptError("Backup includes AD trust feature, it requires 'freeipa-server-trust-ad' package. "
                              "Please install the package and run ipa-restore again.")
        if "DNS" in services and not os.path.isfile(server.path(PACKAGE_TOOLS["dns"])):
            raise ScriptError("Backup includes Integrated DNS feature, it requires 'freeipa-server-dns' package. "
                              "Please install the package and run ipa-restore again.")
    top_dir = tempfile.mkdtemp("ipa")
    work = os.path.join(top_dir, "ipa")
    os.mkdir(work, 0o750)
    log.info("Temporary setting umask to 022")
    old_umask = os.umask(0o022)
    try:
        extract_backup(log, dirname, header["type"], work)
        databases = [(backend, suffix, directory) for backend, suffix, directory in server.backends()
                     if os.path.exists(os.path.join(work, "%s-%s.ldif" % (server.instance, backend)))]
        if not options.unattended and not user_input(
                "Restoring data will overwrite existing live data. Continue to restore?", False):
            raise ScriptError("Aborted")
        log.info("Each master will individually need to be re-initialized or")
        log.info("re-created from this one. The replication agreements on")
        log.info("masters running IPA 3.1 or earlier will need to be manually")
        log.info("re-enabled. See the man page for details.")
        log.info("Disabling all replication.")
        if server.running():
            disable_agreements(server, log)
        if restore_type != "FULL":
            log.info("Stopping Directory Server")
            server.stop_slapd()
        else:
            log.info("Stopping IPA services")
            server.ipactl_stop()
            log.info("Restoring files")
            with tarfile.open(os.path.join(work, "files.tar"), "r:gz") as tar:
                members = [m for m in tar.getmembers()
                           if not (options.no_logs and m.name.startswith("var/log"))
                           and not m.name.startswith("/") and ".." not in m.name.split("/")]
                tar.extractall(server.root, members=members)  # noqa: S202  (members checked above)
            adopt_restored_files(server, log)
        for directory in server.database_dirs():
            os.makedirs(directory, exist_ok=True)  # a fresh host has no instance yet; ipa-restore creates it
        for backend, suffix, directory in databases:
            log.info("Restoring from %s in %s" % (backend, server.instance))
            if backend == "ipaca" and os.environ.get("IPA_EMULATOR_FAIL") == "skip-ipaca":
                continue  # a tool that says it restored and did not: what a drill's content check is for
            fail_at("ldif2db")
            server.slapadd(suffix, directory, os.path.join(work, "%s-%s.ldif" % (server.instance, backend)))
        if restore_type != "FULL":
            log.info("Starting Directory Server")
            server.start_slapd()
        else:
            log.info("Restarting GSS-proxy")
            log.info("Starting IPA services")
            server.ipactl_start()
            log.info("Restarting SSSD")
            log.info("Restarting oddjobd")
        replication_resumes(server)
        # What the issue reports of the product: the restored server comes back enabled, not hidden.
        server.set_host_state(server.host, "enabled")
    finally:
        shutil.rmtree(top_dir, ignore_errors=True)
        log.info("Restoring umask to %d" % old_umask)
        os.umask(old_umask)


def adopt_restored_files(server, log):
    """Points the configuration files a full restore brought back at this root, its slapd URI and schema.

    On a real host the restored files name the same paths as before (/etc/dirsrv, /var/lib/dirsrv...). Here every
    emulated server has its own root and slapd port, and a replacement server (``create --unconfigured``) may get
    another root or port than the one its backup was taken on: its slapd.conf would still name the old root's
    database, pid file and schema, and default.conf the old URI. Rewritten, they name this root; on the server the
    backup was taken on, nothing changes.
    """
    slapd_conf = server.slapd_conf
    try:
        with open(slapd_conf) as handle:
            text = handle.read()
    except OSError:
        return
    match = re.search(r"^pidfile\s+(\S+)/run/slapd\.pid\s*$", text, re.M)
    new = text
    if match and match.group(1) != server.root:
        new = new.replace(match.group(1) + "/", server.root + "/")
    new = re.sub(r"^include\s+\S+/ldap/ipa-emulator\.schema\s*$",
                 "include %s/ldap/ipa-emulator.schema" % EMULATOR_DIR, new, flags=re.M)
    if new != text:
        log.info("Pointing the restored %s at %s" % (os.path.relpath(slapd_conf, server.root), server.root))
        with open(slapd_conf, "w") as handle:
            handle.write(new)
    if os.path.isfile(server.default_conf):
        with open(server.default_conf) as handle:
            text = handle.read()
        new = re.sub(r"^ldap_uri = .*$", "ldap_uri = %s" % server.uri, text, flags=re.M)
        if new != text:
            with open(server.default_conf, "w") as handle:
                handle.write(new)
    address = server.uri.split("//", 1)[1].rstrip("/").rsplit(":", 1)[0]
    with open(server.path("etc/hosts.ipa"), "w") as handle:
        handle.write("%s %s\n" % (address, server.host))


def extract_backup(log, dirname, backup_type, work):
    filename = os.path.join(dirname, "ipa-full.tar" if backup_type == "FULL" else "ipa-data.tar")
    decrypted = None
    if not os.path.exists(filename):
        if not os.path.exists(filename + ".gpg"):
            raise ScriptError("Unable to find backup file in %s" % dirname)
        log.info("Decrypting %s" % (filename + ".gpg"))
        decrypted = os.path.join(os.path.dirname(work), os.path.basename(filename))
        gpg(["--output", decrypted, "--decrypt", filename + ".gpg"])
        filename = decrypted
    try:
        with tarfile.open(filename, "r:gz") as tar:
            tar.extractall(work)  # noqa: S202  (the tool trusts its own backups, as the real one does)
    except (tarfile.TarError, OSError) as exc:
        raise ScriptError("tar returned non-zero code 2: %s" % exc)
    finally:
        if decrypted is not None and os.path.exists(decrypted):
            os.unlink(decrypted)


def disable_agreements(server, log):
    for master in server.masters():
        if master == server.host:
            continue
        reached, error = contact_peer(server, master, "ipa-restore: disable the replication agreement with %s"
                                      % server.host)
        if not reached:
            log.error("Unable to disable agreement on %s: %s" % (master, error))
            continue
        for suffix, label in (("domain", "replication agreement"), ("ca", "CA replication agreement")):
            for _name, left, right, _direction in server.segments(suffix):
                if master in (left, right):
                    log.info("Disabling %s on %s to %s" % (label, master, right if left == master else left))


def replication_resumes(server):
    """The restored directory is up: its replication agreements reach each topology peer of this host."""
    peers = set()
    for suffix in ("domain", "ca"):
        for _name, left, right, _direction in server.segments(suffix):
            if server.host in (left, right):
                peers.add(right if left == server.host else left)
    for peer in sorted(peers):
        contact_peer(server, peer, "replication from the restored %s" % server.host)


def contact_peer(server, host, purpose):
    """Connects to ``host``'s directory server as IdM would; records the attempt; returns (reached, error)."""
    uri, reached, error = None, False, None
    try:
        uri = peer_server(server, host).uri
        address, port = uri.split("//", 1)[1].rstrip("/").rsplit(":", 1)
        with socket.create_connection((address, int(port)), timeout=2):
            reached = True
    except ScriptError as exc:
        error = exc.msg
    except OSError as exc:
        error = "cannot connect to %s: %s" % (uri, exc.strerror or exc)
    record = {"at": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "from": server.host,
              "root": server.root, "to": host, "uri": uri, "purpose": purpose, "reached": reached, "error": error}
    cluster_file = server.conf.get("cluster") or server.path("cluster.json")
    with open(os.path.join(os.path.dirname(cluster_file), "peer-contacts.jsonl"), "a") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")
    return reached, error


# --- ipa-server-install --uninstall ----------------------------------------------------------

# What an installed server holds and its uninstall removes; the packages' files and the backups stay.
INSTALLED = ["etc/ipa", "etc/dirsrv", "etc/hosts.ipa", "var/lib/dirsrv", "var/log/dirsrv", "run/ipactl.state"]


def main_server_install(argv):
    parser = optparse.OptionParser(usage="%prog --uninstall [options]", prog="ipa-server-install")
    parser.add_option("--uninstall", dest="uninstall", action="store_true", default=False)
    parser.add_option("-U", "--unattended", dest="unattended", action="store_true", default=False)
    parser.add_option("--ignore-topology-disconnect", dest="ignore_topology", action="store_true", default=False)
    parser.add_option("--ignore-last-of-role", dest="ignore_last", action="store_true", default=False)
    options, args = parser.parse_args(argv)
    if args or not options.uninstall:
        parser.error("this emulator knows only ipa-server-install --uninstall")

    def body(server, log):
        if not server.configured:
            log.warning("WARNING:\nIPA server is not configured on this system. If you want to install the\n"
                        "IPA server, please install it using 'ipa-server-install'.")
        if not options.unattended and not user_input("Are you sure you want to continue with the uninstall "
                                                     "procedure?", False):
            raise ScriptError("Aborted")
        if server.configured and server.running() and not options.ignore_topology:
            cut = disconnected_by_removal(server)
            if cut:
                raise ScriptError("Server removal aborted:\n\nReplication topology in suffix '%s' is disconnected:"
                                  "\n%s" % cut)
        log.info("Shutting down all IPA services")
        server.ipactl_stop()
        for rel in INSTALLED:
            path = server.path(rel)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        log.info("Removed the IdM configuration and data of %s; the backups in %s stay"
                 % (server.host, server.backup_dir))

    return run_tool("ipa-server-install", body, log_name="ipaserver-uninstall")


def disconnected_by_removal(server):
    """(suffix, lines) when the other servers could no longer replicate with each other without this one."""
    for suffix in ("domain", "ca"):
        segments = server.segments(suffix)
        others = {node for _n, left, right, _d in segments for node in (left, right)} - {server.host}
        links = [(left, right) for _n, left, right, _d in segments if server.host not in (left, right)]
        if not others:
            continue
        reached, todo = set(), [sorted(others)[0]]
        while todo:
            node = todo.pop()
            if node not in reached:
                reached.add(node)
                todo.extend(b if a == node else a for a, b in links if node in (a, b))
        lost = sorted(others - reached)
        if lost:
            return suffix, "\n".join("Topology does not allow server %s to replicate with servers:\n"
                                     "    %s" % (host, ", ".join(sorted(reached))) for host in lost)
    return None


# --- ipactl -------------------------------------------------------------------------------

def main_ipactl(argv):
    if len(argv) != 1 or argv[0] not in ("start", "stop", "restart", "status"):
        sys.stderr.write("Usage: ipactl start|stop|restart|status\n")
        return 2
    try:
        server = Server.from_env()
    except ScriptError as exc:
        sys.stderr.write(exc.msg + "\n")
        return exc.rc
    action = argv[0]
    if not server.configured:
        # ipactl's check_IPA_configuration: LSB 4 (status unknown) for status, 6 (not configured) otherwise.
        sys.stderr.write("IPA is not configured (see man pages of ipa-server-install for help)\n")
        return 4 if action == "status" else 6
    try:
        if action in ("stop", "restart"):
            for service in reversed(IPACTL_SERVICES):
                print("Stopping %s Service" % service)
            server.ipactl_stop()
        if action in ("start", "restart"):
            for service in IPACTL_SERVICES:
                print("Starting %s Service" % service)
            server.ipactl_start()
    except ScriptError as exc:
        sys.stderr.write(exc.msg + "\n")
        return 1
    if action == "status":
        if not server.running():
            print("Directory Service: STOPPED")
            print("Directory Service must be running in order to obtain status of other services")
            return 3
        state = "RUNNING" if server.services_state() == "running" else "STOPPED"
        print("Directory Service: RUNNING")
        for service in IPACTL_SERVICES[1:]:
            print("%s Service: %s" % (service, state))
        if state != "RUNNING":
            return 3
    sys.stderr.write("ipa: INFO: The ipactl command was successful\n")
    return 0


# --- ipa (the command-line client) ----------------------------------------------------------

def banner(text):
    line = "-" * len(text)
    return "%s\n%s\n%s" % (line, text, line)


def print_entries(entries, summary):
    print(banner(summary))
    blocks = []
    for entry in entries:
        blocks.append("\n".join("  %s: %s" % (key, value) for key, value in entry))
    if blocks:
        print("\n\n".join(blocks))
    print(banner("Number of entries returned %d" % len(entries)))


def ipa_error(msg, rc):
    sys.stderr.write("ipa: ERROR: %s\n" % msg)
    return rc


def main_ipa(argv):
    if argv[:1] == ["--version"]:
        try:
            version = Server.from_env().conf.get("ipa_version", IPA_VERSION)
        except ScriptError:
            version = IPA_VERSION
        print("VERSION: %s, API_VERSION: %s" % (version, API_VERSION))
        return 0
    if not argv:
        return ipa_error("a command is required", 2)
    try:
        server = Server.from_env()
        if not server.configured:
            # ipalib.cli.run: sys.exit(ScriptError) of check_client_configuration, so no "ipa: ERROR:" and exit 1.
            sys.stderr.write("IPA client is not configured on this system\n")
            return 1
        if not server.running():
            return ipa_error("cannot connect to 'https://%s/ipa/json': [Errno 111] Connection refused"
                             % server.host, 1)
        command, rest = argv[0], argv[1:]
        handler = IPA_COMMANDS.get(command)
        if handler is None:
            return ipa_error("unknown command '%s'" % command, 2)
        return handler(server, rest)
    except ScriptError as exc:
        return ipa_error(exc.msg, exc.rc)


def _options(args, flags=(), valued=()):
    positional, opts = [], {}
    for arg in args:
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            if name in flags and not has_value:
                opts[name] = True
            elif name in valued and has_value:
                opts[name] = value
            else:
                raise ScriptError("no such option: --%s" % name, 2)
        else:
            positional.append(arg)
    return positional, opts


def ipa_server_find(server, args):
    _options(args)
    entries = [[("Server name", host), ("Min domain level", "1"), ("Max domain level", "1")]
               for host in server.masters()]
    print_entries(entries, "%d IPA server%s matched" % (len(entries), "" if len(entries) == 1 else "s"))
    return 0 if entries else 1


def ipa_server_show(server, args):
    positional, _opts = _options(args)
    if len(positional) != 1:
        raise ScriptError("'name' is required", 2)
    host = positional[0]
    if host not in server.masters():
        raise ScriptError("%s: server not found" % host, 2)
    suffixes = ["domain"] + (["ca"] if any(host in seg[1:3] for seg in server.segments("ca")) else [])
    enabled = [role for role, status in server.role_status(host) if status == "enabled"]
    lines = [("Server name", host), ("Managed suffixes", ", ".join(suffixes)), ("Min domain level", "1"),
             ("Max domain level", "1")]
    if enabled:
        lines.append(("Enabled server roles", ", ".join(enabled)))
    print("\n".join("  %s: %s" % pair for pair in lines))
    return 0


def ipa_server_role_find(server, args):
    _positional, opts = _options(args, flags=("include-master",), valued=("server", "role", "status"))
    entries = []
    for host in server.masters():
        if opts.get("server") and opts["server"] != host:
            continue
        for role, status in server.role_status(host):
            if role == "IPA master" and not opts.get("include-master"):
                continue
            if opts.get("role") and opts["role"].lower() != role.lower():
                continue
            if opts.get("status") and opts["status"] != status:
                continue
            entries.append([("Server name", host), ("Role name", role), ("Role status", status)])
    print_entries(entries, "%d server role%s matched" % (len(entries), "" if len(entries) == 1 else "s"))
    return 0 if entries else 1


def ipa_server_state(server, args):
    positional, opts = _options(args, valued=("state",))
    if len(positional) != 1 or opts.get("state") not in ("enabled", "hidden"):
        raise ScriptError("invalid 'state': must be one of 'enabled', 'hidden'", 1)
    host, state = positional[0], opts["state"]
    if host not in server.masters():
        raise ScriptError("%s: server not found" % host, 2)
    from_status = "hidden" if state == "enabled" else "enabled"
    if not any(status == from_status for _role, status in server.role_status(host)):
        raise ScriptError("no modifications to be performed", 1)
    if state == "hidden":
        problems = []
        if any("caRenewalMaster".lower() == v.lower() for v in server.master_services(host).get("CA", [])):
            problems.append("Cannot hide CA renewal master.")
        for role, label in (("CA server", "CA"), ("DNS server", "DNS"), ("IPA master", "IPA"), ("KRA server", "KRA")):
            enabled = [h for h in server.masters() if (role, "enabled") in server.role_status(h)]
            if enabled == [host]:
                problems.append("Cannot hide last enabled %s server." % label)
        if problems:
            raise ScriptError("invalid '%s': %s" % (host, " ".join(problems)), 1)
    server.set_host_state(host, state)
    print(banner('Changed server state of "%s".' % host))
    return 0


def ipa_topologysegment_find(server, args):
    positional, _opts = _options(args)
    if len(positional) != 1 or positional[0] not in ("domain", "ca"):
        raise ScriptError("topologysuffix: 'domain' or 'ca' is required", 2)
    entries = [[("Segment name", name), ("Left node", left), ("Right node", right), ("Connectivity", direction)]
               for name, left, right, direction in server.segments(positional[0])]
    print_entries(entries, "%d segment%s matched" % (len(entries), "" if len(entries) == 1 else "s"))
    return 0 if entries else 1


def _user_dn(server, login):
    return "uid=%s,cn=users,cn=accounts,%s" % (login, server.basedn)


def ipa_user_show(server, args):
    positional, _opts = _options(args, flags=("all",))
    if len(positional) != 1:
        raise ScriptError("'login' is required", 2)
    found = server.search(_user_dn(server, positional[0]), "base")
    if not found:
        raise ScriptError("%s: user not found" % positional[0], 2)
    entry = found[0]
    lines = [("User login", positional[0]), ("First name", (values(entry, "givenName") or [""])[0]),
             ("Last name", (values(entry, "sn") or [""])[0]),
             ("Home directory", (values(entry, "homeDirectory") or [""])[0]),
             ("UID", (values(entry, "uidNumber") or [""])[0])]
    print("\n".join("  %s: %s" % pair for pair in lines))
    return 0


def ipa_user_del(server, args):
    positional, _opts = _options(args)
    if len(positional) != 1:
        raise ScriptError("'login' is required", 2)
    if not server.search(_user_dn(server, positional[0]), "base"):
        raise ScriptError("%s: user not found" % positional[0], 2)
    server.modify("dn: %s\nchangetype: delete\n" % _user_dn(server, positional[0]))
    print(banner('Deleted user "%s"' % positional[0]))
    return 0


IPA_COMMANDS = {
    "server-find": ipa_server_find,
    "server-show": ipa_server_show,
    "server-role-find": ipa_server_role_find,
    "server-state": ipa_server_state,
    "topologysegment-find": ipa_topologysegment_find,
    "user-show": ipa_user_show,
    "user-del": ipa_user_del,
}


# --- ipa-replica-manage / ipa-csreplica-manage re-initialize -----------------------------------

def main_reinitialize(tool, argv):
    parser = optparse.OptionParser(usage="%prog [options] re-initialize --from=SERVER", prog=tool)
    parser.add_option("-p", "--password", dest="password")
    parser.add_option("--from", dest="fromhost")
    parser.add_option("-v", "--verbose", dest="verbose", action="store_true", default=False)
    options, args = parser.parse_args(argv)
    if args != ["re-initialize"]:
        parser.error("this emulator knows only: re-initialize --from=SERVER")
    if not options.fromhost:
        parser.error("re-initialize requires the option --from <host name>")
    try:
        server = Server.from_env()
        password = options.password or read_password("Directory Manager password: ")
        print("")
        if not password:
            raise ScriptError("Directory Manager password required")
        server.check_dm_password(password)
        backend = "ipaca" if tool == "ipa-csreplica-manage" else "userRoot"
        suffix = "ca" if backend == "ipaca" else "domain"
        if not any(server.host in (left, right) and options.fromhost in (left, right)
                   for _n, left, right, _d in server.segments(suffix)):
            raise ScriptError("'%s' has no replication agreement for '%s'" % (options.fromhost, server.host))
        peer = peer_server(server, options.fromhost)
        begin = time.monotonic()
        _name, peer_suffix, _dir = [b for b in peer.backends() if b[0] == backend][0]
        work = tempfile.mkdtemp("ipa")
        try:
            ldif = os.path.join(work, "%s.ldif" % backend)
            peer.slapcat(peer_suffix, ldif)
            server.stop_slapd()
            try:
                _name, suffix_dn, directory = [b for b in server.backends() if b[0] == backend][0]
                server.slapadd(suffix_dn, directory, ldif)
            finally:
                server.start_slapd()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print("Update in progress, %d seconds elapsed" % max(1, int(time.monotonic() - begin)))
        print("Update succeeded")
        return 0
    except ScriptError as exc:
        sys.stderr.write(exc.msg + "\n")
        return exc.rc


def peer_server(server, host):
    cluster_file = server.conf.get("cluster")
    try:
        with open(cluster_file) as handle:
            roots = json.load(handle).get("roots", {})
    except (OSError, TypeError, ValueError):
        roots = {}
    if host not in roots:
        raise ScriptError("Unable to connect to %s: it is not an emulated server of this cluster" % host)
    return Server(roots[host])


# --- building emulated servers ------------------------------------------------------------------

SLAPD_CONF = """# slapd.conf of an emulated IdM server (written by ipa-emulator create)
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
include {emulator}/ldap/ipa-emulator.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {root}/run/slapd.pid
argsfile {root}/run/slapd.args
sizelimit unlimited

database mdb
suffix "o=ipaca"
rootdn "cn=Directory Manager,o=ipaca"
rootpw {rootpw}
directory {db}/ipaca
maxsize 67108864

database mdb
suffix "{basedn}"
rootdn "cn=Directory Manager,{basedn}"
rootpw {rootpw}
directory {db}/userRoot
maxsize 67108864

# 389-ds's root DN, cn=Directory Manager (OpenLDAP takes a root password only under a database's suffix)
database mdb
suffix "cn=Directory Manager"
rootdn "cn=Directory Manager"
rootpw {rootpw}
directory {db}/dm
maxsize 1048576
"""


def seed_ldif(basedn, domain, cluster, users):
    """The IdM-like tree every emulated server of ``cluster`` starts with."""
    out = []

    def entry(dn, *lines):
        out.append("dn: %s\n%s\n" % (dn, "\n".join(lines)))

    dc = basedn.split(",")[0].split("=")[1]
    entry(basedn, "objectClass: top", "objectClass: domain", "dc: %s" % dc)
    for cn in ("accounts", "etc"):
        entry("cn=%s,%s" % (cn, basedn), "objectClass: nsContainer", "cn: %s" % cn)
    for cn in ("users", "groups", "computers"):
        entry("cn=%s,cn=accounts,%s" % (cn, basedn), "objectClass: nsContainer", "cn: %s" % cn)
    for number, login in enumerate(users):
        entry("uid=%s,cn=users,cn=accounts,%s" % (login, basedn), "objectClass: inetOrgPerson",
              "objectClass: posixAccount", "objectClass: ipaObject", "uid: %s" % login, "cn: %s" % login.title(),
              "givenName: %s" % login.title(), "sn: User", "uidNumber: %d" % (1000 + number),
              "gidNumber: %d" % (1000 + number), "homeDirectory: /home/%s" % login,
              "krbPrincipalName: %s@%s" % (login, domain.upper()))
    entry("cn=admins,cn=groups,cn=accounts,%s" % basedn, "objectClass: posixGroup", "objectClass: ipaObject",
          "cn: admins", "gidNumber: 999", "memberUid: admin")
    entry("cn=ipausers,cn=groups,cn=accounts,%s" % basedn, "objectClass: posixGroup", "cn: ipausers",
          "gidNumber: 998", *["memberUid: %s" % login for login in users])
    servers = cluster["servers"]
    for server in servers:
        entry("fqdn=%s,cn=computers,cn=accounts,%s" % (server["host"], basedn), "objectClass: ipaHost",
              "fqdn: %s" % server["host"], "cn: %s" % server["host"],
              "krbPrincipalName: host/%s@%s" % (server["host"], domain.upper()))
    entry("cn=ipa,cn=etc,%s" % basedn, "objectClass: nsContainer", "cn: ipa")
    entry("cn=masters,cn=ipa,cn=etc,%s" % basedn, "objectClass: nsContainer", "cn: masters")
    renewal_master = next((s["host"] for s in servers if "CA" in s.get("roles", [])), None)
    for server in servers:
        host = server["host"]
        state = "hiddenService" if server.get("hidden") else "enabledService"
        entry("cn=%s,cn=masters,cn=ipa,cn=etc,%s" % (host, basedn), "objectClass: nsContainer", "cn: %s" % host)
        names = list(MASTER_SERVICES)
        for role in server.get("roles", []):
            names += ROLE_SERVICES[role]
        for name in sorted(names):
            extra = ["ipaConfigString: caRenewalMaster"] if name == "CA" and host == renewal_master else []
            entry("cn=%s,cn=%s,cn=masters,cn=ipa,cn=etc,%s" % (name, host, basedn), "objectClass: nsContainer",
                  "objectClass: ipaObject", "cn: %s" % name, "ipaConfigString: %s" % state, *extra)
    entry("cn=topology,cn=ipa,cn=etc,%s" % basedn, "objectClass: nsContainer", "cn: topology")
    ca_hosts = [s["host"] for s in servers if "CA" in s.get("roles", [])]
    for suffix, root, hosts in (("domain", basedn, [s["host"] for s in servers]), ("ca", "o=ipaca", ca_hosts)):
        entry("cn=%s,cn=topology,cn=ipa,cn=etc,%s" % (suffix, basedn), "objectClass: nsContainer",
              "objectClass: ipaTopology", "cn: %s" % suffix, "ipaReplTopoConfRoot: %s" % root)
        for left, right in zip(hosts, hosts[1:]):  # a line: A <-> B <-> C, as in the RHEL example
            name = "%s-to-%s" % (left, right)
            entry("cn=%s,cn=%s,cn=topology,cn=ipa,cn=etc,%s" % (name, suffix, basedn), "objectClass: nsContainer",
                  "objectClass: ipaTopology", "cn: %s" % name, "ipaReplTopoSegmentLeftNode: %s" % left,
                  "ipaReplTopoSegmentRightNode: %s" % right, "ipaReplTopoSegmentDirection: both")
    return "\n".join(out)


def ca_ldif(certificates):
    out = ["dn: o=ipaca\nobjectClass: top\nobjectClass: organization\no: ipaca\n",
           "dn: ou=ca,o=ipaca\nobjectClass: organizationalUnit\nou: ca\n",
           "dn: ou=certificateRepository,ou=ca,o=ipaca\nobjectClass: organizationalUnit\nou: certificateRepository\n"]
    for serial in range(1, certificates + 1):
        out.append("dn: cn=%d,ou=certificateRepository,ou=ca,o=ipaca\nobjectClass: certificateRecord\ncn: %d\n"
                   "serialno: %d\ncertStatus: VALID\nsubjectName: CN=Certificate %d,O=EXAMPLE.TEST\n"
                   % (serial, serial, serial, serial))
    return "\n".join(out)


def install_packages(root, host, port, cluster_file, address, unconfigured):
    """What installing the IdM packages leaves: emulator.json, the package tools, the package's directories.

    Returns (cluster, emulator.json's contents). An ``unconfigured`` server gets no more: ``ipa-server-install``
    was never run, so it has no default.conf, no directory server instance and no data.
    """
    with open(cluster_file) as handle:
        cluster = json.load(handle)
    mine = [s for s in cluster["servers"] if s["host"] == host]
    if not mine:
        raise ScriptError("%s is not a server of %s" % (host, cluster_file))
    domain = cluster.get("domain", "example.test")
    realm = domain.upper()
    basedn = ",".join("dc=%s" % part for part in domain.split("."))
    instance = realm.replace(".", "-")
    root = os.path.abspath(root)
    dirs = ["var/lib/ipa/backup", "var/lib/ipa/sysrestore", "run", "usr/sbin"]
    if not unconfigured:
        dirs += ["etc/ipa", "etc/dirsrv/slapd-%s" % instance, "var/lib/dirsrv/slapd-%s/db/userRoot" % instance,
                 "var/lib/dirsrv/slapd-%s/db/ipaca" % instance, "var/lib/dirsrv/slapd-%s/db/dm" % instance,
                 "var/log/dirsrv/slapd-%s" % instance]
    for rel in dirs:
        os.makedirs(os.path.join(root, rel), exist_ok=True)
    os.chmod(os.path.join(root, "var/lib/ipa/backup"), 0o700)
    conf = {"host": host, "realm": realm, "domain": domain, "basedn": basedn,
            "ipa_version": mine[0].get("ipa_version", IPA_VERSION),
            "ldap_uri": "ldap://%s:%d/" % (address, port), "cluster": os.path.abspath(cluster_file)}
    with open(os.path.join(root, "emulator.json"), "w") as handle:
        json.dump(conf, handle, indent=2, sort_keys=True)
    for package in mine[0].get("packages", ["dns", "trust"]):
        tool = os.path.join(root, PACKAGE_TOOLS[package])
        with open(tool, "w") as handle:
            handle.write("#!/bin/sh\necho 'emulated %s'\n" % os.path.basename(tool))
        os.chmod(tool, 0o755)
    return cluster, conf


def record_root(cluster_file, cluster, host, root):
    """Records ``root`` as ``host``'s in the cluster file (re-initialize finds its peers there)."""
    cluster.setdefault("roots", {})[host] = os.path.abspath(root)
    with open(cluster_file, "w") as handle:
        json.dump(cluster, handle, indent=2, sort_keys=True)


def create_unconfigured(root, host, port, cluster_file, address="127.0.0.1", apart=False):
    """A replacement host of the cluster: the IdM packages installed, ipa-server-install never run. ``apart``: a
    drill target, which the cluster's servers never find (its root is not recorded in the cluster file)."""
    if os.path.exists(os.path.join(root, "emulator.json")):
        raise ScriptError("%s already holds an emulated server: destroy it first" % root)
    cluster, _conf = install_packages(root, host, port, cluster_file, address, unconfigured=True)
    if not apart:
        record_root(cluster_file, cluster, host, root)
    return Server(root)


def create_server(root, host, port, cluster_file, dm_password, address="127.0.0.1"):
    """Builds one emulated server of the cluster described in ``cluster_file``."""
    cluster, conf = install_packages(root, host, port, cluster_file, address, unconfigured=False)
    domain, realm, basedn = conf["domain"], conf["realm"], conf["basedn"]
    instance = realm.replace(".", "-")
    root = os.path.abspath(root)
    with open(os.path.join(root, "etc/ipa/default.conf"), "w") as handle:
        handle.write("[global]\nhost = %s\nbasedn = %s\nrealm = %s\ndomain = %s\nxmlrpc_uri = https://%s/ipa/xml\n"
                     "ldap_uri = %s\nenable_ra = True\nra_plugin = dogtag\nmode = production\n"
                     % (host, basedn, realm, domain, host, conf["ldap_uri"]))
    with open(os.path.join(root, "etc/hosts.ipa"), "w") as handle:
        handle.write("%s %s\n" % (address, host))
    with open(os.path.join(root, "var/log/dirsrv/slapd-%s/access" % instance), "w") as handle:
        handle.write("emulated access log of %s\n" % host)
    with open(os.path.join(root, "var/log/ipaserver-install.log"), "w") as handle:
        handle.write("emulated installation log of %s\n" % host)
    pwfile = os.path.join(root, "etc/dirsrv/slapd-%s/dm_password" % instance)
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(dm_password)
    hashed = subprocess.run(["slappasswd", "-T", pwfile], stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    with open(os.path.join(root, "etc/dirsrv/slapd-%s/slapd.conf" % instance), "w") as handle:
        handle.write(SLAPD_CONF.format(schema=SCHEMA_DIR, emulator=EMULATOR_DIR, root=root, rootpw=hashed,
                                       basedn=basedn, db=os.path.join(root, "var/lib/dirsrv/slapd-%s/db" % instance)))
    server = Server(root)
    work = tempfile.mkdtemp("ipa")
    try:
        for backend, suffix, directory in server.backends():
            ldif = os.path.join(work, backend + ".ldif")
            with open(ldif, "w") as handle:
                if backend == "ipaca":
                    handle.write(ca_ldif(cluster.get("certificates", 20)))
                else:
                    handle.write(seed_ldif(basedn, domain, cluster, cluster.get("users", ["admin", "alice", "bob"])))
            server.slapadd(suffix, directory, ldif)
    finally:
        shutil.rmtree(work)
    record_root(cluster_file, cluster, host, root)
    return server


def free_port(address="127.0.0.1"):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def main_admin(argv):
    """ipa-emulator create [--unconfigured] ..., start, stop, destroy: see the usage below."""
    usage = ("usage: ipa-emulator create ROOT HOST CLUSTER_JSON DM_PASSWORD_FILE [ADDRESS]\n"
             "       ipa-emulator create --unconfigured [--drill-target] ROOT HOST CLUSTER_JSON [ADDRESS]\n"
             "       ipa-emulator start|stop|destroy ROOT\n")
    unconfigured = argv[:2] == ["create", "--unconfigured"]
    if unconfigured:
        argv = argv[:1] + argv[2:]
    apart = unconfigured and argv[1:2] == ["--drill-target"]
    if apart:
        argv = argv[:1] + argv[2:]
    if len(argv) < 2 or argv[0] not in ("create", "start", "stop", "destroy"):
        sys.stderr.write(usage)
        return 2
    action, root = argv[0], argv[1]
    try:
        if action == "create" and unconfigured:
            # A replacement host: no slapd, no data; a full ipa-restore of its backup makes it a server again.
            if len(argv) not in (4, 5):
                sys.stderr.write(usage)
                return 2
            address = argv[4] if len(argv) == 5 else "127.0.0.1"
            server = create_unconfigured(root, argv[2], free_port(address), argv[3], address, apart)
            print(json.dumps({"root": server.root, "host": server.host, "ldap_uri": server.uri, "configured": False}))
        elif action == "create":
            if len(argv) not in (5, 6):
                sys.stderr.write(usage)
                return 2
            with open(argv[4]) as handle:
                password = handle.read().strip()
            address = argv[5] if len(argv) == 6 else "127.0.0.1"
            server = create_server(root, argv[2], free_port(address), argv[3], password, address)
            server.ipactl_start()
            print(json.dumps({"root": server.root, "host": server.host, "ldap_uri": server.uri,
                              "basedn": server.basedn, "pid": server.slapd_pid()}))
        elif action == "start":
            server = Server(root)
            if not server.configured:
                raise ScriptError("IPA is not configured on this system.", 2)
            server.ipactl_start()
        elif action == "stop":
            if os.path.isfile(os.path.join(root, "emulator.json")):
                Server(root).ipactl_stop()
        else:
            if os.path.isfile(os.path.join(root, "emulator.json")):
                Server(root).ipactl_stop()
            shutil.rmtree(root, ignore_errors=True)
    except ScriptError as exc:
        sys.stderr.write(exc.msg + "\n")
        return exc.rc
    return 0


COMMANDS = {
    "ipa-backup": main_backup,
    "ipa-restore": main_restore,
    "ipactl": main_ipactl,
    "ipa": main_ipa,
    "ipa-replica-manage": lambda argv: main_reinitialize("ipa-replica-manage", argv),
    "ipa-csreplica-manage": lambda argv: main_reinitialize("ipa-csreplica-manage", argv),
    "ipa-server-install": main_server_install,
    "ipa-emulator": main_admin,
}


def main():
    name = os.path.basename(sys.argv[1]) if len(sys.argv) > 1 else ""
    if name not in COMMANDS:
        sys.stderr.write("ipa_emulator.py: run it as one of %s\n" % ", ".join(sorted(COMMANDS)))
        return 2
    return COMMANDS[name](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
