# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every provider offers the engine and the roles: the provider contract.

A provider adapts one product. It is one of three kinds, each a class here:

- :class:`PartsProvider`: drkit captures the data itself, part by part, and
  restores each part (files); a :class:`DumpProvider` streams each part from
  a tool's output and restores the verified whole with the tool (a database);
- :class:`ToolProvider`: one run of the product's own tool makes the whole
  backup, whose files become parts, and the tool restores it as a whole
  (``ipa-backup``/``ipa-restore``, ``kanidmd database backup``/``restore``);
- :class:`ApplianceProvider`: a remote appliance driven over its API from
  the controller or a delegate host makes and encrypts its own backup, which
  drkit fetches and keeps as a drkit backup (CipherTrust Manager, MQ Appliance).

Whatever the kind, a provider declares its options once (``OPTIONS``, see
providers/options.py), the type/online pairs it supports, the services an
offline backup stops, and the facts the roles read (:meth:`Provider.facts`)
so that no role ever tests a provider's name.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_dir
from ansible_collections.drkit.backup.plugins.module_utils.providers import options as option_spec
from ansible_collections.drkit.backup.plugins.module_utils.providers import release


class PartSpec:
    """One part to capture: its name, kind, and what the manifest records about it."""

    def __init__(self, name: str, kind: str, **extra):
        self.name = name
        self.kind = kind
        self.extra = extra


class NativeCapture:
    """The product's own backup (made by its tool, or by an appliance and fetched), whose files become parts.

    ``parts``: (PartSpec, path of the file holding its raw content) in order.
    ``manifest``: manifest fields known only after the run (productVersion,
    sourceHost, serverRoles, and the product's own metadata).
    ``report``: extra fields for the module's result.
    ``finish(success)``: called once the drkit backup is committed (True) or
    abandoned (False), e.g. to remove the tool's own output only when it is
    safely sealed.
    """

    def __init__(self, parts, manifest=None, report=None, finish=None):
        self.parts = list(parts)
        self.manifest = dict(manifest or {})
        self.report = dict(report or {})
        self._finish = finish

    def finish(self, success: bool):
        if self._finish is not None:
            self._finish(success)


class Provider:
    """What every kind of provider has; subclass one of the three kinds below, never this."""

    name = ""
    kind = ""
    # Where the provider's modules run: "host" (the managed host itself) or "delegate" (a host that reaches
    # the appliance over its API).
    runs_on = "host"
    # The provider's options (providers/options.py describes the format).
    OPTIONS = {}
    # The (type, online) pairs this provider can capture.
    supports = ()
    # Options a restore takes from the header's provider section (the rest of it only describes the backup).
    restore_from_header = ()
    # What a restore's per-part change counts count: "paths" (files written) or "parts".
    restore_counts = "parts"
    # How the restore role takes its safety copy before a restore: "restore_options" (a backup with the restore's
    # options), "present_paths" (a backup of those of the backup's paths that exist under target_root) or "none"
    # (the target holds nothing to copy: the role wants drkit_backup_restore_accept_no_rollback), and the
    # options that restore the safety copy (a rollback).
    safety_copy = "restore_options"
    rollback_options = {}
    # The topology family whose follow-up tasks the restore role runs (hide a replica again, re-initialise
    # its peers), or None; and how the fleet role chooses the host to back up: "inventory" (drkit_backup_roles,
    # drkit_backup_hidden) or "topology" (the product's own view, read by that family's tasks).
    topology = None
    fleet_policy = "inventory"
    # Which releases of the product its backups may be restored to (providers/release.py), and whether the
    # product itself has an override that a restore may take with force_release.
    release_rule = "any"
    release_params = {}
    release_force = False
    # What the provider's own drill check proves (a check's name in a drill's reports).
    drill_check_name = "provider"

    def __init__(self, options: dict, secrets=None):
        self.options = dict(options or {})
        # Passwords and the like (from a no_log module option); never returned or logged.
        self.secrets = dict(secrets or {})
        # Sentences the module returns as ``warnings`` (for example a version mismatch).
        self.warnings = []
        # Extra fields for the module's result.
        self.report = {}
        # How a restore stops and starts services (host/services.py) and the operation that records them: set by
        # the restore before restore_whole, for a provider whose restore stops its product itself.
        self.service_control = None
        self.journal = None

    @classmethod
    def facts(cls) -> dict:
        """What the roles read about this provider instead of testing its name."""
        return {
            "name": cls.name, "kind": cls.kind, "runs_on": cls.runs_on,
            "supports": [{"type": backup_type, "online": online} for backup_type, online in cls.supports],
            "tool_stops_services": cls.tool_stops_services(),
            "options": option_spec.describe(cls.OPTIONS),
            "backup_options": option_spec.names(cls.OPTIONS, "backup"),
            "restore_options": option_spec.names(cls.OPTIONS, "restore"),
            "restore": {"from_header": list(cls.restore_from_header), "whole": cls.restores_whole(),
                        "counts": cls.restore_counts, "safety_copy": cls.safety_copy,
                        "rollback_options": dict(cls.rollback_options)},
            "topology": cls.topology, "fleet_policy": cls.fleet_policy,
        }

    @classmethod
    def tool_stops_services(cls) -> bool:
        """Whether the product's own tool stops and starts its services for an offline backup."""
        return False

    @classmethod
    def restores_whole(cls) -> bool:
        """Whether a restore takes the whole backup at once (no choice of parts)."""
        return False

    def option(self, name: str):
        """An option as given, else its declared default."""
        if name in self.options:
            return self.options[name]
        return self.OPTIONS[name].get("default")

    def nothing_to_save(self) -> str:
        """Why a backup here would hold nothing of the product (not installed or configured yet), or ''.

        A safety copy before a restore onto a fresh host asks this (``if_nothing_to_save: report``) instead of
        failing where the product's own backup tool would refuse.
        """
        return ""

    def check_backup(self, backup_type: str, online: bool):
        """Refuses an unsupported combination before anything is stopped or written."""
        if (backup_type, online) not in self.supports:
            kinds = ", ".join("%s %s" % (t, "online" if o else "offline") for t, o in self.supports)
            raise InvalidInput("provider %s cannot take a %s %s backup; it supports: %s"
                               % (self.name, "online" if online else "offline", backup_type, kinds))

    def product_version(self):
        return None

    def host(self):
        """The name the product knows this server by (None: the machine's FQDN)."""
        return None

    def fixed_moment(self):
        """The capture time when it is already known (adopting an existing backup), else None."""
        return None

    def existing(self, complete_headers):
        """Among (entry, header) of finished backups in the destination, the one that already holds
        what this capture would produce (so nothing is done), or None."""
        return None

    def services(self) -> list:
        """The services an offline backup stops (in order) with the stop command, and a restore stops."""
        return []

    def tool_stops(self, backup_type: str, online: bool) -> bool:
        """Whether this backup's run of the product's own tool takes the services down."""
        return False

    def estimate_size(self, backup_type: str):
        """About how many raw bytes a capture writes (None when the provider cannot tell beforehand)."""
        return None

    def describe(self) -> dict:
        """Provider facts for the manifest (server roles, options that shape the backup)."""
        return {}

    def check_restore(self, header) -> list:
        """Problems (sentences) that make ``header``'s backup unfit for this server."""
        return []

    @classmethod
    def native_check(cls):
        """What checks the product's own backup inside the parts while a full verification reads them (None:
        drkit's own checksums only): an object with ``consume(part, reader)`` and ``problems(header)``."""
        return None

    def content_summary(self) -> dict:
        """What the capture held, counted inside it (DESIGN decision 28): the header's ``contentSummary``, which a
        drill compares with :meth:`count` of the restored instance. Empty: the provider keeps none."""
        return {}

    def captured(self) -> dict:
        """Manifest fields known once the parts are captured: the content summary, and what the provider
        adds (a database server's version and its databases' sizes, which ``backup_info`` shows)."""
        summary = self.content_summary()
        return {"contentSummary": summary} if summary else {}

    def count(self, summary=None) -> dict:
        """The same counts, taken on the restored instance the options name (a drill's scratch target), for
        what ``summary`` (the header's) holds."""
        raise InvalidInput("provider %s cannot count what a restore holds yet" % self.name)

    # --- drills (DESIGN decisions 18, 26) -----------------------------------------------------------------

    def scratch_options(self, scratch_dir: str, header) -> dict:
        """The restore options that put ``header``'s backup into ``scratch_dir`` (a drill's scratch target), every
        outbound peer rewritten and no live service stopped; refuses when that would still be the live instance."""
        raise InvalidInput("provider %s cannot be drilled yet: it has no scratch target" % self.name)

    def scratch_start(self):
        """Makes what the scratch target needs besides its directory, before the restore (the options are the ones
        :meth:`scratch_options` gave)."""

    def scratch_restored(self):
        """Starts what serves the scratch target once the restore is in (a server a restore needs stopped)."""

    def scratch_end(self) -> list:
        """Tears down what the restore into the scratch target started, whatever happened (also after a drill that
        was killed); problems (sentences) when something is left, [] when all is gone."""
        return []

    def health(self, header) -> list:
        """Problems (sentences) that keep the restored instance the options name from being healthy; [] when it is."""
        return []

    def drill_check(self, header) -> list:
        """The provider's own check of a restored, healthy instance: problems (sentences), [] when it passes."""
        return []

    def restorable_to(self, version) -> dict:
        """The header's ``restorableTo`` for a backup made by ``version`` of the product."""
        return release.restorable_to(self.release_rule, version, **self.release_params)

    def target_release(self):
        """The product's release on this host, that a restore is checked against (None: unknown)."""
        return self.product_version()

    def check_release(self, header, force=False) -> list:
        """Problems (sentences) when the backup's release rule refuses this host's release; with ``force``
        (for a product that has an override) a warning instead."""
        rule = header.manifest.get("restorableTo")
        if not rule or rule.get("rule", "any") == "any":
            return []
        found = release.problem(rule, self.target_release(), self.name)
        if found and force:
            if not self.release_force:
                raise InvalidInput("force_release was given, and provider %s's product has no override for its "
                                   "release rule: restore onto a release the backup allows (%s)" % (self.name, found))
            self.warnings.append("force_release: %s; restored anyway" % found)
            return []
        return [found] if found else []


class PartsProvider(Provider):
    """drkit captures the data itself, part by part, and restores each part."""

    kind = "parts"

    def parts(self, backup_type: str) -> list:
        """The :class:`PartSpec` of each part to capture."""
        raise NotImplementedError

    def capture(self, part: PartSpec, out):
        """Writes the raw content of ``part`` to the binary file object ``out``."""
        raise NotImplementedError

    def plan_part(self, part: dict, reader) -> list:
        """What restoring one part from the plaintext ``reader`` would change (check mode and diff)."""
        raise NotImplementedError

    def stage_part(self, part: dict, reader, staging) -> list:
        """Prepares one part's restore beside its targets, recording the steps in ``staging`` (see
        host/staging.py) that the engine takes once the whole backup has verified; returns what changes."""
        raise NotImplementedError


class RestoredWhole:
    """A provider whose restore takes the whole backup at once: the engine verifies every part while writing its
    plaintext into a private directory, then the product's tool restores from there."""

    @classmethod
    def restores_whole(cls) -> bool:
        return True

    @contextlib.contextmanager
    def restore_stage(self, header):
        """Yields a private directory where the engine writes each part's plaintext under its
        part name (the product's own layout); removes it afterwards."""
        raise NotImplementedError
        yield  # pylint: disable=unreachable

    def restore_plan(self, header) -> list:
        """What :meth:`restore_whole` would do, as sentences (check mode and diff)."""
        return ["restore backup %s with the product's own tool" % header.name]

    def restore_whole(self, header, stage_dir: str) -> list:
        """Restores the backup staged in ``stage_dir``; returns what was done, as sentences."""
        raise NotImplementedError


class DumpProvider(RestoredWhole, PartsProvider):
    """Each part streamed from a tool's standard output as it dumps (the plaintext never touches disk); the
    restore stages the verified dumps in a private directory, since the tool restores best from a file it can seek
    in (``pg_restore --jobs``)."""

    @contextlib.contextmanager
    def restore_stage(self, header):
        """A private directory under the provider's staging_dir option (default the system's temporary one)."""
        stage = tempfile.mkdtemp(prefix=".drkit-restore-%s-" % header.id[:8], dir=self.option("staging_dir"))
        try:
            private_dir(stage)
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)


class WholeProvider(RestoredWhole, Provider):
    """The product makes the backup as a whole (its tool, or an appliance) and restores it as a whole."""

    def capture_whole(self, backup_type: str, online: bool) -> NativeCapture:
        """Has the product make its backup; returns the files that become parts."""
        raise NotImplementedError


class ToolProvider(WholeProvider):
    """One run of the product's own tool backs up (stopping the services itself when offline) and restores."""

    kind = "tool"

    @classmethod
    def tool_stops_services(cls) -> bool:
        return True

    def tool_stops(self, backup_type: str, online: bool) -> bool:
        return not online


class ApplianceProvider(WholeProvider):
    """A remote appliance over its API: it makes and encrypts its own backup; drkit fetches and keeps it.

    Its modules run on a delegate host; it has no services for drkit to stop, and its backups are named and
    grouped by the appliance, not by the delegate.
    """

    kind = "appliance"
    runs_on = "delegate"
