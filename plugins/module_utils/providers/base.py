# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every provider offers the engine.

A provider adapts one product: the services to stop for an offline backup
(stopped in order, started in reverse), the type/online pairs it supports,
the parts it captures, how to check that a backup fits this server, and how
to restore each part.

Two ways to capture and restore:

- part by part (the default): ``parts()`` lists the parts, ``capture()``
  writes each one, ``plan_part()`` and ``stage_part()`` restore each one;
- through the product's own tool (``captures_with_tool`` /
  ``restores_with_tool``), for products whose backup tool must run once and
  produces several files (``ipa-backup``): ``capture_with_tool()`` runs it and
  returns a :class:`ToolCapture` naming the files that become parts, and
  ``restore_with_tool()`` hands the whole backup, staged back into the tool's
  own layout by ``restore_stage()``, to the tool's restore command.
"""

from __future__ import annotations

import contextlib

from ansible_collections.drkit.backup.plugins.module_utils.errors import InvalidInput


class PartSpec:
    """One part to capture: its name, kind, and what the manifest records about it."""

    def __init__(self, name: str, kind: str, **extra):
        self.name = name
        self.kind = kind
        self.extra = extra


class ToolCapture:
    """What one run of a product's own backup tool produced.

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
    name = ""
    # The (type, online) pairs this provider can capture.
    supports = ()
    # True when the product's own backup tool stops and starts its services.
    tool_stops_services = False
    # True when one run of the product's tool captures every part (capture_with_tool).
    captures_with_tool = False
    # True when the product's tool restores the whole backup at once (restore_with_tool).
    restores_with_tool = False

    def __init__(self, options: dict, secrets=None):
        self.options = dict(options or {})
        # Passwords and the like (from a no_log module option); never returned or logged.
        self.secrets = dict(secrets or {})
        # Sentences the module returns as ``warnings`` (for example a version mismatch).
        self.warnings = []
        # Extra fields for the module's result.
        self.report = {}

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
        return []

    def tool_stops(self, backup_type: str, online: bool) -> bool:
        """Whether this backup's run of the product's own tool takes the services down (offline)."""
        return bool(self.tool_stops_services and not online)

    def parts(self, backup_type: str) -> list:
        raise NotImplementedError

    def estimate_size(self, backup_type: str):
        """About how many raw bytes a capture writes (None when the provider cannot tell beforehand)."""
        return None

    def capture(self, part: PartSpec, out):
        """Writes the raw content of ``part`` to the binary file object ``out``."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Provider facts for the manifest (server roles, options that shape the backup)."""
        return {}

    def check_restore(self, header) -> list:
        """Problems (sentences) that make ``header``'s backup unfit for this server."""
        return []

    def plan_part(self, part: dict, reader) -> list:
        """What restoring one part from the plaintext ``reader`` would change (check mode and diff)."""
        raise NotImplementedError

    def stage_part(self, part: dict, reader, staging) -> list:
        """Prepares one part's restore beside its targets, recording the steps in ``staging`` (see
        staging.py) that the engine takes once the whole backup has verified; returns what changes."""
        raise NotImplementedError

    # --- the product's own tool (captures_with_tool / restores_with_tool) ---------------

    def capture_with_tool(self, backup_type: str, online: bool) -> ToolCapture:
        """Runs the product's backup tool once; returns the files that become parts."""
        raise NotImplementedError

    @contextlib.contextmanager
    def restore_stage(self, header):
        """Yields a private directory where the engine writes each part's plaintext under its
        part name (the tool's own layout); removes it afterwards."""
        raise NotImplementedError
        yield  # pylint: disable=unreachable

    def restore_plan(self, header) -> list:
        """What restore_with_tool would do, as sentences (check mode and diff)."""
        return ["restore backup %s with the product's own tool" % header.name]

    def restore_with_tool(self, header, stage_dir: str) -> list:
        """Restores the backup staged in ``stage_dir``; returns what was done, as sentences."""
        raise NotImplementedError
