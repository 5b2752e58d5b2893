# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The partial export and import of a running Keycloak (rest.py), as the keycloak provider offers them.

An online backup with ``partial_export`` adds a part ``partial.tar`` holding ``<realm>-partial.json`` per realm:
its clients, roles and groups as the admin REST API exports them, every secret masked and no user. The header's
``keycloak.partialExport`` names, per realm, what it holds and which clients' secrets are masked, so that a
restore with ``partial_import_realms`` refuses, before it imports anything, to put the mask in place of a real
secret (OVERWRITE over a client that exists) or onto a new client, unless ``allow_masked_secrets``.
"""

from __future__ import annotations

import io
import json
import os
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak import rest
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.cli import KeycloakError

PARTIAL_PART = "partial.tar"
PARTIAL_FILE = "-partial.json"
WARNING = ("the partial export of realm(s) %s holds no users and masks the secrets of %d client(s) as **********: "
           "Keycloak's guide calls such an export unsuitable as a backup; the database dump is this backup, the "
           "partial export a way to put clients, roles and groups back into a running Keycloak")


class KeycloakPartial:
    """The partial export and import methods of the keycloak provider (mixed into KeycloakProvider)."""

    def admin(self) -> rest.AdminClient:
        if self._admin is None:
            self._admin = rest.AdminClient(
                self.option("admin_url") or self.main_url(), self.option("admin_realm"),
                self.option("admin_client_id"), self.option("admin_username"), self.secrets.get("admin_password"),
                self.secrets.get("admin_client_secret"), self.option("validate_certs"), self.option("ca_path"))
        return self._admin

    # --- backup ---------------------------------------------------------------------------------------------

    def check_partial_backup(self, online):
        if not self.option("partial_export"):
            return
        if not online:
            raise InvalidInput("partial_export is for an online backup (Keycloak running): an offline one exports "
                               "every realm in full with kc.sh export (export_realms)")
        known = self.admin().realms()  # the admin logs in now, before anything is captured
        unknown = sorted(set(self.option("realms") or []) - set(known))
        if unknown:
            raise InvalidInput("Keycloak has no realm %s (it has: %s): nothing was backed up"
                               % (", ".join(unknown), ", ".join(sorted(known))))

    def capture_partial(self, out):
        realms = list(self.option("realms") or self.admin().realms())
        self._partial = {}
        with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for realm in sorted(realms):
                representation = self.admin().partial_export(realm)
                data = json.dumps(representation, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(realm + PARTIAL_FILE)
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
                self._partial[realm] = {
                    "clients": len(representation.get("clients") or []),
                    "roles": len((representation.get("roles") or {}).get("realm") or []),
                    "groups": len(representation.get("groups") or []),
                    "masked": rest.masked_clients(representation)}

    def partial_fields(self) -> dict:
        partial = self._partial
        if partial is None:
            return {}
        self.report["partial_export"] = sorted(partial)
        self.warnings.append(WARNING % (", ".join(sorted(partial)),
                                        sum(len(held["masked"]) for held in partial.values())))
        return {"realms": partial}

    # --- restore --------------------------------------------------------------------------------------------

    def _partial_made(self, header) -> dict:
        return ((header.manifest.get("keycloak") or {}).get("partialExport") or {}).get("realms") or {}

    def check_partial_restore(self, header) -> list:
        wanted = self.option("partial_import_realms")
        if not wanted:
            return []
        contrary = sorted(name for name in ("restore_database", "restore_config", "import_realms")
                          if self.options.get(name))
        if contrary:
            return ["partial_import_realms puts clients, roles and groups back into the running Keycloak and "
                    "nothing else: leave out %s" % ", ".join(contrary)]
        made = self._partial_made(header)
        missing = sorted(set(wanted) - set(made))
        if missing:
            return ["partial_import_realms names %s, which backup %s's partial export does not hold (it holds: %s)"
                    % (", ".join(missing), header.name, ", ".join(sorted(made)) or "none: it was taken without "
                       "partial_export")]
        problems = []
        try:
            present = set(self.admin().realms())
            for realm in wanted:
                if realm not in present:
                    problems.append("realm %s is not on this Keycloak: a partial import fills a realm that exists; "
                                    "restore the database, or import_realms from an offline backup" % realm)
                    continue
                problems += self._masked_problem(realm, made[realm]["masked"], set(self.admin().client_ids(realm)))
        except KeycloakError as exc:
            problems.append(str(exc))
        return problems

    def _masked_problem(self, realm, masked, existing) -> list:
        policy = self.option("if_resource_exists")
        over = sorted(set(masked) & existing) if policy == "OVERWRITE" else []
        new = sorted(set(masked) - existing)
        if not (over or new):
            return []
        what = []
        if over:
            what.append("replace the real secret of client(s) %s with the mask (OVERWRITE)" % ", ".join(over))
        if new:
            what.append("create client(s) %s with ********** as their secret" % ", ".join(new))
        if self.option("allow_masked_secrets"):
            self.warnings.append("realm %s: the partial import will %s (allow_masked_secrets): regenerate those "
                                 "secrets" % (realm, " and ".join(what)))
            return []
        return ["the partial export of realm %s masks client secrets, and importing it would %s: use "
                "if_resource_exists SKIP, restore the database, or allow_masked_secrets true and regenerate those "
                "secrets afterwards" % (realm, " and ".join(what))]

    def partial_plan(self) -> list:
        return ["import realm %s's clients, roles and groups through the admin REST API (partialImport, "
                "ifResourceExists %s), Keycloak running" % (realm, self.option("if_resource_exists"))
                for realm in self.option("partial_import_realms")]

    def restore_partial(self, stage_dir) -> list:
        done = []
        with tarfile.open(os.path.join(stage_dir, PARTIAL_PART)) as tar:
            for realm in self.option("partial_import_realms"):
                with tar.extractfile(realm + PARTIAL_FILE) as handle:
                    representation = json.load(handle)
                answer = self.admin().partial_import(realm, representation, self.option("if_resource_exists"))
                done.append("imported realm %s's partial export (ifResourceExists %s): %d added, %d skipped, %d "
                            "overwritten" % (realm, self.option("if_resource_exists"), answer.get("added", 0),
                                             answer.get("skipped", 0), answer.get("overwritten", 0)))
        return done
