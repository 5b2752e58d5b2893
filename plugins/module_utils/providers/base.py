# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every provider offers the engine.

A provider adapts one product: the services to stop for an offline backup
(stopped in order, started in reverse), the type/online pairs it supports,
the parts it captures, how to check that a backup fits this server, and how
to restore each part.
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.errors import InvalidInput


class PartSpec:
    """One part to capture: its name, kind, and what the manifest records about it."""

    def __init__(self, name: str, kind: str, **extra):
        self.name = name
        self.kind = kind
        self.extra = extra


class Provider:
    name = ""
    # The (type, online) pairs this provider can capture.
    supports = ()
    # True when the product's own backup tool stops and starts its services.
    tool_stops_services = False

    def __init__(self, options: dict):
        self.options = dict(options or {})

    def check_backup(self, backup_type: str, online: bool):
        """Refuses an unsupported combination before anything is stopped or written."""
        if (backup_type, online) not in self.supports:
            kinds = ", ".join("%s %s" % (t, "online" if o else "offline") for t, o in self.supports)
            raise InvalidInput("provider %s cannot take a %s %s backup; it supports: %s"
                               % (self.name, "online" if online else "offline", backup_type, kinds))

    def product_version(self):
        return None

    def services(self) -> list:
        return []

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

    def restore_part(self, part: dict, reader, check_mode: bool) -> list:
        """Restores one part from the plaintext ``reader``; returns what changed (or would)."""
        raise NotImplementedError
