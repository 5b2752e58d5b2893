# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keycloak's configuration as the server reads it, and the database it names.

Keycloak's server guide (configuration): options come from ``conf/keycloak.conf`` (``key=value``, ``#``
comments, ``${VAR}`` and ``${VAR:default}`` expanded from the environment), overridden by the environment
(``KC_`` + the key upper-cased, ``-`` as ``_``), overridden by the command line; here the provider's options take
the command line's place. The database guide: ``db`` (postgres, mariadb, mysql, mssql, oracle, tidb, dev-file,
dev-mem), ``db-url`` (a JDBC URL) or ``db-url-host``/``db-url-port``/``db-url-database`` (default database
``keycloak``), ``db-username``, ``db-password``, ``db-schema``.
"""

from __future__ import annotations

import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput

CONF = os.path.join("conf", "keycloak.conf")
# The keycloak.conf keys that belong to a host rather than to its Keycloak: every database key (named datasources
# too) and the listen address. A replacement host keeps its own; a drill writes the drill's (lines_of's format).
HOST_KEYS = ("db", "db-*", "http-host")
DB_KEYS = ("db", "db-url", "db-url-host", "db-url-port", "db-url-database", "db-username", "db-password",
           "db-schema")
# What each db value becomes: the drkit provider that dumps it, or why a backup is refused.
DUMPED_BY = {"postgres": "postgresql", "mariadb": "mysql", "mysql": "mysql"}
REFUSED = {
    "mssql": "drkit.backup has no Microsoft SQL Server dumper: back the database up with SQL Server's own tools",
    "oracle": "drkit.backup has no Oracle dumper: back the database up with RMAN or Data Pump",
    "tidb": "drkit.backup has no TiDB dumper: back the database up with TiDB's BR or Dumpling",
    "dev-mem": "dev-mem keeps everything in memory: there is nothing on disk to back up",
}
DEFAULT_PORTS = {"postgres": 5432, "mariadb": 3306, "mysql": 3306}
JDBC = re.compile(r"^jdbc:(?P<vendor>postgresql|mariadb|mysql)://(?P<host>\[[^\]]+\]|[^:/?,]+)(?::(?P<port>\d+))?"
                  r"(?:/(?P<database>[^?;]*))?")
EXPAND = re.compile(r"\$\{([A-Za-z0-9_.]+)(?::([^}]*))?\}")
# Environment variables whose values are never shown: they hold passwords, keys or tokens.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)


def read_properties(path: str) -> dict:
    """``key=value`` lines of ``path`` ({} when it is not there)."""
    values = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return values
    except OSError as exc:
        raise InvalidInput("cannot read %s: %s" % (path, exc.strerror))
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def read_environment(paths) -> dict:
    """The variables of environment files (``KEY=value``, optional ``export`` and quotes)."""
    env = {}
    for path in paths:
        if not os.path.isfile(path):
            raise InvalidInput("environment file %s does not exist" % path)
        for key, value in read_properties(path).items():
            key = key[len("export "):].strip() if key.startswith("export ") else key
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key] = value
    return env


def lines_of(path: str, keys) -> list:
    """The ``key=value`` lines of ``path`` whose key is one of ``keys`` (``db-*``: every key that starts with
    ``db-``); [] when it is not there."""
    return [line for line in _lines(path) if _matches(_key(line), keys)]


def rewrite(path: str, keys, lines, comment: str):
    """Rewrites the properties file ``path``: every setting whose key is one of ``keys`` (as :func:`lines_of`)
    replaced by ``lines`` (after ``comment``); the rest, comments included, kept as it is, and the file's mode."""
    kept = [line for line in _lines(path) if not _matches(_key(line), keys)]
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept + ["# " + comment] + list(lines)) + "\n")


def _lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        return []


def keys_of(lines) -> list:
    return [_key(line) for line in lines if _key(line)]


def _matches(key, keys) -> bool:
    return bool(key) and any(key == wanted or wanted.endswith("*") and key.startswith(wanted[:-1])
                             for wanted in keys)


def _key(line) -> str:
    """The key of a setting line ('' for a comment or a blank line)."""
    if "=" not in line or line.lstrip().startswith(("#", "!")):
        return ""
    return line.split("=", 1)[0].strip()


def env_name(key: str) -> str:
    """Keycloak's environment variable for option ``key``: db-url-host -> KC_DB_URL_HOST."""
    return "KC_" + re.sub(r"[^A-Za-z0-9]", "_", key).upper()


class Settings:
    """Keycloak's options as the server on this host reads them: ``get(key)``."""

    def __init__(self, home: str, environment_files=(), given=None):
        self.home = home
        self.environment = read_environment(environment_files)
        self.conf = read_properties(os.path.join(home, CONF))
        self.given = dict(given or {})

    def get(self, key: str, default=None):
        if key in self.given:
            return self.given[key]
        if env_name(key) in self.environment:
            return self.environment[env_name(key)]
        if key in self.conf:
            return EXPAND.sub(self._expand, self.conf[key])
        return default

    def _expand(self, match):
        name = match.group(1)
        if name == "kc.home.dir":  # the system property Keycloak's launcher sets to its home
            return self.home
        return self.environment.get(name, match.group(2) or "")

    def named_datasources(self) -> list:
        """The names of the extra datasources the configuration declares: db-kind-<name> in keycloak.conf or the
        options, KC_DB_KIND_<NAME> in the environment (its ``_`` read as ``-``, Keycloak's usual datasource
        spelling)."""
        names = {key[len("db-kind-"):] for key in list(self.conf) + list(self.given) if key.startswith("db-kind-")}
        names.update(key[len("KC_DB_KIND_"):].lower().replace("_", "-") for key in self.environment
                     if key.startswith("KC_DB_KIND_"))
        return sorted(name for name in names if name)


class Database:
    """Where the Keycloak database is: vendor, host, port, name, account, password, schema."""

    def __init__(self, vendor, host=None, port=None, name=None, user=None, password=None, schema=None):
        self.vendor = vendor
        self.host = host
        self.port = port
        self.name = name
        self.user = user
        self.password = password
        self.schema = schema

    @property
    def provider(self) -> str:
        """The drkit provider that dumps it (postgresql, mysql), or '' for files (dev-file)."""
        return DUMPED_BY.get(self.vendor, "")

    def describe(self) -> str:
        if not self.provider:
            return "the %s database under data/" % self.vendor
        return "%s database %s at %s:%s" % (self.vendor, self.name, self.host, self.port)

    def facts(self) -> dict:
        """What the header records (no account, no password)."""
        return {"vendor": self.vendor, "host": self.host, "port": self.port, "database": self.name,
                "schema": self.schema}


def datasource_key(key: str, datasource=None) -> str:
    """The key of option ``key`` for a named datasource (Keycloak's DatasourcesOptions: db-kind-<name> for db,
    db-url-full-<name> for db-url, <key>-<name> for the others); ``key`` itself for Keycloak's own database."""
    if not datasource:
        return key
    return "%s-%s" % ({"db": "db-kind", "db-url": "db-url-full"}.get(key, key), datasource)


def database(settings: Settings, datasource=None) -> Database:
    """The database the settings name (Keycloak's own, or the named ``datasource``'s); refuses a vendor drkit
    cannot back up, before anything is touched."""
    def get(key, default=None):
        return settings.get(datasource_key(key, datasource), default)

    what = "Keycloak's datasource %s" % datasource if datasource else "Keycloak's database"
    vendor = get("db", None if datasource else "dev-file")
    if vendor in REFUSED or datasource and vendor == "dev-file":
        why = REFUSED.get(vendor) or "back it up with the files provider, Keycloak stopped"
        raise InvalidInput("%s is %s (%s=%s): %s" % (what, vendor, datasource_key("db", datasource), vendor, why))
    if vendor not in DUMPED_BY and vendor != "dev-file":
        raise InvalidInput("%s: %s is %r, which Keycloak does not know (postgres, mariadb, mysql, mssql, oracle, "
                           "tidb, dev-file, dev-mem)" % (what, datasource_key("db", datasource), vendor))
    if vendor == "dev-file":
        return Database(vendor)
    host, port, name = get("db-url-host"), get("db-url-port"), get("db-url-database")
    url = get("db-url")
    if url:
        match = JDBC.match(url)
        if not match or _vendor_of(match.group("vendor")) != _vendor_of(vendor):
            raise InvalidInput("%s: %s %r is not a JDBC URL of a %s database (jdbc:%s://host:port/name)"
                               % (what, datasource_key("db-url", datasource), _without_secrets(url), vendor,
                                  "postgresql" if vendor == "postgres" else vendor))
        host, port, name = match.group("host").strip("[]"), match.group("port"), match.group("database")
    try:
        port = int(port) if port not in (None, "") else DEFAULT_PORTS[vendor]
    except ValueError:
        raise InvalidInput("%s: %s %r is not a port number" % (what, datasource_key("db-url-port", datasource), port))
    return Database(vendor, host=host or "localhost", port=port, name=name or "keycloak",
                    user=get("db-username"), password=get("db-password"), schema=get("db-schema"))


def _vendor_of(name: str) -> str:
    return {"postgresql": "postgres"}.get(name, name).replace("mysql", "mariadb")


def _without_secrets(url: str) -> str:
    return re.sub(r"(password=)[^&;]*", r"\1***", url, flags=re.IGNORECASE)


def files(settings: Settings, environment_files=()) -> list:
    """The configuration paths a backup keeps, relative to home where they are under it (else absolute): the
    configuration files, the key and trust stores and certificates it names, providers/, themes/ and data/ (the
    transaction logs, an H2 database), and the environment files."""
    home = settings.home
    found = []
    for relative in (CONF, os.path.join("conf", "quarkus.properties"), "providers", "themes", "data"):
        if os.path.lexists(os.path.join(home, relative)):
            found.append(relative)
    for key in ("https-certificate-file", "https-certificate-key-file", "https-key-store-file",
                "https-trust-store-file", "config-keystore", "truststore-paths", "spi-truststore-file-file"):
        for value in filter(None, (settings.get(key) or "").split(",")):
            path = value.strip()
            full = path if os.path.isabs(path) else os.path.join(home, path)
            if os.path.lexists(full):
                found.append(_relative(full, home))
    found += [_relative(os.path.abspath(path), home) for path in environment_files]
    unique = []
    for path in found:
        if path not in unique and not any(_inside(path, kept) for kept in unique):
            unique.append(path)
    return unique


def _relative(path: str, home: str) -> str:
    relative = os.path.relpath(path, home)
    return path if relative.startswith("..") else relative


def _inside(path: str, top: str) -> bool:
    return path.startswith(top.rstrip("/") + "/")


def environment_names(settings: Settings) -> list:
    """The names of the service's KC_* and KEYCLOAK_* variables (their values stay in the encrypted part)."""
    return sorted(name for name in settings.environment if name.startswith(("KC_", "KEYCLOAK_")))
