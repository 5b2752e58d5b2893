# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IBM MQ Appliance as a drkit provider: its secure backup, checked and kept as a drkit backup.

A backup has the appliance write a secure backup into a fresh ``temporary:`` directory, encrypted to the
``certificate`` object, downloads the manifest and every file it lists, checks each size and checksum against the
manifest (and that no other file is there), keeps them as parts (already encrypted by the appliance, encrypted
again by drkit) with the manifest's facts in the header's ``native`` block, and removes the appliance's copy.

A restore goes to a reinitialized appliance with exactly the same firmware (checked first, with the appliance
answering and holding no configuration): it installs the certificate and its private key in cert: and makes the
crypto objects and the identification credential, uploads the files into ``temporary:``, has the appliance
validate them (``validate on``), restores, waits for the restart and changes admin's password from ``admin`` to
``restored_password`` (a loud warning when that fails).

Queue managers and messaging users are not in a secure backup: with ``queue_managers`` and ``messaging_users`` a
backup also runs ``mqbackup`` and ``userbackup`` in the appliance's CLI over SSH (cli.py), fetches their files
and keeps them as parts; a restore runs ``mqrestore`` (``restore_queue_managers``, default on) and ``userrestore``
(``restore_messaging_users``, off unless asked: it deletes the messaging users the backup does not hold) after
the secure restore.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
import urllib.parse

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import file_digest, private_dir, \
    write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.providers import release
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import ApplianceProvider, NativeCapture, \
    PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance import manifest as mf
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.appliance import \
    FACTORY_PASSWORD, Appliance
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.cli import CliError, Session
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.client import Client, \
    MQApplianceError, base_url
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.options import OPTIONS

SECURE_BACKUP_SINCE = (9, 3, 5)
# MQ allows % and / in a queue manager's name too: not here, since the name becomes a file's.
QM_NAME = re.compile(r"^[A-Za-z0-9._]{1,48}$")
QMGR_PART, USERS_PART = "queue-manager-%s.bak", "messaging-users.bak"
# The configuration objects a content summary counts (those the restore makes, named credential, left out).
COUNTED = ("CryptoCertificate", "CryptoKey", "CryptoIdentCred")
NOT_ANSWERING = ("a reinitialized appliance answers REST only after its initial setup at the serial console: set "
                 "its network and admin's password, and enable the REST management interface (config; rest-mgmt; "
                 "admin-state enabled)")


class MQApplianceProvider(ApplianceProvider):
    """One IBM MQ Appliance over its REST management interface, and its command line over SSH for queue managers
    and messaging users."""

    name = "mq_appliance"
    OPTIONS = OPTIONS
    # The appliance writes its secure backup while it serves: nothing is stopped.
    supports = (("full", True),)
    # A secure restore needs exactly the same firmware V.R.M.F (the appliance has no override).
    release_rule = "exact"
    drill_check_name = "mq_appliance"
    # A secure restore goes only onto a factory-reset appliance, which holds nothing to copy (DESIGN decision 25).
    safety_copy = "none"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        if not self.option("url"):
            raise InvalidInput("provider mq_appliance needs provider_options.url: the appliance's REST management "
                               "interface (https://mqa.example.com:5554)")
        if not self.secrets.get("password"):
            raise InvalidInput("provider mq_appliance needs provider_secrets.password: the password of %s"
                               % self.option("username"))
        size = self.option("backupfs_size")
        if size is not None and not re.match(r"^[0-9]+[GM]?$", str(size)):  # typed into the appliance's CLI
            raise InvalidInput("provider_options.backupfs_size is a size in GB (10) or MB (512M), not %r" % size)
        self._box = None
        self._firmware = None
        self._restored_password = None  # admin's password once a restore has changed it
        self._left = []  # (store, path) a backup wrote on the appliance, removed afterwards

    def _password(self) -> str:
        """The login's password: in a drill (scratch_options set url), the drill appliance's."""
        if self.option("scratch_dir") and self.secrets.get("drill_password"):
            return self.secrets["drill_password"]
        return self.secrets["password"]

    def box(self) -> Appliance:
        """The appliance the options name (in a drill, the drill's appliance)."""
        if self._box is None:
            self._box = Appliance(Client(self.option("url"), self.option("username"), self._password(),
                                         self.option("validate_certs"), self.option("ca_path"), 60))
        return self._box

    def cli(self) -> Session:
        """A login to the appliance's command line (in a drill, the drill appliance's)."""
        return Session(self.option("cli_host") or self.host(), self.option("cli_port"), self.option("username"),
                       self._restored_password or self._password(), self.option("cli_host_key"),
                       self.option("cli_ssh_options"), 60)

    @classmethod
    def native_check(cls):
        return mf.ManifestCheck()  # backup_verify full: the manifest against the files, off the appliance

    def firmware(self) -> dict:
        if self._firmware is None:
            try:
                self._firmware = self.box().firmware()
            except MQApplianceError as exc:
                if exc.status == 0:
                    raise InvalidInput("%s; %s" % (exc, NOT_ANSWERING)) from None
                raise
        return self._firmware

    def host(self):
        return urllib.parse.urlparse(self.box().client.base).hostname

    def product_version(self):
        return str(self.firmware().get("Version") or "") or None

    def describe(self):
        return {"certificate": self.option("certificate")}

    def _stage_dir(self, label) -> str:
        stage = tempfile.mkdtemp(prefix=".drkit-mqa-%s-" % label, dir=self.option("staging_dir"))
        private_dir(stage)
        return stage

    # --- backup -----------------------------------------------------------------------------------------------

    def check_backup(self, backup_type, online):
        if (backup_type, online) == ("full", False):
            raise InvalidInput("provider mq_appliance takes online backups only (online: true): the appliance "
                               "writes its secure backup while it serves, and nothing is stopped")
        super().check_backup(backup_type, online)
        if not self.option("certificate"):
            raise InvalidInput("provider mq_appliance needs provider_options.certificate: the crypto certificate "
                               "object the appliance encrypts its secure backup to")
        version = self.product_version()
        try:
            too_old = release.components(version) < SECURE_BACKUP_SINCE
        except ValueError:  # no release the firmware can be read from
            too_old = True
        if too_old:
            raise InvalidInput("%s runs firmware %s, and secure backups came with 9.3.5: upgrade its firmware"
                               % (self.box().describe(), version))
        if self.option("certificate") not in [item.get("name") for item in self.box().objects("CryptoCertificate")]:
            raise InvalidInput("%s has no crypto certificate object %s: make it (with the certificate only, its "
                               "key kept off the appliance) or name another" % (self.box().describe(),
                                                                                self.option("certificate")))
        self._check_mq_backup()

    def _check_mq_backup(self):
        names = self.option("queue_managers") or []
        wrong = [name for name in names if not QM_NAME.match(name)]
        if wrong:
            raise InvalidInput("queue manager names here are letters, digits, '.' and '_' (at most 48): not %s"
                               % ", ".join(wrong))
        if not names and not self.option("messaging_users"):
            return
        if names and not self._has_backupfs() and not self.option("backupfs_size"):
            raise InvalidInput("%s has no backup file system (mqbackup:///QMgrs) for mqbackup: run createbackupfs "
                               "-s <size> in its mqcli once, or give provider_options.backupfs_size"
                               % self.box().describe())
        try:
            there = self._queue_managers_there()
        except CliError as exc:
            raise InvalidInput(str(exc)) from None
        missing = [name for name in names if name not in there]
        if missing:
            raise InvalidInput("%s has no queue manager %s (it has %s)" % (
                self.box().describe(), ", ".join(missing), ", ".join(sorted(there)) or "none"))

    def _has_backupfs(self) -> bool:
        return bool(self.box().listing("mqbackup", "QMgrs"))

    def _ensure_backupfs(self, session) -> bool:
        """createbackupfs -s backupfs_size when the appliance has no backup file system (True when it made one)."""
        if self._has_backupfs():
            return False
        session.run("createbackupfs -s %s" % self.option("backupfs_size"), self.option("timeout"))
        return True

    def _queue_managers_there(self) -> dict:
        """The queue managers the appliance's CLI lists (dspmq), {name: status}."""
        with self.cli() as session:
            return queue_managers(session.run("dspmq"))

    def capture_whole(self, backup_type, online):
        box, stage = self.box(), self._stage_dir("backup")
        folder = "drkit-%s-%d" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), os.getpid())
        self._left = [("temporary", folder)]
        try:
            before = self._count_now()
            box.secure_backup(self.option("certificate"), "temporary:///%s/" % folder, self.option("timeout"))
            present = {}
            for item in box.files("temporary", folder):
                if os.path.basename(item["name"]) != item["name"] or item["name"].startswith("."):
                    raise CaptureError("%s lists a file named %r in its backup" % (box.describe(), item["name"]))
                target = os.path.join(stage, item["name"])
                box.download("temporary", "%s/%s" % (folder, item["name"]), target)
                present[item["name"]] = (os.path.getsize(target), file_digest(target, "sha1"))
            if mf.NAME not in present:
                raise CaptureError("%s wrote no %s in temporary:///%s/" % (box.describe(), mf.NAME, folder))
            with open(os.path.join(stage, mf.NAME), "rb") as handle:
                facts = mf.parse(handle.read())
            problems = mf.problems(facts, present)
            if problems:
                raise CaptureError("the appliance's secure backup is not whole: %s" % "; ".join(problems))
            after = self._count_now()
            mq_parts = self._capture_mq(stage, folder)
        except BaseException as exc:
            self._forget()
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, (MQApplianceError, mf.ManifestError, CaptureError, CliError)):
                raise CaptureError("%s; no drkit backup was written" % exc) from None
            raise
        firmware = self.firmware()
        native = {"tool": "mq_appliance",
                  "appliance": {"url": box.client.base, "serial": firmware.get("Serial"),
                                "firmware": firmware.get("Version"), "build": firmware.get("Build"),
                                "machineType": firmware.get("MachineType"), "modelType": firmware.get("ModelType")},
                  "manifest": dict(facts, signature=mf.SIGNATURE),
                  "queue_managers": list(self.option("queue_managers") or []),
                  "messaging_users": bool(self.option("messaging_users"))}
        manifest = {"productVersion": facts["firmware"] or firmware.get("Version"),
                    "restorableTo": self.restorable_to(facts["firmware"] or firmware.get("Version")),
                    "sourceHost": self.host(), "native": native}
        if before == after:  # nothing changed while the appliance wrote its backup: the count is the backup's
            manifest["contentSummary"] = dict(before, **({"queue_managers": len(native["queue_managers"])}
                                                         if native["queue_managers"] else {}))
        else:
            self.warnings.append("the appliance's configuration changed while it wrote its secure backup (%s "
                                 "before, %s after): no content summary was recorded; a drill of this backup "
                                 "needs allow_no_summary" % (before, after))
        parts = [(PartSpec(mf.NAME, "mq-secure-backup-manifest"), os.path.join(stage, mf.NAME))]
        parts += [(PartSpec(item["name"], "mq-secure-backup-file", native=item["checksum"]),
                   os.path.join(stage, item["name"])) for item in facts["files"]]
        parts += mq_parts

        def finish(_success):
            shutil.rmtree(stage, ignore_errors=True)
            self._forget()  # the appliance's copies go whatever happened

        report = {"secure_backup": {"serial": firmware.get("Serial"), "firmware": facts["firmware"],
                                    "files": [item["name"] for item in facts["files"]],
                                    "queue_managers": native["queue_managers"],
                                    "messaging_users": native["messaging_users"]}}
        return NativeCapture(parts, manifest, report, finish)

    def _capture_mq(self, stage, prefix) -> list:
        """mqbackup of each queue manager and userbackup, in the CLI, their files fetched: [(PartSpec, path)]."""
        names, timeout = self.option("queue_managers") or [], self.option("timeout")
        if not names and not self.option("messaging_users"):
            return []
        parts = []
        with self.cli() as session:
            if names:
                self._ensure_backupfs(session)
            for name in names:
                said = session.run("mqbackup -m %s -o %s-%s.bak" % (name, prefix, name), timeout)
                self.warnings += ["%s: %s" % (session.describe(), line) for line in said.splitlines()
                                  if line.startswith("WARNING")]
                parts.append((PartSpec(QMGR_PART % name, "mq-queue-manager-backup", native=name),
                              self._fetch("QMgrs/%s-%s.bak" % (prefix, name), stage, "mqbackup -m %s" % name)))
            if self.option("messaging_users"):
                session.run("userbackup -f %s-users" % prefix, timeout)
                parts.append((PartSpec(USERS_PART, "mq-messaging-users"),
                              self._fetch("%s-users" % prefix, stage, "userbackup")))
        return parts

    def _fetch(self, path, stage, command) -> str:
        """Downloads mqbackup:///``path`` (which ``command`` said it wrote, and must have) into the stage."""
        self._left.append(("mqbackup", path))
        folder, _sep, name = path.rpartition("/")
        if not any(item["name"] == name and item["size"] > 0 for item in self.box().files("mqbackup", folder)):
            raise CaptureError("%s said %s completed and wrote no mqbackup:///%s"
                               % (self.box().describe(), command, path))
        target = os.path.join(stage, os.path.basename(path))
        self.box().download("mqbackup", path, target)
        return target

    def _forget(self):
        """Removes the appliance's copies of what a backup wrote (a failure to: a warning)."""
        for store, path in self._left:
            try:
                self.box().remove(store, path)
            except MQApplianceError as exc:
                self.warnings.append("the appliance's copy %s:///%s was left on it: %s" % (store, path, exc))
        self._left = []

    def _count_now(self) -> dict:
        """The content summary's counts on the appliance: files in local:, configuration objects."""
        box, ours = self.box(), self.option("credential")
        return {"local_files": box.count_files("local"),
                "objects": {kind: len([item for item in box.objects(kind) if item.get("name") != ours])
                            for kind in COUNTED}}

    def count(self, summary=None):
        found = self._count_now()
        if summary and "queue_managers" in summary:
            found["queue_managers"] = len(self._queue_managers_there())
        return found

    # --- restore ----------------------------------------------------------------------------------------------

    @staticmethod
    def _native(header) -> dict:
        return header.manifest.get("native") or {}

    def _private_key(self) -> str:
        if self.secrets.get("private_key"):
            return self.secrets["private_key"]
        path = self.option("private_key_file")
        if path and os.path.isfile(path):
            with open(path, encoding="ascii") as handle:
                return handle.read()
        return ""

    def check_restore(self, header):
        native = self._native(header)
        names = [part["name"] for part in header.parts]
        if native.get("tool") != "mq_appliance" or mf.NAME not in names:
            return ["backup %s does not hold an MQ Appliance secure backup" % header.name]
        problems = []
        if not self.option("certificate_file") or not os.path.isfile(self.option("certificate_file")):
            problems.append("provider_options.certificate_file must name the PEM file of the certificate the "
                            "backup was encrypted to (%s)" % native["manifest"].get("certificate"))
        if not self._private_key():
            problems.append("give the certificate's private key (provider_secrets.private_key, or "
                            "provider_options.private_key_file): a secure restore cannot open the backup without it")
        if self.option("username") != "admin":
            problems.append("a secure restore runs as admin only, not %s" % self.option("username"))
        try:
            self.firmware()
            held = self.box().holds_configuration(self.option("credential"))
        except (MQApplianceError, InvalidInput) as exc:
            return problems + [str(exc)]
        if held:
            problems.append("%s is not reinitialized (%s): a secure restore goes only onto a factory-reset "
                            "appliance" % (self.box().describe(), held))
        return problems + self._check_mq_restore(native)

    def _mq_wanted(self, native) -> tuple:
        """(queue managers, messaging users?) the restore brings back after the secure restore."""
        names = list(native.get("queue_managers") or []) if self.option("restore_queue_managers") else []
        return names, bool(self.option("restore_messaging_users"))

    def _check_mq_restore(self, native) -> list:
        names, users = self._mq_wanted(native)
        problems = []
        if users and not native.get("messaging_users"):
            problems.append("restore_messaging_users is set and the backup holds no messaging users (it was made "
                            "without messaging_users)")
        if not names and not users:
            return problems
        if names and not self._has_backupfs() and not self.option("backupfs_size"):
            problems.append("%s has no backup file system (mqbackup:///QMgrs), which mqrestore reads from: give "
                            "provider_options.backupfs_size (a reinitialize removes it)" % self.box().describe())
        try:
            there = self._queue_managers_there()
        except CliError as exc:
            return problems + [str(exc)]
        clash = [name for name in names if name in there]
        if clash:
            problems.append("%s already has queue manager %s: mqrestore restores none over one of the same name "
                            "(delete it first, or set restore_queue_managers: false)"
                            % (self.box().describe(), ", ".join(clash)))
        return problems

    @contextlib.contextmanager
    def restore_stage(self, header):
        stage = self._stage_dir("restore")
        try:
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def restore_plan(self, header):
        native = self._native(header)
        appliance, facts = native["appliance"], native["manifest"]
        files = ", ".join(item["name"] for item in facts["files"])
        plan = ["install certificate %s and its key on %s as credential %s"
                % (facts.get("certificate"), self.box().describe(), self.option("credential")),
                "upload the secure backup of %s (serial %s, firmware %s: %s) and have the appliance validate it"
                % (appliance.get("url"), appliance.get("serial"), facts.get("firmware"), files),
                "restore it, wait for the restart and set admin's password"]
        names, users = self._mq_wanted(native)
        plan += ["restore queue manager %s with mqrestore" % name for name in names]
        if users:
            plan.append("restore the messaging users with userrestore (deleting every other messaging user)")
        return plan

    def restore_whole(self, header, stage_dir):
        native, box, name = self._native(header), self.box(), self.option("credential")
        timeout = self.option("timeout")
        key_file = os.path.join(stage_dir, ".private-key.pem")
        write_atomic(key_file, self._private_key().encode("ascii"), 0o600)
        try:
            box.upload("cert", "%s-sscert.pem" % name, self.option("certificate_file"))
            box.upload("cert", "%s-privkey.pem" % name, key_file)
        finally:
            os.unlink(key_file)
        box.put_object("CryptoCertificate", name, Filename="cert:///%s-sscert.pem" % name)
        box.put_object("CryptoKey", name, Filename="cert:///%s-privkey.pem" % name)
        box.put_object("CryptoIdentCred", name, Certificate={"value": name}, Key={"value": name})
        folder = "drkit-restore-%s" % header.id[:8]
        for item in [{"name": mf.NAME}] + native["manifest"]["files"]:
            box.upload("temporary", "%s/%s" % (folder, item["name"]), os.path.join(stage_dir, item["name"]))
        source = "temporary:///%s/" % folder
        box.secure_restore(name, source, True, timeout)  # the appliance's own check first: it changes nothing
        restored = box.secure_restore(name, source, False, timeout)
        actions = ["installed credential %s on %s" % (name, box.describe()),
                   "the appliance validated and restored the secure backup of serial %s"
                   % native["appliance"].get("serial")]
        deadline = time.monotonic() + timeout
        self._wait_restarted(deadline, seen=bool(restored.get("gone")))
        box.client.login(FACTORY_PASSWORD)
        wanted = self.secrets.get("restored_password") or self._password()
        while True:
            try:
                box.change_password(FACTORY_PASSWORD, wanted)
                box.client.login(wanted)
                self._restored_password = wanted
                actions.append("changed admin's password from the restore's admin")
                break
            except MQApplianceError as exc:
                if exc.status == 0 and time.monotonic() < deadline:  # still restarting
                    time.sleep(0.5)
                    continue
                self.warnings.append("ADMIN'S PASSWORD IS STILL 'admin' on %s after the restore, and could not "
                                     "be set: %s. Log in and change it now." % (box.describe(), exc))
                break
        self.report = {"secure_restore": {"serial": native["appliance"].get("serial"),
                                          "firmware": native["manifest"].get("firmware")}}
        self._firmware = None
        if self._restored_password is None and any(self._mq_wanted(native)):
            self.warnings.append("the queue managers and messaging users were not restored: admin's password "
                                 "could not be set")
            return actions
        return actions + self._restore_mq(native, stage_dir)

    def _restore_mq(self, native, stage_dir) -> list:
        """mqrestore of each queue manager and userrestore, in the CLI, after the secure restore."""
        names, users = self._mq_wanted(native)
        if not names and not users:
            return []
        box, timeout, actions = self.box(), self.option("timeout"), []
        with self.cli() as session:
            if names and self._ensure_backupfs(session):
                actions.append("created a backup file system of %s" % self.option("backupfs_size"))
            for name in names:
                path = "QMgrs/drkit-restore-%s.bak" % name
                box.upload("mqbackup", path, os.path.join(stage_dir, QMGR_PART % name))
                try:
                    session.run("mqrestore -f drkit-restore-%s.bak" % name, timeout)
                finally:
                    box.remove("mqbackup", path)
                if name not in queue_managers(session.run("dspmq")):
                    raise CliError("%s said mqrestore restored queue manager %s, and dspmq does not show it"
                                   % (session.describe(), name))
                actions.append("restored queue manager %s with mqrestore" % name)
            if users:
                box.upload("mqbackup", "drkit-restore-users", os.path.join(stage_dir, USERS_PART))
                try:
                    session.run("userrestore -F -f drkit-restore-users", timeout)
                finally:
                    box.remove("mqbackup", "drkit-restore-users")
                actions.append("restored the messaging users with userrestore")
        return actions

    def _wait_restarted(self, deadline, seen):
        """A secure restore restarts the appliance: unless its action already ``seen`` it gone, wait until it has
        gone (for up to 30 s: it may have restarted before anyone looked), then until it answers again."""
        client = self.box().client
        grace = min(deadline, time.monotonic() + 30)
        while not seen and time.monotonic() < grace and client.answers():
            time.sleep(0.2)
        while not client.answers():
            if time.monotonic() >= deadline:
                raise MQApplianceError("%s did not come back after its secure restore" % client.describe())
            time.sleep(0.5)

    def health(self, header):
        try:
            self._firmware = None
            self.firmware()
        except (MQApplianceError, InvalidInput) as exc:
            return [str(exc)]
        return []

    # --- drills (DESIGN decisions 18 and 26): a second, reinitialized appliance, never the one backed up ----

    def scratch_options(self, scratch_dir, header):
        drill_url, native = self.option("drill_url"), self._native(header)
        if not drill_url:
            raise InvalidInput("a drill of an MQ Appliance backup restores it into a second, reinitialized "
                               "appliance: give provider_options.drill_url (and drill_ca_path, "
                               "provider_secrets.drill_password when they differ)")
        live = {base_url(url) for url in (self.option("url"), native["appliance"].get("url")) if url}
        if base_url(drill_url) in live:
            raise InvalidInput("drill_url %s is the appliance backed up (or the one restored to): a drill never "
                               "restores into a live appliance" % drill_url)
        options = {"scratch_dir": os.path.realpath(scratch_dir), "url": drill_url,
                   "cli_host": urllib.parse.urlparse(base_url(drill_url)).hostname}
        if self.option("drill_ca_path") or self.option("ca_path"):
            options["ca_path"] = self.option("drill_ca_path") or self.option("ca_path")
        if self.option("drill_cli_host_key") or self.option("cli_host_key"):
            options["cli_host_key"] = self.option("drill_cli_host_key") or self.option("cli_host_key")
        drill = MQApplianceProvider(dict(self.options, **options), self.secrets)
        if drill.firmware().get("Serial") == native["appliance"].get("serial"):
            raise InvalidInput("the drill's appliance %s has serial %s, the appliance backed up: a drill never "
                               "restores into a live appliance" % (drill_url, native["appliance"].get("serial")))
        return options

    def drill_check(self, header):
        wanted = self.option("check_file")
        if not wanted:
            return []
        store, _sep, path = wanted.partition(":///")
        if not path or not any(item["name"] == os.path.basename(path) for item in self.box().files(
                store, os.path.dirname(path))):
            return ["the restored appliance %s has no %s" % (self.box().describe(), wanted)]
        return []


def queue_managers(dspmq) -> dict:
    """dspmq's lines (``QMNAME(QM1)  STATUS(Running)``) as {name: status}."""
    return dict(re.findall(r"QMNAME\(([^)]*)\)\s+STATUS\(([^)]*)\)", dspmq))
