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

from ansible_collections.drkit.backup.plugins.module_utils import freeipa_cli
from ansible_collections.drkit.backup.plugins.module_utils.errors import (
    CaptureError, DrkitError, FormatError, InvalidInput)
from ansible_collections.drkit.backup.plugins.module_utils.fsutil import private_dir
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import PartSpec, Provider, ToolCapture
from ansible_collections.drkit.backup.plugins.module_utils.timeutil import rfc3339

NATIVE_NAME_RE = re.compile(r"^ipa-(?P<type>full|data)-(?P<stamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)$")
BACKED_UP_RE = re.compile(r"Backed up to (\S+)")
HEADER_FIELDS = ("type", "time", "host", "ipa_version", "version", "services")
# ipa-backup's header lists the services of the master; these are the ones that are server roles.
SERVICE_ROLES = ("CA", "KRA", "DNS", "DNSKeySync", "ADTRUST")
PACKAGES = {
    "DNS": ("usr/sbin/ipa-dns-install", "freeipa-server-dns (ipa-server-dns on RHEL)", "Integrated DNS"),
    "ADTRUST": ("usr/sbin/ipa-adtrust-install", "freeipa-server-trust-ad (ipa-server-trust-ad on RHEL)",
                "AD trust"),
}
DEFAULT_TIMEOUT = 4 * 3600
BOOL_OPTIONS = ("logs", "gpg", "disable_role_check", "keep_native", "data_only", "no_logs", "rehide")
PATH_OPTIONS = ("root", "gnupghome", "tmpdir", "backup_dir", "staging_dir", "dm_password_file", "krb5_ccache")
OPTIONS = set(BOOL_OPTIONS + PATH_OPTIONS + ("adopt", "timeout"))


def parse_header(text: str, where: str) -> dict:
    """The ``[ipa]`` section of an ipa-backup ``header`` file, checked and typed."""
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read_string(text, source=where)
    except configparser.Error as exc:
        raise FormatError("%s is not an ipa-backup header: %s" % (where, str(exc).splitlines()[0]))
    if not config.has_section("ipa"):
        raise FormatError("%s is not an ipa-backup header: it has no [ipa] section" % where)
    missing = [field for field in HEADER_FIELDS if not config.has_option("ipa", field)]
    if missing:
        raise FormatError("%s lacks %s in its [ipa] section: it is damaged or not an ipa-backup header"
                          % (where, ", ".join(missing)))
    values = {field: config.get("ipa", field).strip() for field in HEADER_FIELDS}
    if values["type"] not in ("FULL", "DATA"):
        raise FormatError("%s has type %r; ipa-backup writes FULL or DATA" % (where, values["type"]))
    try:
        moment = datetime.datetime.strptime(values["time"], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise FormatError("%s has time %r; ipa-backup writes YYYY-MM-DDTHH:MM:SS (GMT)" % (where, values["time"]))
    services = [name.strip() for name in values["services"].split(",") if name.strip()]
    return {"type": values["type"], "time": moment, "host": values["host"], "ipa_version": values["ipa_version"],
            "version": values["version"], "services": services}


def roles_of(services) -> list:
    """The server roles among a header's services, in a fixed order."""
    return [role for role in SERVICE_ROLES if role in services]


def backup_argv(backup_type: str, online: bool, options: dict) -> list:
    """ipa-backup's command line (no secret ever goes here)."""
    argv = ["ipa-backup"]
    if backup_type == "data":
        argv.append("--data")
    if online:
        argv.append("--online")
    if options.get("logs"):
        argv.append("--logs")
    if options.get("gpg"):
        argv.append("--gpg")
    if options.get("disable_role_check"):
        argv.append("--disable-role-check")
    return argv


def check_backup_options(backup_type: str, online: bool, options: dict):
    """ipa-backup's own option rules, said before anything runs."""
    if online and backup_type != "data":
        raise InvalidInput("an online FreeIPA backup must be of type data: ipa-backup takes full backups with the "
                           "IdM services stopped (use type data with online true, or online false)")
    if backup_type == "data" and options.get("logs"):
        raise InvalidInput("provider_options.logs cannot go with type data: ipa-backup adds log files to full "
                           "backups only (drop logs, or take a full backup)")


def native_backups(backup_dir: str) -> list:
    """The native ``ipa-full-*`` / ``ipa-data-*`` backups in ``backup_dir``, newest first."""
    found = []
    if not os.path.isdir(backup_dir):
        return found
    for entry in os.scandir(backup_dir):
        match = NATIVE_NAME_RE.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        found.append(describe_native(entry.path))
    found.sort(key=lambda item: (item["name"].split("-", 2)[2], item["name"]), reverse=True)
    return found


def describe_native(path: str) -> dict:
    """What a native backup directory holds, read without changing it."""
    name = os.path.basename(path.rstrip("/"))
    match = NATIVE_NAME_RE.match(name)
    kind = match.group("type") if match else None
    item = {"name": name, "path": path, "type": kind, "status": "complete", "problems": []}
    files = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False):
            files.append({"name": entry.name, "size": entry.stat(follow_symlinks=False).st_size})
    item["files"] = files
    item["size"] = sum(f["size"] for f in files)
    names = {f["name"] for f in files}
    archive_name = "ipa-%s.tar" % kind
    item["encrypted"] = archive_name + ".gpg" in names
    if "header" not in names:
        item["status"] = "incomplete"
        item["problems"].append("%s has no header file: ipa-backup did not finish" % name)
    else:
        try:
            with open(os.path.join(path, "header")) as handle:
                header = parse_header(handle.read(), "header of %s" % name)
        except (FormatError, OSError, UnicodeDecodeError) as exc:
            item["status"] = "damaged"
            item["problems"].append(str(exc))
        else:
            item.update({"time": rfc3339(header["time"]), "host": header["host"],
                         "ipa_version": header["ipa_version"], "services": header["services"],
                         "roles": roles_of(header["services"])})
            if header["type"].lower() != kind:
                item["status"] = "damaged"
                item["problems"].append("%s is named as a %s backup but its header says %s"
                                        % (name, kind, header["type"]))
    if not names & {archive_name, archive_name + ".gpg"}:
        item["status"] = "incomplete" if item["status"] == "complete" else item["status"]
        item["problems"].append("%s has no %s: ipa-backup did not finish" % (name, archive_name))
    return item


class FreeIPAProvider(Provider):
    name = "freeipa"
    supports = (("full", False), ("data", False), ("data", True))
    tool_stops_services = True
    captures_with_tool = True
    restores_with_tool = True

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        unknown = sorted(set(self.options) - OPTIONS)
        if "dm_password" in unknown:
            raise InvalidInput("the Directory Manager password must not go in provider_options (they are logged): "
                               "give it as provider_secrets.dm_password, or name a root-only file in "
                               "provider_options.dm_password_file")
        if unknown:
            raise InvalidInput("provider freeipa has no option %s; its options are: %s"
                               % (", ".join(unknown), ", ".join(sorted(OPTIONS))))
        for key in BOOL_OPTIONS:
            if key in self.options and not isinstance(self.options[key], bool):
                raise InvalidInput("provider_options.%s must be true or false" % key)
        for key in PATH_OPTIONS + ("adopt",):
            value = self.options.get(key)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidInput("provider_options.%s must be a non-empty string" % key)
        self.root = os.path.abspath(self.options.get("root") or "/")
        self.backup_dir = self.options.get("backup_dir") or os.path.join(self.root, "var/lib/ipa/backup")
        timeout = self.options.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
            raise InvalidInput("provider_options.timeout must be a number of seconds")
        self.timeout = timeout
        self._adopted = None

    # --- this server ----------------------------------------------------------------

    def _opt(self, key, default=False):
        return self.options.get(key, default)

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
        if self._opt("gnupghome", None):
            env["GNUPGHOME"] = self.options["gnupghome"]
        if self._opt("tmpdir", None):
            env["TMPDIR"] = self.options["tmpdir"]
        if self._opt("krb5_ccache", None):
            env["KRB5CCNAME"] = self.options["krb5_ccache"]
        return env

    def _hidden(self, host):
        """Whether ``host`` is hidden now (None when the topology cannot be read)."""
        if not host:
            return None
        code, output = freeipa_cli.ipa(["server-role-find", "--server=%s" % host, "--include-master"],
                                       ccache=self._opt("krb5_ccache", None), check=False)
        if code != 0:
            return None
        roles = {e.get("Role name"): e.get("Role status") for e in freeipa_cli.parse_entries(output)}
        return freeipa_cli.is_hidden(roles)

    def _local_version(self):
        code, output = freeipa_cli.run(["ipa", "--version"], timeout=60) if shutil.which("ipa") else (1, "")
        match = re.search(r"VERSION:\s*([^,\s]+)", output)
        return match.group(1) if code == 0 and match else None

    def _ensure_running(self) -> str:
        """Starts the IdM services if they are down (after ipa-backup or ipa-restore, whatever happened)."""
        try:
            code, _output = freeipa_cli.run(["ipactl", "status"], timeout=600)
            if code == 0:
                return "the IdM services are running"
            code, output = freeipa_cli.run(["ipactl", "start"], timeout=1800)
        except DrkitError as exc:
            return "the IdM services could not be checked (%s): check them with ipactl status" % exc
        if code == 0:
            return "the IdM services were down and were started again (ipactl start)"
        return ("the IdM services are down and ipactl start failed (exit %d: %s): start them by hand"
                % (code, freeipa_cli.tail(output, 2)))

    # --- backup -------------------------------------------------------------------

    def check_backup(self, backup_type, online):
        check_backup_options(backup_type, online, self.options)
        super().check_backup(backup_type, online)
        for key in ("gnupghome", "tmpdir"):
            if self._opt(key, None) and not os.path.isdir(self.options[key]):
                raise InvalidInput("provider_options.%s %s is not a directory" % (key, self.options[key]))
        if self._opt("adopt", None):
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
        return not online and not self._opt("adopt", None)

    def describe(self):
        described = {"logs": bool(self._opt("logs")), "gpg": bool(self._opt("gpg")),
                     "disableRoleCheck": bool(self._opt("disable_role_check"))}
        if self._opt("adopt", None):
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
        if not self._opt("adopt", None):
            return None
        return datetime.datetime.strptime(self._adopt_native()["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)

    def existing(self, complete_headers):
        if not self._opt("adopt", None):
            return None
        native = self._adopt_native()
        for entry, header in complete_headers:
            held = header.manifest.get("native") or {}
            if header.manifest.get("product") == self.name and held.get("name") == native["name"] \
                    and held.get("host") == native["host"] and held.get("time") == native["time"]:
                return entry, header
        return None

    def capture_with_tool(self, backup_type, online):
        if self._opt("adopt", None):
            native = self._adopt_native()
            return self._capture_from(native["path"], backup_type, hidden=None, remove_after=False, adopted=True)
        host = self.host()
        hidden = self._hidden(host)
        argv = backup_argv(backup_type, online, self.options)
        code, output = freeipa_cli.run(argv, env=self._env(), timeout=self.timeout)
        services = self._ensure_running()
        if code != 0:
            raise CaptureError("ipa-backup failed (exit %d): %s; %s; no drkit backup was written"
                               % (code, freeipa_cli.tail(output), services))
        found = BACKED_UP_RE.findall(output)
        if not found:
            raise CaptureError("ipa-backup reported success but no 'Backed up to' line: its output was %s"
                               % freeipa_cli.tail(output))
        return self._capture_from(found[-1], backup_type, hidden=hidden,
                                  remove_after=not self._opt("keep_native"), adopted=False)

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
        manifest = {
            "productVersion": header["ipa_version"],
            "sourceHost": header["host"],
            "serverRoles": roles_of(header["services"]),
            "native": {"tool": "ipa-backup", "name": native["name"], "type": header["type"],
                       "time": rfc3339(header["time"]), "host": header["host"], "ipaVersion": header["ipa_version"],
                       "headerVersion": header["version"], "services": header["services"],
                       "gpg": native["encrypted"], "hidden": hidden},
        }

        def finish(success):
            if success and remove_after:
                shutil.rmtree(path, ignore_errors=True)

        report = {"native_backup": {"name": native["name"], "path": path, "adopted": adopted,
                                    "kept": adopted or not remove_after}}
        return ToolCapture(parts, manifest, report, finish)

    # --- restore --------------------------------------------------------------------

    def _dm_password(self):
        if self.secrets.get("dm_password"):
            return str(self.secrets["dm_password"])
        path = self._opt("dm_password_file", None)
        if path:
            try:
                with open(path) as handle:
                    return handle.read().rstrip("\r\n")
            except OSError as exc:
                raise InvalidInput("cannot read provider_options.dm_password_file %s: %s" % (path, exc.strerror))
        return None

    def _restore_kind(self, native) -> str:
        return "DATA" if self._opt("data_only") else native.get("type", "FULL")

    def _staging_root(self):
        return self._opt("staging_dir", None) or self.backup_dir

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
        if self._opt("gnupghome", None) and not os.path.isdir(self.options["gnupghome"]):
            problems.append("provider_options.gnupghome %s is not a directory" % self.options["gnupghome"])
        needed = sum(part["size"] for part in header.parts)
        try:
            free = shutil.disk_usage(_existing(staging)).free
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
        if hidden and self._opt("rehide", True):
            plan.append("server %s would then be hidden again (ipa-restore leaves it enabled)" % native["host"])
        plan.append("every other IdM server would then need re-initialising from %s" % native["host"])
        return plan

    def restore_with_tool(self, header, stage_dir):
        native = header.manifest["native"]
        host = self.host() or native["host"]
        hidden_before = self._hidden(host)
        if hidden_before is None:
            hidden_before = native.get("hidden")
        password = self._dm_password() if self.configured() else None
        argv = ["ipa-restore"]
        if self._opt("data_only"):
            argv.append("--data")
        if self._opt("no_logs"):
            argv.append("--no-logs")
        stdin_text = None
        if password is None:
            argv.append("--unattended")
        else:
            # The password, then "yes" to "Continue to restore?" (asked on a version mismatch) and to
            # "Restoring data will overwrite existing live data. Continue to restore?".
            stdin_text = password + "\nyes\nyes\n"
        argv.append(stage_dir)
        code, output = freeipa_cli.run(argv, secret=password, stdin_text=stdin_text, env=self._env(),
                                       timeout=self.timeout)
        services = self._ensure_running()
        if code != 0:
            raise DrkitError("ipa-restore failed (exit %d): %s; %s" % (code, freeipa_cli.tail(output), services))
        actions = ["ipa-restore restored %s (%s restore) on %s; %s"
                   % (native["name"], self._restore_kind(native), host, services)]
        rehidden = False
        hidden_after = self._hidden(host) if hidden_before and self._opt("rehide", True) else None
        if hidden_before and self._opt("rehide", True) and hidden_after is None:
            self.warnings.append("%s was hidden before the restore and its state cannot be read now (ipa "
                                 "server-role-find failed; is there a Kerberos ticket?): check it and hide it with "
                                 "drkit.backup.freeipa_server_state (state hidden)" % host)
        if hidden_after is False:
            code, state_output = freeipa_cli.ipa(["server-state", host, "--state=hidden"],
                                                 ccache=self._opt("krb5_ccache", None), check=False)
            if code != 0:
                raise DrkitError("the restore succeeded but hiding %s again failed (ipa server-state: %s): hide it "
                                 "with drkit.backup.freeipa_server_state (state hidden)"
                                 % (host, freeipa_cli.tail(state_output, 2)))
            rehidden = True
            actions.append("server %s hidden again (ipa-restore had enabled it)" % host)
        self.report = {
            "native_restore": {"name": native["name"], "type": self._restore_kind(native), "host": host,
                               "output": freeipa_cli.tail(output, 12)},
            "was_hidden": bool(hidden_before),
            "rehidden": rehidden,
            "reinitialize": "every other IdM server must now be re-initialised from %s, outward through the "
                            "topology, domain before ca: drkit.backup.freeipa_topology_info with "
                            "reinitialize_from=%s gives the order, drkit.backup.freeipa_reinitialize runs each "
                            "step" % (host, host),
        }
        return actions


def _existing(path):
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    return path or "/"
