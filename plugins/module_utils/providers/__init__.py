# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The providers, one package each (``providers/<name>/``), registered here by name.

The contract every provider meets is in base.py, its options' format in
options.py. Ansible ships a module's module_utils by reading its imports, so
the registry is static: one import line and one entry per provider. A
provider imports third-party libraries (database drivers, HTTP clients) only
when it runs, so a host without them still runs every other provider.
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers import options as option_spec
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.provider import CipherTrustProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.files.provider import FilesProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.provider import FreeIPAProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm.provider import KanidmProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.provider import KeycloakProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.ldap.provider import LDAPProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.mariadb_physical.provider import MariaDBPhysicalProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.mq_appliance.provider import MQApplianceProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.mysql.provider import MySQLProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.postgresql.provider import PostgreSQLProvider

PROVIDERS = {provider.name: provider for provider in (
    CipherTrustProvider,
    FilesProvider,
    FreeIPAProvider,
    KanidmProvider,
    KeycloakProvider,
    LDAPProvider,
    MariaDBPhysicalProvider,
    MQApplianceProvider,
    MySQLProvider,
    PostgreSQLProvider,
)}


def provider_class(name: str):
    if name not in PROVIDERS:
        raise InvalidInput("unknown provider %r; this release has: %s" % (name, ", ".join(sorted(PROVIDERS))))
    return PROVIDERS[name]


def get_provider(name: str, options=None, secrets=None, verb=None):
    """The provider ``name`` with its options and secrets checked for ``verb`` (None: any verb)."""
    cls = provider_class(name)
    return cls(*option_spec.validate(name, cls.OPTIONS, verb, options, secrets))


def facts(name: str) -> dict:
    """What the roles read about provider ``name`` (see :meth:`base.Provider.facts`)."""
    return provider_class(name).facts()
