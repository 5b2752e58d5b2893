# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The providers, by name."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.files import FilesProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa import FreeIPAProvider

PROVIDERS = {provider.name: provider for provider in (FilesProvider, FreeIPAProvider)}


def get_provider(name: str, options: dict, secrets=None):
    if name not in PROVIDERS:
        raise InvalidInput("unknown provider %r; this release has: %s" % (name, ", ".join(sorted(PROVIDERS))))
    return PROVIDERS[name](options or {}, secrets)
