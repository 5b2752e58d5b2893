# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thales CipherTrust Manager as a drkit provider: the appliance's own backup, kept as a drkit backup.

A backup has the appliance make its backup (encrypted with a backup key of the scope) and waits for it, then keeps
two parts, both already encrypted by the appliance and encrypted again by drkit: the backup's file and the backup
key's password-protected file (a system backup leaves the backup keys out, so a restore onto another or a rebuilt
appliance needs it). The header's ``native`` block holds what the API said of both and of the appliance.

A restore checks the release rule (appliance.py) against the target appliance before anything changes, uploads the
backup key when the appliance lacks it, uploads the backup and restores it, and waits through the restart of a
system restore. The modules run where the appliance is reachable (the controller or a delegate): nothing is stopped
on that host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import urllib.parse

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import ApplianceProvider, NativeCapture, \
    PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust import appliance as ct
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import CipherTrustError, \
    Client
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.options import OPTIONS

BACKUP_PART, KEY_PART = "ciphertrust-backup.bin", "ciphertrust-backup-key.bin"
BACKUP_FIELDS = ("id", "scope", "backupKey", "productVersion", "tiedToHSM", "createdAt", "description")


def netloc(url) -> str:
    return urllib.parse.urlparse(url if "://" in str(url) else "https://%s" % url).netloc.lower()


class CipherTrustProvider(ApplianceProvider):
    """One CipherTrust Manager over its REST API."""

    name = "ciphertrust"
    OPTIONS = OPTIONS
    # The appliance makes its backup while it serves: nothing is ever stopped.
    supports = (("full", True),)
    # Its own rule (appliance.release_problem, which check_release applies): three minor releases newer, the next
    # two LTS for an LTS backup, older ones with force, never an older release.
    release_rule = "window"
    release_params = {"component": 1, "newer": ct.MINOR_WINDOW}
    release_force = True
    drill_check_name = "ciphertrust"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        if not self.option("url"):
            raise InvalidInput("provider ciphertrust needs provider_options.url: the appliance's address "
                               "(https://cm.example.com)")
        if not self.secrets.get("password"):
            raise InvalidInput("provider ciphertrust needs provider_secrets.password: the password of %s"
                               % self.option("username"))
        self._appliance = None
        self._info = None
        self.force = False

    # --- the appliance ----------------------------------------------------------------------------------------

    def box(self) -> ct.Appliance:
        """The appliance the options name (in a drill, the drill's appliance: scratch_options set url)."""
        if self._appliance is None:
            password = self.secrets["password"]
            if self.option("scratch_dir") and self.secrets.get("drill_password"):
                password = self.secrets["drill_password"]
            self._appliance = ct.Appliance(Client(
                self.option("url"), self.option("username"), password, self.option("domain"),
                self.option("auth_domain"), self.option("validate_certs"), self.option("ca_path"), 60))
        return self._appliance

    def info(self) -> dict:
        if self._info is None:
            self._info = self.box().info()
        return self._info

    def host(self):
        return self.info().get("name") or netloc(self.option("url"))

    def product_version(self):
        return str(self.info().get("version") or "") or None

    def describe(self):
        return {"scope": self.option("scope"), "tiedToHSM": bool(self.option("tied_to_hsm"))}

    def count(self, summary=None) -> dict:
        """The keys the appliance manages (its key vault, as the login domain sees it)."""
        return {"keys": self.box().keys_total()}

    # --- backup -----------------------------------------------------------------------------------------------

    def check_backup(self, backup_type, online):
        if (backup_type, online) == ("full", False):
            raise InvalidInput("provider ciphertrust takes online backups only (online: true): the appliance makes "
                               "its backup while it serves, and nothing is stopped")
        super().check_backup(backup_type, online)
        if not self.secrets.get("key_password"):
            raise InvalidInput("provider ciphertrust needs provider_secrets.key_password: the backup keeps the "
                               "appliance's backup key as a file protected by it, which a restore onto another "
                               "appliance uploads first")
        if self.option("scope") != "system" and self.option("tied_to_hsm"):
            raise InvalidInput("provider_options.tied_to_hsm applies to system backups only (scope system)")
        if self.option("scope") != "domain" and self.option("filters"):
            raise InvalidInput("provider_options.filters apply to domain backups only (scope domain)")
        busy = self._busy()
        if busy:
            raise InvalidInput("%s and run the backup again" % busy)

    def _backup_key(self) -> dict:
        scope, wanted = self.option("scope"), self.option("backup_key")
        if wanted:
            key = self.box().backup_key(wanted)
            if key is None:
                raise InvalidInput("%s has no backup key %s" % (self.box().describe(), wanted))
            return key
        key = next((item for item in self.box().backup_keys(scope) if item.get("isDefault")), None)
        if key is None:
            raise InvalidInput("%s has no default %s backup key: make one with drkit.backup.ciphertrust_backup_key "
                               "(default: true) or name one in provider_options.backup_key"
                               % (self.box().describe(), scope))
        return key

    def _stage_dir(self, label) -> str:
        stage = tempfile.mkdtemp(prefix=".drkit-ciphertrust-%s-" % label, dir=self.option("staging_dir"))
        private_dir(stage)
        return stage

    def capture_whole(self, backup_type, online):
        box, scope = self.box(), self.option("scope")
        stage = self._stage_dir("backup")
        made = None
        try:
            key = self._backup_key()
            key_record = box.download_backup_key(key, os.path.join(stage, KEY_PART), self.secrets["key_password"])
            before = self.count()
            made = box.create_backup(scope, key["id"], "drkit.backup", self.option("tied_to_hsm"),
                                     self.option("filters"))
            if made.get("status") != ct.COMPLETED:
                made = box.wait_backup(made["id"], self.option("timeout"))
            after = self.count()
            backup_record = box.download_backup(made, os.path.join(stage, BACKUP_PART))
        except BaseException as exc:
            if made is not None:
                self._forget(made["id"])
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, CipherTrustError):
                raise CaptureError("%s; no drkit backup was written" % exc)
            raise
        info = self.info()
        version = str(made.get("productVersion") or info.get("version") or "").lstrip("v")
        native = {
            "tool": "ciphertrust",
            "appliance": {"url": box.client.base, "name": info.get("name"), "model": info.get("model"),
                          "version": info.get("version")},
            "backup": dict({name: made.get(name) for name in BACKUP_FIELDS},
                           size=backup_record["size"], sha256=backup_record["sha256"]),
            "backupKey": {"id": key["id"], "scope": key.get("scope"), "size": key_record["size"],
                          "sha256": key_record["sha256"]},
            "keptOnAppliance": bool(self.option("keep_native")),
        }
        manifest = {"productVersion": version, "restorableTo": self.restorable_to(version),
                    "sourceHost": self.host(), "native": native}
        if before == after:  # nothing changed while the appliance made its backup: the count is the backup's
            manifest["contentSummary"] = before
        else:
            self.warnings.append("the appliance's keys changed while it made its backup (%s before, %s after): no "
                                 "content summary was recorded; a drill of this backup needs allow_no_summary"
                                 % (before["keys"], after["keys"]))
        parts = [(PartSpec(BACKUP_PART, "ciphertrust-backup", native=made["id"]), os.path.join(stage, BACKUP_PART)),
                 (PartSpec(KEY_PART, "ciphertrust-backup-key", native=key["id"]), os.path.join(stage, KEY_PART))]

        def finish(success):
            shutil.rmtree(stage, ignore_errors=True)
            if not success or not self.option("keep_native"):
                self._forget(made["id"])

        report = {"native_backup": {"id": made["id"], "scope": made.get("scope"), "backup_key": key["id"],
                                    "appliance": info.get("name"), "kept": bool(self.option("keep_native"))}}
        return NativeCapture(parts, manifest, report, finish)

    def _busy(self) -> str:
        """Why the appliance cannot take a backup or restore now ('' when it can)."""
        running = self.box().running()
        if not running:
            return ""
        return ("%s is running a %s: the appliance runs one backup or restore at a time; wait for it"
                % (self.box().describe(), running))

    def _forget(self, backup_id):
        """Deletes the appliance's backup ``backup_id``; a failure to do so is a warning, not a failed backup."""
        try:
            self.box().delete_backup(backup_id)
        except CipherTrustError as exc:
            self.warnings.append("the appliance's backup %s was left on it: %s" % (backup_id, exc))

    # --- restore ----------------------------------------------------------------------------------------------

    @staticmethod
    def _native(header) -> dict:
        return header.manifest.get("native") or {}

    def check_restore(self, header):
        native = self._native(header)
        names = [part["name"] for part in header.parts]
        if native.get("tool") != "ciphertrust" or BACKUP_PART not in names or KEY_PART not in names:
            return ["backup %s does not hold a CipherTrust Manager backup and its backup key file" % header.name]
        try:
            busy = self._busy()
            key = self.box().backup_key(native["backupKey"]["id"])
        except CipherTrustError as exc:
            return [str(exc)]
        problems = [busy] if busy else []
        if key is None and not self.secrets.get("key_password"):
            problems.append("%s lacks backup key %s, which a system backup leaves out: give provider_secrets."
                            "key_password to upload the key file this backup keeps"
                            % (self.box().describe(), native["backupKey"]["id"]))
        if native["backup"].get("tiedToHSM"):
            self.warnings.append("backup %s is tied to the HSM of %s: it restores only where the same HSM root key "
                                 "exists" % (header.name, native["appliance"].get("name")))
        return problems

    def check_release(self, header, force=False):
        made = self._native(header).get("backup", {}).get("productVersion") or header.manifest.get("productVersion")
        here, lts = self.target_release(), self.option("lts_releases")
        self.force = bool(force or self.option("force"))
        found = ct.release_problem(made, here, lts, self.force)
        if not found and self.force and ct.release_problem(made, here, lts, False):
            self.warnings.append("backup of CipherTrust Manager %s restored onto %s with force" % (made, here))
        return [found] if found else []

    @contextlib.contextmanager
    def restore_stage(self, header):
        stage = self._stage_dir("restore")
        try:
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def restore_plan(self, header):
        native = self._native(header)
        box, key = self.box(), native["backupKey"]
        plan = []
        if box.backup_key(key["id"]) is None:
            plan.append("upload backup key %s (%s scope) to %s from the backup's key file"
                        % (key["id"], key.get("scope"), box.describe()))
        plan.append("%s the %s backup made by %s on CipherTrust Manager %s, and restore it%s"
                    % ("upload" if box.backup(native["backup"]["id"]) is None else "take the appliance's copy of",
                       native["backup"].get("scope"), native["appliance"].get("name"),
                       native["backup"].get("productVersion"), " with force" if self.force else ""))
        return plan

    def restore_whole(self, header, stage_dir):
        native, box = self._native(header), self.box()
        key, actions = native["backupKey"], []
        if box.backup_key(key["id"]) is None:
            box.upload_backup_key(os.path.join(stage_dir, KEY_PART), self.secrets.get("key_password"),
                                  key.get("scope") or "system")
            actions.append("uploaded backup key %s to %s" % (key["id"], box.describe()))
        uploaded = box.backup(native["backup"]["id"])  # the appliance's own copy (keep_native): the same backup
        if uploaded is None:
            uploaded = box.upload_backup(os.path.join(stage_dir, BACKUP_PART))
            actions.append("uploaded the backup's file to %s" % box.describe())
        if uploaded.get("status") == ct.IN_PROGRESS:
            uploaded = box.wait_backup(uploaded["id"], self.option("timeout"))
        status = box.restore(uploaded, self.force, self.option("timeout"))
        actions.append("restored the %s backup of %s on %s (as backup %s there)"
                       % (uploaded.get("scope"), native["appliance"].get("name"), box.describe(), uploaded["id"]))
        self.report = {"native_restore": {"id": uploaded["id"], "scope": uploaded.get("scope"),
                                          "status": status.get("status"), "force": self.force}}
        return actions

    def health(self, header):
        try:
            self._info = None
            self.info()
            busy = self._busy()
        except CipherTrustError as exc:
            return [str(exc)]
        return [busy] if busy else []

    # --- drills (DESIGN decisions 18 and 26): a second appliance, never the one backed up -----------------

    def scratch_options(self, scratch_dir, header):
        drill_url, native = self.option("drill_url"), self._native(header)
        if not drill_url:
            raise InvalidInput("a drill of a CipherTrust Manager backup restores it into a second appliance: give "
                               "provider_options.drill_url (and drill_ca_path, drill_username, "
                               "provider_secrets.drill_password when they differ)")
        live = {netloc(self.option("url")), netloc((native.get("appliance") or {}).get("url") or "")}
        if netloc(drill_url) in live:
            raise InvalidInput("drill_url %s is the appliance backed up (or the one restored to): a drill never "
                               "restores into a live appliance" % drill_url)
        options = {"scratch_dir": os.path.realpath(scratch_dir), "url": drill_url,
                   "username": self.option("drill_username") or self.option("username")}
        if self.option("drill_ca_path") or self.option("ca_path"):
            options["ca_path"] = self.option("drill_ca_path") or self.option("ca_path")
        drill = CipherTrustProvider(dict(self.options, **options), self.secrets)
        name = drill.info().get("name")
        if name and name == (native.get("appliance") or {}).get("name"):
            raise InvalidInput("the drill's appliance %s is named %s, as the appliance backed up is: a drill never "
                               "restores into a live appliance" % (drill_url, name))
        return options

    def drill_check(self, header):
        wanted = self.option("check_key")
        if not wanted:
            return []
        if not self.box().keys_total(wanted):
            return ["the restored appliance %s has no key %s" % (self.box().describe(), wanted)]
        return []
