# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``kc.sh``, Keycloak's command line: its release, realm export and import, and build.

Keycloak's import/export guide: ``kc.sh export --dir DIR [--realm R] --users skip|realm_file|same_file|
different_files [--users-per-file N]`` writes ``<realm>-realm.json`` and ``<realm>-users-<n>.json`` (n from 0;
``realm_file`` puts the users in the realm file), and ``kc.sh import --dir DIR [--override true|false]`` takes
every realm file of the directory, with no realm option. Both read the database options as the server does, and
an export that wrote a realm file and no users file still exits 0: the files are checked, never the exit code
alone.
"""

from __future__ import annotations

import glob
import json
import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError

VERSION = re.compile(r"^Keycloak (\d+\.\d+\S*)", re.MULTILINE)
USERS_FILE = re.compile(r"^(?P<realm>.+)-users-(?P<n>\d+)\.json$")
REALM_FILE = "-realm.json"


class KeycloakError(DrkitError):
    """kc.sh failed, or did not do what it said."""


class KcSh:
    """Runs ``<home>/bin/kc.sh`` with the service's environment and the database password, never on argv."""

    def __init__(self, home, environment=None, password=None, optimized=True):
        self.path = os.path.join(home, "bin", "kc.sh")
        self.environment = dict(environment or {})
        if password:
            self.environment["KC_DB_PASSWORD"] = password
        self.password = password
        self.optimized = optimized

    def _run(self, args, what, timeout=3600, check=True):
        if not os.path.isfile(self.path):
            raise KeycloakError("%s is not there: is Keycloak installed under this home (provider_options.home)?"
                                % self.path)
        return process.run([self.path] + args, what=what, env=self.environment, secrets=[self.password],
                           error=KeycloakError, timeout=timeout, check=check)

    def version(self) -> str:
        result = self._run(["--version"], "kc.sh --version", timeout=120)
        match = VERSION.search(result.output)
        if not match:
            raise KeycloakError("kc.sh --version did not print Keycloak's release: %s" % result.tail())
        return match.group(1)

    def _flags(self):
        return ["--optimized"] if self.optimized else []

    def export(self, directory, realm=None, users="different_files", users_per_file=50):
        args = ["export", "--dir", directory, "--users", users]
        if users == "different_files":
            args += ["--users-per-file", str(users_per_file)]
        if realm:
            args += ["--realm", realm]
        self._run(args + self._flags(), "kc.sh export%s" % (" of realm %s" % realm if realm else ""))

    def import_dir(self, directory, override=True):
        self._run(["import", "--dir", directory, "--override", "true" if override else "false"] + self._flags(),
                  "kc.sh import")

    def build(self):
        self._run(["build"], "kc.sh build")


def read_export(directory, realms, users, expected_users=None) -> dict:
    """What an export directory holds, checked: per realm its files, users and clients.

    ``realms``: the realms it must hold; ``expected_users``: realm -> users the database has (None: not
    known). Raises :class:`KeycloakError` when a file is missing or unreadable, or a realm's users do not all
    appear (kc.sh exits 0 when it writes a realm file and no users file).
    """
    found = {}
    for path in sorted(glob.glob(os.path.join(directory, "*" + REALM_FILE))):
        data = _load(path)
        name = data.get("realm") if isinstance(data, dict) else None
        if not name or os.path.basename(path) != name + REALM_FILE:
            base = os.path.basename(path)
            raise KeycloakError("the export's %s does not hold realm %s" % (base, base[:-len(REALM_FILE)]))
        found[name] = {"files": [os.path.basename(path)], "users": len(data.get("users") or []),
                       "clients": len(data.get("clients") or [])}
    missing = sorted(set(realms) - set(found))
    if missing:
        raise KeycloakError("kc.sh export wrote no realm file for %s (it wrote: %s)"
                            % (", ".join(missing), ", ".join(sorted(found)) or "none"))
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        base = os.path.basename(path)
        if base.endswith(REALM_FILE):
            continue
        match = USERS_FILE.match(base)
        federated = base.startswith(tuple("%s-federated-users-" % name for name in found))
        owner = next((name for name in found if base.startswith(name + "-federated-users-")), None) \
            if federated else (match.group("realm") if match else None)
        if owner not in found:
            raise KeycloakError("the export holds %s, which belongs to no realm it exported" % base)
        data = _load(path)
        if not isinstance(data, dict) or data.get("realm") != owner:
            raise KeycloakError("the export's %s is not a users file of realm %s" % (base, owner))
        found[owner]["files"].append(base)
        if not federated:
            found[owner]["users"] += len(data.get("users") or [])
    if users != "skip":
        for name, held in sorted(found.items()):
            expected = (expected_users or {}).get(name)
            if expected is not None and held["users"] != expected:
                raise KeycloakError("kc.sh export reported success, and its files hold %d user(s) of realm %s, "
                                    "where the database has %d: the export is incomplete"
                                    % (held["users"], name, expected))
    return found


def _load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise KeycloakError("the export's %s cannot be read as JSON: %s" % (os.path.basename(path), exc))
