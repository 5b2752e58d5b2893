# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keycloak's named datasources (its server guide, "Configuring multiple datasources"): the databases an extension
reads, declared with db-kind-<name> and each database key of Keycloak's own with -<name> (db-url as
db-url-full-<name>: config.datasource_key).

Each is dumped by the same database provider as Keycloak's own database, into a part ``ds-<name>-<its part>``
(kind ``kc-datasource``), and restored with it, replacing the database this Keycloak's configuration names for that
datasource (a replacement host keeps its own db-* settings, named ones too). A drill restores Keycloak's own
database alone: the others are its extensions' and would be live servers' (the drill says it left them out).
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.base import PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak import config

DATASOURCE_KIND = "kc-datasource"


class DatasourceHeader:
    """What a database provider reads of a header (name, manifest, parts), for one named datasource's parts."""

    def __init__(self, header, datasource, dump_kind):
        self.name = header.name
        held = ((header.manifest.get("keycloak") or {}).get("datasources") or {}).get(datasource) or {}
        self.manifest = {"database": held.get("server") or {}}
        self.parts = [dict(part, kind=dump_kind) for part in header.parts
                      if part.get("kind") == DATASOURCE_KIND and part.get("datasource") == datasource]


class KeycloakDatasources:
    """The named-datasource methods of the keycloak provider (mixed into KeycloakProvider)."""

    def datasources(self) -> dict:
        """name -> its database provider, for each named datasource the configuration declares that is not
        Keycloak's own database again."""
        if self._datasources is None:
            own = self.database().facts()
            found = {}
            for name in self.settings().named_datasources():
                db = config.database(self.settings(), name)
                if db.facts() != own:
                    found[name] = self.database_provider(
                        db, "the password of Keycloak's datasource %s (provider_secrets.datasource_passwords.%s, "
                            "%s in keycloak.conf or %s)" % (name, name, config.datasource_key("db-password", name),
                                                            config.env_name(config.datasource_key("db-password",
                                                                                                  name))))
            self._datasources = found
        return self._datasources

    # --- backup ----------------------------------------------------------------------------------------

    def check_datasources_backup(self, backup_type):
        for provider in self.datasources().values():
            provider.check_backup(backup_type, True)  # reachable with its credentials, its database there

    def datasource_parts(self, backup_type) -> list:
        return [PartSpec("ds-%s-%s" % (name, part.name), DATASOURCE_KIND, datasource=name, dump=part.name,
                         **part.extra)
                for name, provider in sorted(self.datasources().items()) for part in provider.parts(backup_type)]

    def capture_datasource(self, part, out):
        provider = self.datasources()[part.extra["datasource"]]
        extra = {key: value for key, value in part.extra.items() if key not in ("datasource", "dump")}
        provider.capture(PartSpec(part.extra["dump"], provider.dump_kind, **extra), out)

    def datasource_fields(self) -> dict:
        """What the header keeps of each named datasource: where it was (no account, no password) and its server's
        facts (version, databases and their tables), which its restore checks against."""
        return {name: {"facts": config.database(self.settings(), name).facts(),
                       "server": provider.captured().get("database") or {}}
                for name, provider in sorted(self.datasources().items())}

    # --- restore ---------------------------------------------------------------------------------------

    def _held_datasources(self, header) -> list:
        return sorted(((header.manifest.get("keycloak") or {}).get("datasources") or {}))

    def _datasource_header(self, header, name):
        """The view of ``header`` that datasource ``name``'s provider restores from, onto the database this
        Keycloak's configuration names for it."""
        provider = self.datasources()[name]
        view = DatasourceHeader(header, name, provider.dump_kind)
        provider.options["target_databases"] = {part["database"]: provider.option("databases")[0]
                                                for part in view.parts}
        return view

    def _restores_datasources(self, header) -> bool:
        # A drill restores Keycloak's own database alone (the module's docstring).
        return bool(self.option("restore_database") and not self.option("scratch_dir")
                    and self._held_datasources(header))

    def check_datasources_restore(self, header) -> list:
        if not self._restores_datasources(header):
            return []
        problems = []
        for name in self._held_datasources(header):
            if name not in self.datasources():
                problems.append("it holds Keycloak's named datasource %s, which this Keycloak's configuration does not "
                                "declare (%s): declare it, or restore with restore_database false"
                                % (name, config.datasource_key("db", name)))
                continue
            made = (header.manifest["keycloak"]["datasources"][name].get("facts") or {}).get("vendor")
            vendor = config.database(self.settings(), name).vendor
            if made != vendor:
                problems.append("its named datasource %s is a %s database and here it is %s" % (name, made, vendor))
                continue
            provider = self.datasources()[name]
            try:
                problems += ["named datasource %s: %s" % (name, problem)
                             for problem in provider.check_restore(self._datasource_header(header, name))]
            except provider.connection.error as exc:
                problems.append("Keycloak's named datasource %s cannot be reached to restore it: %s" % (name, exc))
        return problems

    def datasources_plan(self, header) -> list:
        if not self._restores_datasources(header):
            return []
        return ["named datasource %s: %s" % (name, step) for name in self._held_datasources(header)
                for step in self.datasources()[name].restore_plan(self._datasource_header(header, name))]

    def restore_datasources(self, header, stage_dir) -> list:
        """Each named datasource the backup holds, restored (check_datasources_restore found them all here)."""
        if not self._restores_datasources(header):
            left_out = self.option("scratch_dir") and self._held_datasources(header)
            return ["left out the named datasource(s) %s: a drill restores Keycloak's own database"
                    % ", ".join(left_out)] if left_out else []
        return ["named datasource %s: %s" % (name, step) for name in self._held_datasources(header)
                for step in self.datasources()[name].restore_whole(self._datasource_header(header, name), stage_dir)]
