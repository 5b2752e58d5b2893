# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``freeipa`` provider: FreeIPA / Red Hat IdM through ``ipa-backup`` and ``ipa-restore``.

Capture runs the real ``ipa-backup`` once (it stops and starts the IdM services
itself): full (always offline), data offline, or data online, with ``--logs``,
``--gpg`` (``GNUPGHOME`` passed through), a movable ``TMPDIR``, and
``--disable-role-check`` only when asked. Its native output directory
(``/var/lib/ipa/backup/ipa-full-*`` or ``ipa-data-*``: ``header`` and
``ipa-full.tar``/``ipa-data.tar``, ``.gpg`` when encrypted) becomes the parts
of a drkit backup, which adds drkit's encryption, checksums, inspection,
retention and transfer; the native directory is removed once the drkit backup
is committed (``keep_native`` keeps it). An existing native backup can be
adopted instead (``adopt``). The native ``header`` (section ``[ipa]``) fills
the manifest: productVersion, sourceHost, serverRoles (CA, KRA, DNS,
DNSKeySync, ADTRUST) and ``native`` (the header's fields).

Restore hands the whole backup, staged back into ipa-restore's layout, to the
real ``ipa-restore``. Before anything is staged or stopped, it checks what
ipa-restore would refuse: another host, a data restore into an unconfigured
server, the DNS or AD-trust packages missing for roles in the header, a staging
directory under /tmp (IdM's directory server cannot read it), a missing
Directory Manager password; a different IPA version is a warning. The Directory
Manager password never goes on a command line: ipa-restore reads it from its
standard input when that is not a terminal (FreeIPA's
``installutils.get_password``), followed by the answers to its confirmation
questions; ``--unattended`` is used only when no password is needed (a host
without IdM configuration), because with ``--unattended`` ipa-restore accepts
the password only as ``-p`` on its command line. After a restore, a server that
was hidden is hidden again (ipa-restore leaves it enabled).
"""

from __future__ import annotations

import configparser
import contextlib
import datetime
import os
import re
import shutil
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import nearest_existing, private_dir
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import rfc3339
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import NativeCapture, PartSpec, ToolProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa import cli, directory, topology
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.drill import FreeIPADrill
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.native import (
    describe_native, parse_header, roles_of)
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.options import OPTIONS

BACKED_UP_RE = re.compile(r"Backed up to (\S+)")
HEADER_FIELDS = ("type", "time", "host", "ipa_version", "version", "services")
# ipa-backup's header lists the services of the master; these are the ones that are server roles.
SERVICE_ROLES = ("CA", "KRA", "DNS", "DNSKeySync", "ADTRUST")
PACKAGES = {
    "DNS": ("usr/sbin/ipa-dns-install", "freeipa-server-dns (ipa-server-dns on RHEL)", "Integrated DNS"),
    "ADTRUST": ("usr/sbin/ipa-adtrust-install", "freeipa-server-trust-ad (ipa-server-trust-ad on RHEL)",
                "AD trust"),
}


# What _local_version holds before it has run ipa --version (None means it could not be read).
_UNREAD = object()


class FreeIPAProvider(FreeIPADrill, ToolProvider):
    """FreeIPA / Red Hat IdM through ipa-backup and ipa-restore, on the server itself (a hidden replica is best)."""

    name = "freeipa"
    OPTIONS = OPTIONS
    supports = (("full", False), ("data", False), ("data", True))
    topology = "freeipa"
    fleet_policy = "topology"
    # ipa-restore warns on any other release and asks before it goes on (--unattended goes on): drkit refuses
    # another X.Y series before anything stops, unless force_release, and warns within a series.
    release_rule = "same_series"
    release_force = True

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        for key in ("root", "gnupghome", "tmpdir", "backup_dir", "staging_dir", "dm_password_file", "krb5_ccache",
                    "adopt"):
            if key in self.options and not self.options[key]:
                raise InvalidInput("provider_options.%s must be a non-empty string" % key)
        self.root = os.path.abspath(self.option("root"))
        self.backup_dir = self.options.get("backup_dir") or os.path.join(self.root, "var/lib/ipa/backup")
        self.timeout = self.option("timeout")
        if self.timeout <= 0:
            raise InvalidInput("provider_options.timeout must be a number of seconds")
        self._adopted = None
        self._version = _UNREAD  # ipa --version, read once per module call (check_restore and check_release)

    # --- this server ----------------------------------------------------------------

    @property
    def default_conf(self):
        return os.path.join(self.root, "etc/ipa/default.conf")

    def configured(self) -> bool:
        return os.path.isfile(self.default_conf)

    def _global_conf(self) -> dict:
        config = configparser.ConfigParser(interpolation=None)
        try:
            with open(self.default_conf) as handle:
                config.read_file(handle)
        except (OSError, configparser.Error):
            return {}
        return dict(config.items("global")) if config.has_section("global") else {}

    def host(self):
        return self._global_conf().get("host") or None

    def _env(self) -> dict:
        env = {}
        if self.option("gnupghome"):
            env["GNUPGHOME"] = self.options["gnupghome"]
        if self.option("tmpdir"):
            env["TMPDIR"] = self.options["tmpdir"]
        if self.option("krb5_ccache"):
            env["KRB5CCNAME"] = self.options["krb5_ccache"]
        return env

    def _hidden(self, host):
        """Whether ``host`` is hidden now (None when the topology cannot be read)."""
        if not host:
            return None
        code, output = self._ipa(["server-role-find", "--server=%s" % host, "--include-master"])
        if code != 0:
            return None
        roles = {e.get("Role name"): e.get("Role status") for e in cli.parse_entries(output)}
        return topology.is_hidden(roles)

    def _run(self, argv, **kwargs):
        """Runs an IdM tool, inside the drill's network namespace when the options name one."""
        return cli.run(argv, netns=self.option("netns"), **kwargs)

    def _ipa(self, args):
        return cli.ipa(args, ccache=self.option("krb5_ccache"), check=False, netns=self.option("netns"))

    def target_release(self):
        return self._local_version()

    def _local_version(self):
        if self._version is _UNREAD:
            code, output = self._run(["ipa", "--version"], timeout=60) if shutil.which("ipa") else (1, "")
            match = re.search(r"VERSION:\s*([^,\s]+)", output)
            self._version = match.group(1) if code == 0 and match else None
        return self._version

    def _ensure_running(self) -> str:
        """Starts the IdM services if they are down (after ipa-backup or ipa-restore, whatever happened)."""
        try:
            code, _output = self._run(["ipactl", "status"], timeout=600)
            if code == 0:
                return "the IdM services are running"
            code, output = self._run(["ipactl", "start"], timeout=1800)
        except DrkitError as exc:
            return "the IdM services could not be checked (%s): check them with ipactl status" % exc
        if code == 0:
            return "the IdM services were down and were started again (ipactl start)"
        return ("the IdM services are down and ipactl start failed (exit %d: %s): start them by hand"
                % (code, cli.tail(output, 2)))

    # --- backup -------------------------------------------------------------------

    def nothing_to_save(self):
        if not self.option("adopt") and not self.configured():
            return "IdM is not configured on this host (%s is missing)" % self.default_conf
        return ""

    def check_backup(self, backup_type, online):
        cli.check_backup_options(backup_type, online, self.options)
        super().check_backup(backup_type, online)
        for key in ("gnupghome", "tmpdir"):
            if self.option(key) and not os.path.isdir(self.options[key]):
                raise InvalidInput("provider_options.%s %s is not a directory" % (key, self.options[key]))
        if self.option("adopt"):
            native = self._adopt_native()
            wanted = "ipa-%s" % backup_type
            if not native["name"].startswith(wanted):
                raise InvalidInput("native backup %s is not of type %s: set type %s to adopt it"
                                   % (native["name"], backup_type, native["type"]))
            return
        if not self.configured():
            raise InvalidInput("IdM is not configured on this host (%s is missing): ipa-backup would refuse; run "
                               "the freeipa provider on an IdM server" % self.default_conf)
        if shutil.which("ipa-backup") is None:
            raise InvalidInput("ipa-backup is not on this host's PATH: run the freeipa provider on an IdM server")

    def tool_stops(self, backup_type, online):
        # Adopting an existing native backup runs no ipa-backup, so nothing stops.
        return not online and not self.option("adopt")

    def describe(self):
        described = {"logs": bool(self.option("logs")), "gpg": bool(self.option("gpg")),
                     "disableRoleCheck": bool(self.option("disable_role_check"))}
        if self.option("adopt"):
            described["adopted"] = True
        return described

    def _adopt_native(self) -> dict:
        if self._adopted is None:
            target = self.options["adopt"]
            path = target if os.path.isabs(target) else os.path.join(self.backup_dir, target)
            if not os.path.isdir(path):
                raise InvalidInput("native backup %s does not exist: give the name of a directory in %s (see "
                                   "drkit.backup.freeipa_backup_info) or its path" % (path, self.backup_dir))
            native = describe_native(os.path.abspath(path))
            if native["status"] != "complete":
                raise InvalidInput("native backup %s cannot be adopted: %s" % (path, "; ".join(native["problems"])))
            self._adopted = native
        return self._adopted

    def fixed_moment(self):
        if not self.option("adopt"):
            return None
        return datetime.datetime.strptime(self._adopt_native()["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)

    def existing(self, complete_headers):
        if not self.option("adopt"):
            return None
        native = self._adopt_native()
        for entry, header in complete_headers:
            held = header.manifest.get("native") or {}
            if header.manifest.get("product") == self.name and held.get("name") == native["name"] \
                    and held.get("host") == native["host"] and held.get("time") == native["time"]:
                return entry, header
        return None

    def capture_whole(self, backup_type, online):
        if self.option("adopt"):
            native = self._adopt_native()
            return self._capture_from(native["path"], backup_type, hidden=None, remove_after=False, adopted=True)
        host = self.host()
        hidden = self._hidden(host)
        argv = cli.backup_argv(backup_type, online, self.options)
        code, output = self._run(argv, env=self._env(), timeout=self.timeout)
        services = self._ensure_running()
        if code != 0:
            raise CaptureError("ipa-backup failed (exit %d): %s; %s; no drkit backup was written"
                               % (code, cli.tail(output), services))
        found = BACKED_UP_RE.findall(output)
        if not found:
            raise CaptureError("ipa-backup reported success but no 'Backed up to' line: its output was %s"
                               % cli.tail(output))
        return self._capture_from(found[-1], backup_type, hidden=hidden,
                                  remove_after=not self.option("keep_native"), adopted=False)

    def _capture_from(self, path, backup_type, hidden, remove_after, adopted):
        native = describe_native(path)
        if native["status"] != "complete":
            raise CaptureError("the native backup %s is %s: %s" % (path, native["status"], "; ".join(native["problems"])))
        if native["type"] != backup_type:
            raise CaptureError("ipa-backup wrote a %s backup (%s) where a %s backup was asked for"
                               % (native["type"], path, backup_type))
        with open(os.path.join(path, "header")) as handle:
            header = parse_header(handle.read(), "header of %s" % native["name"])
        archive_name = "ipa-%s.tar%s" % (backup_type, ".gpg" if native["encrypted"] else "")
        parts = [(PartSpec("header", "freeipa-header", native="header"), os.path.join(path, "header")),
                 (PartSpec(archive_name, "freeipa-archive", native=archive_name,
                           encryption="gpg" if native["encrypted"] else "none"), os.path.join(path, archive_name))]
        summary = self._summary(os.path.join(path, archive_name), native["encrypted"])
        manifest = {
            "productVersion": header["ipa_version"],
            "restorableTo": self.restorable_to(header["ipa_version"]),
            "sourceHost": header["host"],
            "serverRoles": roles_of(header["services"]),
            "native": {"tool": "ipa-backup", "name": native["name"], "type": header["type"],
                       "time": rfc3339(header["time"]), "host": header["host"], "ipaVersion": header["ipa_version"],
                       "headerVersion": header["version"], "services": header["services"],
                       "gpg": native["encrypted"], "hidden": hidden},
        }
        if summary:
            manifest["contentSummary"] = summary

        def finish(success):
            if success and remove_after:
                shutil.rmtree(path, ignore_errors=True)

        report = {"native_backup": {"name": native["name"], "path": path, "adopted": adopted,
                                    "kept": adopted or not remove_after}}
        return NativeCapture(parts, manifest, report, finish)

    def _summary(self, archive, encrypted) -> dict:
        """The content summary, counted in the LDIF ipa-backup exported into its archive (its own snapshot)."""
        basedn = self._global_conf().get("basedn")
        if encrypted or not basedn:
            why = ("ipa-backup encrypted its archive with --gpg" if encrypted
                   else "the IdM base DN is not in %s" % self.default_conf)
            self.warnings.append("no content summary was recorded (%s): a drill of this backup needs "
                                 "allow_no_summary" % why)
            return {}
        try:
            return directory.summary_of_archive(archive, basedn)
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise CaptureError("the entries in ipa-backup's archive %s cannot be counted (%s): the archive is "
                               "damaged; no drkit backup was written" % (archive, exc))

    # --- restore --------------------------------------------------------------------

    def _dm_password(self):
        if self.secrets.get("dm_password"):
            return str(self.secrets["dm_password"])
        path = self.option("dm_password_file")
        if path:
            try:
                with open(path) as handle:
                    return handle.read().rstrip("\r\n")
            except OSError as exc:
                raise InvalidInput("cannot read provider_options.dm_password_file %s: %s" % (path, exc.strerror))
        return None

    def _restore_kind(self, native) -> str:
        return "DATA" if self.option("data_only") else native.get("type", "FULL")

    def _staging_root(self):
        return self.option("staging_dir") or self.backup_dir

    def check_restore(self, header):
        manifest = header.manifest
        native = manifest.get("native") or {}
        problems = []
        names = [part["name"] for part in header.parts]
        if not native or "header" not in names or not any(n.startswith("ipa-") for n in names):
            return ["backup %s does not hold an ipa-backup output (header and ipa-full.tar or ipa-data.tar)"
                    % header.name]
        kind = self._restore_kind(native)
        configured = self.configured()
        local = self.host()
        if local and native.get("host") != local:
            problems.append("it was taken on %s and this server is %s, and ipa-restore refuses a backup of another "
                            "host (\"Host name %s does not match backup name %s\"): restore it on %s"
                            % (native.get("host"), local, local, native.get("host"), native.get("host")))
        if kind == "DATA" and not configured:
            problems.append("a data restore needs a configured IdM server and %s is missing (ipa-restore: \"Cannot "
                            "restore a data backup into an empty system\"): install IdM first, or restore a full "
                            "backup" % self.default_conf)
        if kind == "FULL":
            for service, (tool, package, feature) in sorted(PACKAGES.items()):
                if service in native.get("services", []) and not os.path.isfile(os.path.join(self.root, tool)):
                    problems.append("the backup includes the %s feature and package %s is not installed (/%s is "
                                    "missing): install it, then restore" % (feature, package, tool))
        if configured and not self._dm_password():
            problems.append("restoring onto a configured IdM server needs the Directory Manager password: give "
                            "provider_secrets.dm_password or provider_options.dm_password_file")
        staging = os.path.realpath(self._staging_root())
        if staging in ("/tmp", "/var/tmp") or staging.startswith(("/tmp/", "/var/tmp/")):
            problems.append("staging_dir %s is under /tmp or /var/tmp, which IdM's directory server cannot read "
                            "(PrivateTmp): choose another staging_dir" % staging)
        if shutil.which("ipa-restore") is None:
            problems.append("ipa-restore is not on this host's PATH: restore on an IdM server")
        if self.option("gnupghome") and not os.path.isdir(self.options["gnupghome"]):
            problems.append("provider_options.gnupghome %s is not a directory" % self.options["gnupghome"])
        needed = sum(part["size"] for part in header.parts)
        try:
            free = shutil.disk_usage(nearest_existing(staging)).free
        except OSError:
            free = None
        if free is not None and free < needed:
            problems.append("staging the backup needs %d MiB and %s has %d MiB free: free space or choose another "
                            "staging_dir" % (needed >> 20, staging, free >> 20))
        if not problems:
            version = self._local_version()
            if version is None:
                self.warnings.append("the IPA version of this server could not be read (ipa --version); ipa-restore "
                                     "will compare it with the backup's %s" % native.get("ipaVersion"))
            elif version != native.get("ipaVersion"):
                self.warnings.append("backup %s was taken with IPA %s and this server runs IPA %s: ipa-restore "
                                     "restores it with a warning; check the release notes"
                                     % (header.name, native.get("ipaVersion"), version))
        return problems

    @contextlib.contextmanager
    def restore_stage(self, header):
        native = header.manifest["native"]
        outer = os.path.join(self._staging_root(), ".drkit-restore-%s" % header.id[:8])
        if os.path.lexists(outer):
            shutil.rmtree(outer)
        private_dir(outer)
        try:
            stage = os.path.join(outer, native["name"])
            os.mkdir(stage, 0o700)
            yield stage
        finally:
            shutil.rmtree(outer, ignore_errors=True)

    def restore_plan(self, header):
        native = header.manifest["native"]
        kind = self._restore_kind(native)
        plan = ["ipa-restore would restore %s (%s restore of the %s backup taken on %s at %s); it stops and starts "
                "the IdM services itself" % (native["name"], kind, native["type"], native["host"], native["time"])]
        hidden = self._hidden(self.host())
        if hidden is None:
            hidden = native.get("hidden")
        if hidden and self.option("rehide"):
            plan.append("server %s would then be hidden again (ipa-restore leaves it enabled)" % native["host"])
        plan.append("every other IdM server would then need re-initialising from %s" % native["host"])
        return plan

    def restore_whole(self, header, stage_dir):
        native = header.manifest["native"]
        host = self.host() or native["host"]
        hidden_before = self._hidden(host)
        if hidden_before is None:
            hidden_before = native.get("hidden")
        password = self._dm_password() if self.configured() else None
        argv = ["ipa-restore"]
        if self.option("data_only"):
            argv.append("--data")
        if self.option("no_logs"):
            argv.append("--no-logs")
        stdin_text = None
        if password is None:
            argv.append("--unattended")
        else:
            # The password, then "yes" to "Continue to restore?" (asked on a version mismatch) and to
            # "Restoring data will overwrite existing live data. Continue to restore?".
            stdin_text = password + "\nyes\nyes\n"
        argv.append(stage_dir)
        code, output = self._run(argv, secret=password, stdin_text=stdin_text, env=self._env(),
                                 timeout=self.timeout)
        services = self._ensure_running()
        if code != 0:
            raise DrkitError("ipa-restore failed (exit %d): %s; %s" % (code, cli.tail(output), services))
        actions = ["ipa-restore restored %s (%s restore) on %s; %s"
                   % (native["name"], self._restore_kind(native), host, services)]
        rehidden = False
        hidden_after = self._hidden(host) if hidden_before and self.option("rehide") else None
        if hidden_before and self.option("rehide") and hidden_after is None:
            self.warnings.append("%s was hidden before the restore and its state cannot be read now (ipa "
                                 "server-role-find failed; is there a Kerberos ticket?): check it and hide it with "
                                 "drkit.backup.freeipa_server_state (state hidden)" % host)
        if hidden_after is False:
            code, state_output = self._ipa(["server-state", host, "--state=hidden"])
            if code != 0:
                raise DrkitError("the restore succeeded but hiding %s again failed (ipa server-state: %s): hide it "
                                 "with drkit.backup.freeipa_server_state (state hidden)"
                                 % (host, cli.tail(state_output, 2)))
            rehidden = True
            actions.append("server %s hidden again (ipa-restore had enabled it)" % host)
        self.report = {
            "native_restore": {"name": native["name"], "type": self._restore_kind(native), "host": host,
                               "output": cli.tail(output, 12)},
            "was_hidden": bool(hidden_before),
            "rehidden": rehidden,
            "reinitialize": "every other IdM server must now be re-initialised from %s, outward through the "
                            "topology, domain before ca: drkit.backup.freeipa_topology_info with "
                            "reinitialize_from=%s gives the order, drkit.backup.freeipa_reinitialize runs each "
                            "step" % (host, host),
        }
        return actions
