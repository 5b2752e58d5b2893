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
``restored_password`` (a loud warning when that fails). Queue managers and messaging users (``mqbackup``,
``userbackup``, over the CLI) are not in a secure backup and not done here yet.
"""

from __future__ import annotations

import contextlib
import os
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
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.client import Client, \
    MQApplianceError, base_url
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.options import OPTIONS

SECURE_BACKUP_SINCE = (9, 3, 5)
NOT_ANSWERING = ("a reinitialized appliance answers REST only after its initial setup at the serial console: set "
                 "its network and admin's password, and enable the REST management interface (config; rest-mgmt; "
                 "admin-state enabled)")


class MQApplianceProvider(ApplianceProvider):
    """One IBM MQ Appliance over its REST management interface."""

    name = "mq_appliance"
    OPTIONS = OPTIONS
    # The appliance writes its secure backup while it serves: nothing is stopped.
    supports = (("full", True),)
    # A secure restore needs exactly the same firmware V.R.M.F (the appliance has no override).
    release_rule = "exact"
    drill_check_name = "mq_appliance"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        if not self.option("url"):
            raise InvalidInput("provider mq_appliance needs provider_options.url: the appliance's REST management "
                               "interface (https://mqa.example.com:5554)")
        if not self.secrets.get("password"):
            raise InvalidInput("provider mq_appliance needs provider_secrets.password: the password of %s"
                               % self.option("username"))
        self._box = None
        self._firmware = None

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

    def capture_whole(self, backup_type, online):
        box, stage = self.box(), self._stage_dir("backup")
        folder = "drkit-%s-%d" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), os.getpid())
        try:
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
        except BaseException as exc:
            self._forget(folder)
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, (MQApplianceError, mf.ManifestError, CaptureError)):
                raise CaptureError("%s; no drkit backup was written" % exc) from None
            raise
        firmware = self.firmware()
        native = {"tool": "mq_appliance",
                  "appliance": {"url": box.client.base, "serial": firmware.get("Serial"),
                                "firmware": firmware.get("Version"), "build": firmware.get("Build"),
                                "machineType": firmware.get("MachineType"), "modelType": firmware.get("ModelType")},
                  "manifest": dict(facts, signature=mf.SIGNATURE)}
        manifest = {"productVersion": facts["firmware"] or firmware.get("Version"),
                    "restorableTo": self.restorable_to(facts["firmware"] or firmware.get("Version")),
                    "sourceHost": self.host(), "native": native}
        parts = [(PartSpec(mf.NAME, "mq-secure-backup-manifest"), os.path.join(stage, mf.NAME))]
        parts += [(PartSpec(item["name"], "mq-secure-backup-file", native=item["checksum"]),
                   os.path.join(stage, item["name"])) for item in facts["files"]]

        def finish(_success):
            shutil.rmtree(stage, ignore_errors=True)
            self._forget(folder)  # the appliance's temporary copy goes whatever happened

        report = {"secure_backup": {"serial": firmware.get("Serial"), "firmware": facts["firmware"],
                                    "files": [item["name"] for item in facts["files"]]}}
        return NativeCapture(parts, manifest, report, finish)

    def _forget(self, folder):
        try:
            self.box().remove("temporary", folder)
        except MQApplianceError as exc:
            self.warnings.append("the appliance's copy temporary:///%s/ was left on it: %s" % (folder, exc))

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
        return ["install certificate %s and its key on %s as credential %s"
                % (facts.get("certificate"), self.box().describe(), self.option("credential")),
                "upload the secure backup of %s (serial %s, firmware %s: %s) and have the appliance validate it"
                % (appliance.get("url"), appliance.get("serial"), facts.get("firmware"), files),
                "restore it, wait for the restart and set admin's password"]

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
        box.secure_restore(name, source, False, timeout)
        actions = ["installed credential %s on %s" % (name, box.describe()),
                   "the appliance validated and restored the secure backup of serial %s"
                   % native["appliance"].get("serial")]
        deadline = time.monotonic() + timeout
        self._wait_restarted(deadline)
        box.client.login(FACTORY_PASSWORD)
        wanted = self.secrets.get("restored_password") or self._password()
        while True:
            try:
                box.change_password(FACTORY_PASSWORD, wanted)
                box.client.login(wanted)
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
        return actions

    def _wait_restarted(self, deadline):
        """A secure restore restarts the appliance: wait until it has gone (for up to 30 s: it may have restarted
        before anyone looked), then until it answers again."""
        client = self.box().client
        grace = min(deadline, time.monotonic() + 30)
        while time.monotonic() < grace and client.answers():
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
        options = {"scratch_dir": os.path.realpath(scratch_dir), "url": drill_url}
        if self.option("drill_ca_path") or self.option("ca_path"):
            options["ca_path"] = self.option("drill_ca_path") or self.option("ca_path")
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
