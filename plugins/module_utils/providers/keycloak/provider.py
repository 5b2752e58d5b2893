# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``keycloak`` provider: a Keycloak server's database, realm export and configuration.

Keycloak keeps everything (realms, clients with their secrets, users with their credentials) in its database,
which config.py finds as the server does. Parts:

- ``db-<name>.dump`` (or ``.sql``): the database through the ``postgresql`` or ``mysql`` provider, with the
  users and clients of each realm counted in the dump's own snapshot (the content summary);
- ``ds-<datasource>-db-<name>.dump``: each named datasource's database, the same way (datasources.py);
- ``realms.tar`` (offline, ``export_realms``): ``kc.sh export`` of the realms, Keycloak stopped as its guide
  recommends, every realm and users file checked against the database's counts (cli.py);
- ``config.tar``: keycloak.conf, quarkus.properties, the stores and certificates they name, providers/, themes/,
  data/, and the service's environment files (tree.py).

A restore, all checked before anything stops (the release, the vendor, the database reachable): Keycloak stopped,
the database replaced (under a temporary name first), the configuration files that differ put back, ``kc.sh
build`` when build-time options may have changed, Keycloak started and awaited on its readiness endpoint; then,
for the realms asked, Keycloak stopped again for ``kc.sh import`` (the guide requires it for ``--override``), each
realm from a directory of its own files, started and awaited again.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
import urllib.error

from ansible.module_utils.urls import open_url

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import private_temp_dir
from ansible_collections.drkit.backup.plugins.module_utils.host import services
from ansible_collections.drkit.backup.plugins.module_utils.providers import config_tree as tree, release
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import DumpProvider, PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak import cli, config
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.datasources import DATASOURCE_KIND, \
    KeycloakDatasources
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.drill import KeycloakDrill
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.partial import PARTIAL_PART, \
    KeycloakPartial
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak.options import DATABASE_KEYS, OPTIONS
from ansible_collections.drkit.backup.plugins.module_utils.providers.mysql.provider import MySQLProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.postgresql.provider import PostgreSQLProvider

REALMS_PART = "realms.tar"
CONFIG_PART = "config.tar"
# Per realm, counted in the dump's snapshot: users (service accounts are users of their own too, and exported
# with them) and clients.
REALM_COUNTS = ("SELECT r.name, (SELECT count(*) FROM {s}user_entity u WHERE u.realm_id = r.id), "
                "(SELECT count(*) FROM {s}client c WHERE c.realm_id = r.id) FROM {s}realm r ORDER BY r.name;")
# A change to these files may change build-time options: kc.sh build before the start (build auto).
BUILD_FILES = (os.path.join("conf", "keycloak.conf"), os.path.join("conf", "quarkus.properties"))


class KeycloakProvider(KeycloakDrill, KeycloakPartial, KeycloakDatasources, DumpProvider):
    """A Keycloak server: its database through a database provider, its realm export and its configuration."""

    name = "keycloak"
    OPTIONS = OPTIONS
    supports = (("full", True), ("full", False))
    # A newer Keycloak migrates the schema when it starts; an older one cannot read it.
    release_rule = "same_or_newer"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        # The installed Keycloak; a drill's own home is under its scratch directory (drill.py).
        self.distribution = self.option("home")
        self.home = os.path.join(self.option("scratch_dir"), "keycloak") if self.option("scratch_dir") \
            else self.distribution
        self._online = True
        self._version = None
        self._settings = None
        self._database = None
        self._inner = None
        self._datasources = None  # named datasource -> its database provider (datasources.py)
        self._realms = {}      # realm -> {users, clients}, counted in the dump's snapshot
        self._export = None    # what the realm export held (cli.read_export)
        self._config = None    # {paths, files, bytes}
        self._partial = None   # realm -> what its partial export held (partial.py)
        self._admin = None     # the admin REST API's client (partial.py)

    # --- what the host's configuration says ----------------------------------------------------------------

    def settings(self) -> config.Settings:
        if self._settings is None:
            given = {name.replace("_", "-"): self.options[name] for name in DATABASE_KEYS if name in self.options}
            if self.secrets.get("db_password"):
                given["db-password"] = self.secrets["db_password"]
            for name, password in (self.secrets.get("datasource_passwords") or {}).items():
                given[config.datasource_key("db-password", name)] = str(password)
            self._settings = config.Settings(self.home, self.option("environment_files"), given)
        return self._settings

    def database(self) -> config.Database:
        if self._database is None:
            self._database = config.database(self.settings())
        return self._database

    def inner(self):
        """The database provider that dumps and restores Keycloak's database (None: dev-file, kept as files)."""
        if self._inner is None and self.database().provider:
            self._inner = self.database_provider(
                self.database(), "Keycloak's database password (provider_secrets.db_password, db-password in "
                                 "keycloak.conf or KC_DB_PASSWORD)", scratch=bool(self.option("scratch_dir")))
            self._inner.count_also = self._count_realms
        return self._inner

    def database_provider(self, db: config.Database, password_source: str, scratch=False):
        """The postgresql or mysql provider of database ``db`` (with ``scratch``: on the drill's own server)."""
        options = {"host": db.host, "port": db.port, "databases": [db.name], "globals": False, "replace": True}
        if db.provider == "mysql" and db.host == "localhost":
            options["host"] = "127.0.0.1"  # JDBC's localhost is TCP; the mysql client's is the socket
        for key, value in (("user", db.user), ("bin_dir", self.option("db_bin_dir")),
                           ("staging_dir", self.option("staging_dir"))):
            if value:
                options[key] = value
        if scratch:  # a drill: its own server, on its socket (drill.py)
            options.update(self.scratch_database().options())
        cls = PostgreSQLProvider if db.provider == "postgresql" else MySQLProvider
        provider = cls(options, {"password": db.password} if db.password else {})
        provider.connection.password_source = password_source
        return provider

    def kc(self) -> cli.KcSh:
        """kc.sh with the service's environment and the options given, as Keycloak's own KC_* variables."""
        environment = dict(self.settings().environment)
        environment.update({config.env_name(key): str(value) for key, value in self.settings().given.items()
                            if not key.startswith("db-password")})
        return cli.KcSh(self.home, environment, password=self.database().password, optimized=self.option("optimized"))

    def _count_realms(self, session):
        schema = self.database().schema
        prefix = "%s." % _ident(schema, self.database().provider) if schema else ""
        rows = session.query(REALM_COUNTS.replace("{s}", prefix))
        self._realms = {name: {"users": int(users), "clients": int(clients)} for name, users, clients in rows}
        return self._realms

    # --- backup ----------------------------------------------------------------------------------------

    def nothing_to_save(self):
        if not os.path.isfile(os.path.join(self.home, "bin", "kc.sh")):
            return "Keycloak is not installed under %s (no bin/kc.sh)" % self.home
        return ""

    def product_version(self):
        if self._version is None:
            self._version = self.kc().version()
        return self._version

    def check_backup(self, backup_type, online):
        super().check_backup(backup_type, online)
        self._online = online
        problem = self.nothing_to_save()
        if problem:
            raise InvalidInput("%s: nothing was backed up" % problem)
        if not self.database().provider and online:
            raise InvalidInput("Keycloak's database is dev-file (H2 under data/), which is copied as files only with "
                               "Keycloak stopped: take an offline backup (online false)")
        if self.inner() is not None:
            self.inner().check_backup(backup_type, True)  # reachable with these credentials, the database there
        self.product_version()
        self.check_partial_backup(online)
        self.check_datasources_backup(backup_type)

    def services(self):
        return [self.option("service")] if self.option("service") else []

    def describe(self):
        described = {name: self.options[name] for name in ("home", "service", "environment_files", "export_realms",
                                                           "realms", "users") if name in self.options}
        described["database"] = self.database().facts()
        return described

    def _exports(self) -> bool:
        return not self._online and self.option("export_realms")

    def parts(self, backup_type):
        parts = self.inner().parts(backup_type) if self.inner() is not None else []
        parts += self.datasource_parts(backup_type)
        if self._exports():
            parts.append(PartSpec(REALMS_PART, "kc-export", users=self.option("users")))
        if self._online and self.option("partial_export"):
            parts.append(PartSpec(PARTIAL_PART, "kc-partial-export"))
        paths = config.files(self.settings(), self.option("environment_files"))
        parts.append(PartSpec(CONFIG_PART, "keycloak-config", paths=paths))
        return parts

    def estimate_size(self, backup_type):
        if self.inner() is None:
            return None
        return sum(provider.estimate_size(backup_type)
                   for provider in [self.inner()] + list(self.datasources().values()))

    def capture(self, part, out):
        if part.kind == "kc-export":
            self._capture_export(out)
        elif part.kind == "kc-partial-export":
            self.capture_partial(out)
        elif part.kind == DATASOURCE_KIND:
            self.capture_datasource(part, out)
        elif part.kind == "keycloak-config":
            self._config = dict(tree.write(out, self.home, part.extra["paths"]), paths=part.extra["paths"])
        else:
            self.inner().capture(part, out)

    def _capture_export(self, out):
        """kc.sh export into a private directory, checked file by file, then a tar of it."""
        wanted = list(self.option("realms") or [])
        counted = self._realms or None  # None: dev-file, nothing counted
        unknown = sorted(set(wanted) - set(counted)) if counted is not None else []
        if unknown:
            raise InvalidInput("Keycloak has no realm %s (it has: %s): nothing was backed up"
                               % (", ".join(unknown), ", ".join(sorted(counted))))
        with self._private_dir("export") as directory:
            users, per_file = self.option("users"), self.option("users_per_file")
            if len(wanted) == 1:
                self.kc().export(directory, wanted[0], users, per_file)
            else:  # every realm (kc.sh export takes one --realm), then the others' files left out
                self.kc().export(directory, None, users, per_file)
            expected = sorted(wanted or (counted or {}))
            held = cli.read_export(directory, expected, users,
                                   {name: counts["users"] for name, counts in (counted or {}).items()})
            self._export = {name: held[name] for name in (wanted or sorted(held))}
            names = [name for realm in self._export.values() for name in realm["files"]]
            with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name in sorted(names):
                    tar.add(os.path.join(directory, name), arcname=name)

    def _private_dir(self, what):
        return private_temp_dir(".drkit-keycloak-%s-" % what, self.option("staging_dir"))

    def content_summary(self):
        summary = self.inner().content_summary() if self.inner() is not None else {}
        if self._realms:
            summary["realms"] = dict(sorted(self._realms.items()))
        elif self._export:
            summary["realms"] = {name: {"users": held["users"], "clients": held["clients"]}
                                 for name, held in sorted(self._export.items())}
        return summary

    def captured(self):
        fields = self.inner().captured() if self.inner() is not None else {}
        summary = self.content_summary()
        if summary:
            fields["contentSummary"] = summary
        export = None
        if self._export is not None:
            export = {"users": self.option("users"),
                      "realms": {name: {"files": held["files"], "users": held["users"], "clients": held["clients"]}
                                 for name, held in sorted(self._export.items())}}
        fields["keycloak"] = {
            "version": self.product_version(), "home": self.home, "database": self.database().facts(),
            "realmExport": export, "partialExport": self.partial_fields() or None,
            "config": (self._config or {}).get("paths", []),
            "environment": config.environment_names(self.settings()),
            "datasources": self.datasource_fields(),
        }
        self.report["realm_export"] = sorted(export["realms"]) if export else []
        if export is None:
            self.warnings.append("this backup holds Keycloak's database%s and configuration, and no separate realm "
                                 "export (%s)" % (
                                     "" if self.inner() is not None else " files",
                                     "online: kc.sh export needs Keycloak stopped" if self._online
                                     else "export_realms is false"))
        return fields

    # --- restore ---------------------------------------------------------------------------------------

    def _made(self, header) -> dict:
        return header.manifest.get("keycloak") or {}

    def _exported(self, header) -> dict:
        return (self._made(header).get("realmExport") or {}).get("realms") or {}

    def _database_part(self, header):
        kinds = ("kc-export", "kc-partial-export", "keycloak-config", DATASOURCE_KIND)
        return next((part for part in header.parts if part.get("kind") not in kinds), None)

    def check_restore(self, header):
        if self.option("partial_import_realms"):  # the running Keycloak, through its admin API alone
            return self.check_partial_restore(header)
        problems = []
        made = self._made(header).get("database") or {}
        db = self.database()
        if made.get("vendor") and made["vendor"] != db.vendor:
            problems.append("backup %s holds a %s database and Keycloak here uses %s (db): restore it into a Keycloak "
                            "configured for %s" % (header.name, made["vendor"], db.vendor, made["vendor"]))
            return problems
        missing = sorted(set(self.option("import_realms")) - set(self._exported(header)))
        if missing:
            problems.append("import_realms names %s, which backup %s's realm export does not hold (it holds: %s)"
                            % (", ".join(missing), header.name, ", ".join(sorted(self._exported(header))) or "none"))
        if not (self.option("restore_database") or self.option("restore_config") or self.option("import_realms")):
            problems.append("restore_database and restore_config are false and import_realms is empty: there is "
                            "nothing to restore")
        if not os.path.isfile(os.path.join(self.home, "bin", "kc.sh")):
            problems.append("Keycloak is not installed under %s (no bin/kc.sh): install the same release or a newer "
                            "one first" % self.home)
            return problems
        if self.option("restore_database") and self.inner() is not None and self._database_part(header):
            inner = self.inner()
            inner.options["target_databases"] = {self._database_part(header)["database"]: db.name}
            try:
                problems += inner.check_restore(header)
            except inner.connection.error as exc:
                problems.append("Keycloak's database cannot be reached to restore it: %s" % exc)
                return problems
            made_db = header.manifest.get("database") or {}
            if made_db.get("versionNum"):
                found = release.problem({"rule": inner.release_rule, "version": inner.series(made_db["versionNum"])},
                                        inner.target_release(), inner.product)
                if found:
                    problems.append("its database: %s" % found)
        return problems + self.check_datasources_restore(header)

    def restore_plan(self, header):
        if self.option("partial_import_realms"):
            return self.partial_plan()
        plan = ["stop service %s" % self.option("service")] if self.option("service") else []
        if self.option("restore_database") and self._database_part(header):
            plan += self.inner().restore_plan(header) if self.inner() is not None else []
        plan += self.datasources_plan(header)
        if self.option("restore_config") or (self.inner() is None and self.option("restore_database")):
            plan.append("put back the configuration files that differ under %s (%s)"
                        % (self.home, ", ".join(self._made(header).get("config") or [])))
            if self.option("replacement"):
                plan.append("keep this host's own database and listen settings in keycloak.conf")
            if self.option("hostname"):
                plan.append("set hostname=%s in keycloak.conf" % self.option("hostname"))
        if self.option("service"):
            plan.append("start service %s and wait until Keycloak is ready" % self.option("service"))
        for realm in self.option("import_realms"):
            plan.append("import realm %s with kc.sh import --override %s, Keycloak stopped"
                        % (realm, str(self.option("override")).lower()))
        return plan

    def restore_whole(self, header, stage_dir):
        if self.option("partial_import_realms"):
            return self.restore_partial(stage_dir)
        done = []
        drill = bool(self.option("scratch_dir"))  # the drill starts its own Keycloak afterwards (drill.py)
        service = [self.option("service")] if self.option("service") else []
        with services.stopped(service, self.service_control, self.journal):
            if self.option("restore_database") and self._database_part(header) and self.inner() is not None:
                done += self.inner().restore_whole(header, stage_dir)
            done += self.restore_datasources(header, stage_dir)
            changed = []
            # dev-file: the database is data/ (the config part), restored with it.
            if self.option("restore_config") or (self.inner() is None and self.option("restore_database")):
                conf = os.path.join(self.home, config.CONF)
                own = config.lines_of(conf, config.HOST_KEYS)  # before the backup's file takes its place
                # A drill takes nothing outside its home: the environment files are the live service's.
                changed = tree.restore(os.path.join(stage_dir, CONFIG_PART), self.home, absolute=not drill)
                done.append("put back %d configuration file(s) under %s" % (len(changed), self.home))
                done += self._host_settings(conf, own, changed)
            if drill:
                self.point_at_scratch()
                done.append("pointed the drill's keycloak.conf at the drill's database and 127.0.0.1")
            build = self.option("build")
            if build == "always" or build == "auto" and any(
                    os.path.join(self.home, name) in changed for name in BUILD_FILES):
                self.kc().build()
                done.append("ran kc.sh build")
        if drill:
            return done + self._check_counts(header, [])
        done.append(self._wait_ready())
        realms = self.option("import_realms")
        if realms:
            with services.stopped(service, self.service_control, self.journal):
                done += self._import(stage_dir, realms)
            done.append(self._wait_ready())
        done += self._check_counts(header, realms)
        return done

    def _host_settings(self, conf, own, changed) -> list:
        """A replacement host keeps its own database and listen settings; ``hostname`` replaces the backup's."""
        done = []
        if self.option("replacement"):
            config.rewrite(conf, config.HOST_KEYS, own, "drkit.backup restore onto a replacement: this host's own")
            done.append("kept this host's %s in keycloak.conf" % (", ".join(config.keys_of(own)) or "defaults"))
        if self.option("hostname"):
            config.rewrite(conf, ("hostname",), ["hostname=%s" % self.option("hostname")],
                           "drkit.backup restore: the hostname asked")
            done.append("set hostname=%s in keycloak.conf" % self.option("hostname"))
        if done and conf not in changed:
            changed.append(conf)  # kc.sh build follows
        return done

    def _import(self, stage_dir, realms) -> list:
        done = []
        with tarfile.open(os.path.join(stage_dir, REALMS_PART)) as tar:
            for realm in realms:
                directory = os.path.join(stage_dir, "import-%s" % realm)
                os.mkdir(directory, 0o700)
                for name in self._files_of(tar, realm):
                    with tar.extractfile(name) as source, open(os.path.join(directory, name), "wb") as target:
                        shutil.copyfileobj(source, target)
                self.kc().import_dir(directory, override=self.option("override"))
                done.append("imported realm %s (kc.sh import --override %s)"
                            % (realm, str(self.option("override")).lower()))
        return done

    def _files_of(self, tar, realm) -> list:
        """The export's files of ``realm`` alone: its realm file and its users files."""
        return [name for name in tar.getnames() if name == realm + cli.REALM_FILE or
                name.startswith((realm + "-users-", realm + "-federated-users-"))]

    def _check_counts(self, header, realms) -> list:
        """Keycloak said ready: its database has the realms and users the backup counted (tools lie)."""
        held = (header.manifest.get("contentSummary") or {}).get("realms") or {}
        if self.inner() is None or not held:
            return []
        counted = self._count_now()
        wanted = realms if not self.option("restore_database") else sorted(held)
        wrong = ["%s (%s, the backup %s)" % (name, _counts(counted.get(name)), _counts(held[name]))
                 for name in wanted if name in held and (counted.get(name) or {}).get("users") != held[name]["users"]]
        if wrong:
            raise cli.KeycloakError("the restore finished and Keycloak's database does not hold what the backup "
                                    "counted: realm %s" % "; ".join(wrong))
        return ["checked the users of %d realm(s) against the backup's counts" % len(wanted)]

    def _count_now(self) -> dict:
        inner, schema = self.inner(), self.database().schema
        prefix = "%s." % _ident(schema, self.database().provider) if schema else ""
        with inner.connection.environment() as env:
            rows = inner.connection.query(env, REALM_COUNTS.replace("{s}", prefix), self.database().name)
        return {row[0]: {"users": int(row[1]), "clients": int(row[2])} for row in rows}

    def count(self, summary=None):
        """The databases' counts (the database provider's) and each realm's users and clients, on the database the
        options name."""
        counted = self.inner().count(summary) if self.inner() is not None else {}
        if self.inner() is not None and (summary is None or "realms" in summary):
            counted["realms"] = self._count_now()
        return counted

    # --- readiness -------------------------------------------------------------------------------------

    def health_url(self) -> str:
        """Where Keycloak says it is ready (see the option's description)."""
        if self.option("health_url"):
            return self.option("health_url")
        get = self.settings().get
        host, main = self._host(), self.main_url()
        tls = bool(get("https-certificate-file") or get("https-key-store-file"))
        if get("health-enabled", "false") == "true":
            if get("http-management-health-enabled", "true") == "false":
                return main + "/health/ready"
            relative = "/" + (get("http-relative-path", "/") or "/").strip("/")
            management = "%s://%s:%s" % ("https" if tls else "http", host, get("http-management-port", "9000"))
            return _join(management, "/" + (get("http-management-relative-path", relative) or "/").strip("/"),
                         "health/ready")
        return main + "/realms/master/.well-known/openid-configuration"

    def _host(self) -> str:
        host = self.settings().get("http-host", "127.0.0.1")
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host

    def main_url(self) -> str:
        """Keycloak's own URL on this host, its relative path included (no trailing /)."""
        get = self.settings().get
        main = "https://%s:%s" % (self._host(), get("https-port", "8443")) if get("http-enabled", "false") != "true" \
            else "http://%s:%s" % (self._host(), get("http-port", "8080"))
        relative = "/" + (get("http-relative-path", "/") or "/").strip("/")
        return main + ("" if relative == "/" else relative)

    def _wait_ready(self) -> str:
        url = self.health_url()
        deadline = time.monotonic() + self.option("health_timeout")
        last = "no answer yet"
        while True:
            try:
                # The server's own certificate on a loopback name: readiness is all this asks of it.
                with open_url(url, timeout=10, validate_certs=False) as answer:
                    body = answer.read()
                if not url.endswith("health/ready") or json.loads(body or b"{}").get("status") == "UP":
                    return "Keycloak is ready (%s)" % url
                last = "it answered %s" % body[:200].decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                last = "HTTP %d" % exc.code
            except (OSError, ValueError) as exc:
                last = str(getattr(exc, "reason", exc))
            if time.monotonic() >= deadline:
                raise cli.KeycloakError("Keycloak was started and is not ready after %d s at %s (%s): see its log"
                                        % (self.option("health_timeout"), url, last))
            time.sleep(1)


def _ident(name, provider) -> str:
    return "`%s`" % name.replace("`", "``") if provider == "mysql" else '"%s"' % name.replace('"', '""')


def _join(base, relative, path) -> str:
    return "%s%s/%s" % (base, "" if relative == "/" else relative, path)


def _counts(held) -> str:
    return "%s user(s)" % (held or {}).get("users", 0)
