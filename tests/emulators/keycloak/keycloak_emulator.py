# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for a Keycloak server (Quarkus distribution) and its ``kc.sh``, over a real PostgreSQL or MariaDB
database.

Keycloak needs a JVM and its distribution, which this machine cannot download. This emulator gives the tests a
Keycloak home (``bin/kc.sh``, ``conf/keycloak.conf``, ``conf/quarkus.properties``, ``providers/``, ``themes/``,
``data/``, ``lib/quarkus/``) whose ``kc.sh`` runs the commands the ``keycloak`` provider drives, and a server
whose realms, clients, roles, groups, users and password credentials live in tables of a REAL PostgreSQL (or
MariaDB) database (store.py), so that a database dump and restore really carry them.

Documents followed (options, output, file names and formats, endpoints, JSON field names, exit codes):

- ``../shared/reference/004_a8037fe4e9e5a342.txt`` and keycloak.org/server/importExport (repo
  ``docs/guides/server/importExport.adoc``): ``kc.sh export --dir|--file [--realm R] --users skip|realm_file|
  same_file|different_files`` (default different_files) ``--users-per-file N`` (default 50), files
  ``<realm>-realm.json`` and ``<realm>-users-<n>.json`` ({"realm", "users"}), ``kc.sh import --dir|--file
  [--override true|false]`` (default true; false skips a realm that exists), both accepting ``--optimized``;
- keycloak.org/server/configuration and /server/all-config: ``conf/keycloak.conf`` (``key=value``, ``${VAR}`` and
  ``${VAR:default}``), overridden by ``KC_<KEY>`` environment variables, overridden by ``--key=value`` on the
  command line; build options (``db``, ``health-enabled``, ``metrics-enabled``, ``features``) persisted by
  ``kc.sh build`` and used as persisted by ``start --optimized``, which refuses a first start without a build;
- keycloak.org/server/db: ``db``, ``db-url``, ``db-url-host``, ``db-url-port`` (5432; 3306 for ``mariadb`` and
  ``mysql``), ``db-url-database``
  (``keycloak``), ``db-username``, ``db-password``, ``db-schema``; the schema is created by the first start,
  import or export, and a newer release migrates it (``migration_model``);
- keycloak.org/server/enabletls: production mode (``start``) serves HTTPS only unless ``http-enabled=true``, and
  refuses to start without key material ("Key material not provided to setup HTTPS ..."); the emulator serves
  plain HTTP only, so it starts with ``http-enabled=true`` alone;
- keycloak.org/server/management-interface and /observability/health: ``/health``, ``/health/ready``,
  ``/health/live`` on the management port ``http-management-port`` (9000) when ``health-enabled=true``, on the
  main port when ``http-management-health-enabled=false``; {"status": "UP", "checks": [...]};
- keycloak.org/server/bootstrap-admin-recovery: ``KC_BOOTSTRAP_ADMIN_USERNAME``/``_PASSWORD`` make a temporary
  admin of the master realm at a start that finds none;
- Keycloak's admin REST API reference (``/admin/realms``, ``/{realm}/users`` with ``username``, ``exact``,
  ``first``, ``max``, ``/users/count``, ``/clients?clientId=``, ``/clients/{id}/client-secret``, ``/roles``,
  ``/groups``, ``/partial-export`` with ``exportClients``/``exportGroupsAndRoles`` and secrets shown as
  ``**********``, ``/partialImport`` with ``ifResourceExists`` FAIL/SKIP/OVERWRITE and its ``results``) and the
  OpenID Connect endpoints (``/realms/{realm}/.well-known/openid-configuration``, the token endpoint with the
  ``password`` and ``client_credentials`` grants; ``invalid_grant``/"Invalid user credentials" and
  ``unauthorized_client``/"Invalid client or Invalid client credentials", status 401).
- Keycloak's ``DefaultMigrationManager``: "Incorrect state of migration. You are trying to run server version
  '%s' but the database is already migrated to a newer version '%s'." (wording UNCONFIRMED).

UNCONFIRMED, chosen by the emulator: the exact log lines; the default clients and roles of a new realm (those of
a 26.0 realm as its admin console lists them); whether a realm with no users gets an empty users file (none here).

Where the emulator differs on purpose: PostgreSQL, or MariaDB/MySQL through PyMySQL (store.py), no other
database; tokens are HS256 JWTs signed
with a per-realm secret (Keycloak signs RS256 with realm keys); pbkdf2-sha512 with 1000 iterations (store.py);
``kc-emulator service start|stop|status|restart keycloak`` stands in for systemd. One known lie is on demand:
``KC_EMULATOR_FAIL=export-users`` makes ``kc.sh export`` write the realm files, no users file, and exit 0.

Usage: ``kc-emulator create HOME --version V [--db postgres|mariadb --db-url-host H --db-url-port P --db-url-database D
--db-username U --db-schema S --http-host A --http-port N --management-port M --password-in ENVFILE]`` (the
database password from ``KC_DB_PASSWORD``, written to keycloak.conf or, with ``--password-in``, to that
environment file only); ``kc-emulator --home HOME service start|stop|status|restart keycloak``;
``kc-emulator --home HOME destroy``; ``HOME/bin/kc.sh ...``.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # supervisor.py


def _python_with_pg8000():
    """Re-run under the interpreter the home was created with when this one lacks pg8000 (bin/kc.sh names it)."""
    try:
        import pg8000  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        if sys.argv[1:2] == ["--home"] and len(sys.argv) > 2:
            try:
                with open(os.path.join(sys.argv[2], "bin", "kc.sh"), encoding="utf-8") as handle:
                    python = re.search(r'^exec "([^"]+)"', handle.read(), re.MULTILINE).group(1)
            except (OSError, AttributeError):
                python = None
            if python and os.path.realpath(python) != os.path.realpath(sys.executable):
                os.execv(python, [python] + sys.argv)
        sys.exit("kc-emulator needs pg8000 (requirements-test.txt): set KC_EMULATOR_PYTHON to a python that has it")


_python_with_pg8000()

from api import Api, serve  # noqa: E402  (beside this file)
from store import Store, StoreError  # noqa: E402
import supervisor  # noqa: E402

HERE = os.path.abspath(__file__)
BUILD_KEYS = ("db", "health-enabled", "metrics-enabled", "features")
EXPAND = re.compile(r"\$\{([A-Za-z0-9_.]+)(?::([^}]*))?\}")
FLAGS = ("optimized", "help", "version", "verbose")
# The server options kc.sh takes here (keycloak.org/server/all-config), by prefix; any other is refused as
# Keycloak refuses it ("Unknown option"), and the export and import options only with those commands.
SERVER_OPTIONS = ("db", "http-", "https-", "hostname", "health-enabled", "metrics-enabled", "features", "cache",
                  "log", "proxy-headers", "spi-", "transaction-", "bootstrap-admin-")
COMMAND_OPTIONS = {"export": {"dir", "file", "realm", "users", "users-per-file"},
                   "import": {"dir", "file", "override"}}


# --- configuration ------------------------------------------------------------------------------------------

class Settings:
    """Keycloak's options: command line > KC_* environment > conf/keycloak.conf."""

    def __init__(self, home, given=None, environ=None):
        self.home = home
        self.environ = dict(os.environ if environ is None else environ)
        self.given = dict(given or {})
        self.conf = {}
        path = os.path.join(home, "conf", "keycloak.conf")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip()
                    if line and not line.startswith("#") and "=" in line:
                        key, _sep, value = line.partition("=")
                        self.conf[key.strip()] = self._expand(value.strip())
        self.persisted = {}
        build = os.path.join(home, "lib", "quarkus", "build-options.json")
        if os.path.isfile(build):
            with open(build, encoding="utf-8") as handle:
                self.persisted = json.load(handle)

    def _expand(self, value):
        def one(match):
            if match.group(1) == "kc.home.dir":
                return self.home
            return self.environ.get(match.group(1), match.group(2) or "")
        return EXPAND.sub(one, value)

    def get(self, key, default=None, optimized=False):
        if optimized and key in BUILD_KEYS and self.persisted:
            return self.persisted.get(key, default)
        if key in self.given:
            return self.given[key]
        env = "KC_" + re.sub(r"[^A-Za-z0-9]", "_", key).upper()
        if env in self.environ:
            return self.environ[env]
        return self.conf.get(key, default)

    def build_options(self):
        return {key: self.get(key) for key in BUILD_KEYS if self.get(key) is not None}

    def jdbc(self):
        default_port = 5432 if self.get("db") == "postgres" else 3306
        url = self.get("db-url")
        if url:
            match = re.match(r"^jdbc:(?:postgresql|mariadb|mysql)://([^:/]+)(?::(\d+))?/([^?]+)", url)
            if not match:
                raise StoreError("Invalid JDBC URL %s" % url)
            return {"host": match.group(1), "port": int(match.group(2) or default_port), "database": match.group(3)}
        return {"host": self.get("db-url-host", "localhost"), "port": int(self.get("db-url-port", default_port)),
                "database": self.get("db-url-database", "keycloak")}


def version(home):
    with open(os.path.join(home, "version"), encoding="utf-8") as handle:
        return handle.read().strip()


def log(line):
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    print("%s,%03d INFO  [org.keycloak] %s" % (stamp, int(time.time() * 1000) % 1000, line), flush=True)


def fail(line, code=1):
    print("ERROR: %s" % line, file=sys.stderr, flush=True)
    return code


# --- kc.sh ------------------------------------------------------------------------------------------------

def parse(args):
    command, options = None, {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("--"):
            key, sep, value = arg[2:].partition("=")
            if not sep and key not in FLAGS:
                index += 1
                if index >= len(args):
                    raise ValueError("Missing value for option '--%s'" % key)
                value = args[index]
            options[key] = value if (sep or key not in FLAGS) else True
        elif arg in ("-h",):
            options["help"] = True
        elif command is None:
            command = arg
        else:
            raise ValueError("Unknown option: '%s'" % arg)
        index += 1
    return command, options


def kc(home, args):
    try:
        command, options = parse(args)
    except ValueError as exc:
        return fail(str(exc), 2)
    release = version(home)
    if options.get("version") and command is None:
        print("Keycloak %s\nJVM: 21.0.5 (Red Hat, Inc. OpenJDK 64-Bit Server VM 21.0.5+11-LTS)\n"
              "OS: Linux %s amd64" % (release, os.uname().release))
        return 0
    optimized = bool(options.pop("optimized", False))
    own = COMMAND_OPTIONS.get(command, set())
    unknown = sorted(key for key in options if key not in own and not key.startswith(SERVER_OPTIONS)
                     and key not in FLAGS)
    if unknown:
        return fail("Unknown option: '--%s'" % unknown[0], 2)
    settings = Settings(home, {key: value for key, value in options.items() if key not in own})
    if command == "build":
        return build(home, settings)
    if command not in ("start", "start-dev", "export", "import"):
        return fail("Unknown command: %s" % command, 2)
    if optimized and not settings.persisted:
        return fail("The '--optimized' flag was used for first ever server start. Please don't use this flag for "
                    "the first startup or use 'kc.sh build' to build the server first.")
    if optimized:
        changed = sorted(key for key in BUILD_KEYS if settings.get(key) is not None
                         and settings.get(key) != settings.persisted.get(key))
        if changed:
            print("WARN  The following build time options have values that differ from what is persisted - the new "
                  "values will NOT be used until another build is run: %s" % ", ".join("kc." + key for key in changed),
                  flush=True)
    elif settings.build_options() != settings.persisted:
        log("Updating the configuration and installing your custom providers, if any. Please wait.")
        build(home, settings)
        settings = Settings(home, settings.given)
    database = settings.get("db", optimized=optimized) or "dev-file"
    if database not in ("postgres", "mariadb", "mysql"):
        return fail("The emulated Keycloak runs on PostgreSQL, MariaDB or MySQL only; db is %s" % database)
    try:
        with Store(settings) as store:
            store.migrate(release, log)
            if command == "export":
                return export(store, options)
            if command == "import":
                return import_(store, options)
    except StoreError as exc:
        return fail("Failed to start server in (%s) mode\nERROR: %s" % (
            "import_export" if command in ("export", "import") else "production", exc))
    return start(home, settings, release, optimized)


def build(home, settings):
    os.makedirs(os.path.join(home, "lib", "quarkus"), exist_ok=True)
    with open(os.path.join(home, "lib", "quarkus", "build-options.json"), "w", encoding="utf-8") as handle:
        json.dump(settings.build_options(), handle, sort_keys=True)
    log("Server configuration updated and persisted. Run the following command to review the configuration:\n\n"
        "\tkc.sh show-config\n")
    return 0


def export(store, options):
    directory, single = options.get("dir"), options.get("file")
    if not directory and not single:
        return fail("Must specify either --dir or --file options.")
    users = options.get("users", "different_files")
    if users not in ("skip", "realm_file", "same_file", "different_files"):
        return fail("Invalid value for option '--users': %s" % users, 2)
    per_file = int(options.get("users-per-file", 50))
    realms = [options["realm"]] if options.get("realm") else store.realm_names()
    lie = os.environ.get("KC_EMULATOR_FAIL") == "export-users"
    written = []
    with store.transaction():
        for name in realms:
            if not store.realm(name):
                return fail("Realm '%s' not found" % name)
            log("Exporting realm '%s'." % name)
            inline = users == "realm_file" or bool(single)
            rep = store.represent(name, users=inline)
            written.append(rep)
            if directory:
                os.makedirs(directory, exist_ok=True)
                _write(os.path.join(directory, "%s-realm.json" % name), rep)
                if users in ("same_file", "different_files") and not lie:
                    found = store.users(rep["id"])
                    size = len(found) if users == "same_file" else per_file
                    for number, start in enumerate(range(0, len(found), max(size, 1))):
                        _write(os.path.join(directory, "%s-users-%d.json" % (name, number)),
                               {"realm": name, "users": found[start:start + size]})
            log("Realm '%s' - data exported" % name)
    if single:
        _write(single, written[0] if len(written) == 1 else written)
    log("Export finished successfully")
    return 0


def import_(store, options):
    directory, single = options.get("dir"), options.get("file")
    override = str(options.get("override", "true")).lower() != "false"
    if single:
        with open(single, encoding="utf-8") as handle:
            data = json.load(handle)
        reps = data if isinstance(data, list) else [data]
    elif directory:
        reps = []
        for path in sorted(glob.glob(os.path.join(directory, "*-realm.json"))):
            with open(path, encoding="utf-8") as handle:
                rep = json.load(handle)
            rep["users"] = list(rep.get("users") or [])
            for users in sorted(glob.glob(os.path.join(directory, "%s-users-*.json" % rep["realm"]))):
                with open(users, encoding="utf-8") as handle:
                    rep["users"] += json.load(handle).get("users") or []
            reps.append(rep)
    else:
        return fail("Must specify either --dir or --file options.")
    # The master realm first: every other realm's <realm>-realm client lives in it.
    reps.sort(key=lambda rep: rep["realm"] != "master")
    with store.transaction():
        for rep in reps:
            name = rep["realm"]
            if store.realm(name):
                if not override:
                    log("Realm '%s' already exists. Import skipped" % name)
                    continue
                store.delete_realm(name)
            store.create_realm(name, None, rep)
            log("Realm '%s' imported" % name)
    log("Import finished successfully")
    return 0


def _write(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def start(home, settings, release, optimized):
    with Store(settings) as store:
        master = store.realm("master")
        admins = store.one("SELECT count(*) FROM user_role_mapping m JOIN keycloak_role r ON r.id = m.role_id "
                           "WHERE r.realm_id = :r AND r.name = 'admin' AND r.client IS NULL", r=master["id"])[0]
        name, password = os.environ.get("KC_BOOTSTRAP_ADMIN_USERNAME"), os.environ.get("KC_BOOTSTRAP_ADMIN_PASSWORD")
        if not admins and name and password:
            with store.transaction():
                store.add_user(master["id"], {"username": name, "enabled": True, "realmRoles": ["admin"],
                                              "credentials": [{"type": "password", "value": password}]})
            log("Created temporary admin user with username %s" % name)
    if str(settings.get("http-enabled", "false")).lower() != "true":  # the emulator serves plain HTTP only
        return fail("Key material not provided to setup HTTPS. Please configure your keys/certificates or start the "
                    "server in development mode.")
    host, port = settings.get("http-host", "0.0.0.0"), int(settings.get("http-port", 8080))
    management = int(settings.get("http-management-port", 9000))
    health = str(settings.get("health-enabled", "false", optimized=optimized)).lower() == "true"
    on_management = str(settings.get("http-management-health-enabled", "true")).lower() != "false"
    api = Api(settings, log, "http://%s:%d" % (host, port))
    try:
        servers = serve(api, host, port, management, health, on_management)
    except OSError as exc:
        return fail("Failed to start server in (production) mode\nERROR: Port(s) already bound: %s" % exc)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    log("Keycloak %s on JVM (powered by Quarkus 3.15.1) started in 0.42s. Listening on: http://%s:%d%s"
        % (release, host, port, ". Management interface listening on http://%s:%d." % (host, management)
           if len(servers) > 1 else ""))
    done.wait()
    for server in servers:
        server.shutdown()
    log("Keycloak stopped in 0.01s")
    return 0


# --- the emulator's own commands ---------------------------------------------------------------------------

KC_SH = """#!/bin/sh
# The emulated Keycloak's kc.sh (tests/emulators/keycloak): the emulator does the work.
exec "%s" "%s" --home "$(cd "$(dirname "$0")/.." && pwd)" kc "$@"
"""


def create(args):
    home = os.path.abspath(args[0])
    options = dict(zip([arg[2:] for arg in args[1::2]], args[2::2]))
    password = os.environ.get("KC_DB_PASSWORD", "")
    for sub in ("bin", "conf", "providers", "themes", os.path.join("data", "log"), os.path.join("lib", "quarkus")):
        os.makedirs(os.path.join(home, sub), exist_ok=True)
    with open(os.path.join(home, "version"), "w", encoding="utf-8") as handle:
        handle.write(options.pop("version", "26.0.5") + "\n")
    script = os.path.join(home, "bin", "kc.sh")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(KC_SH % (sys.executable, HERE))
    os.chmod(script, 0o755)
    conf = ["# Keycloak's configuration (emulated)", "db=%s" % options.get("db", "postgres")]
    for key in ("db-url-host", "db-url-port", "db-url-database", "db-username", "db-schema", "http-host", "http-port"):
        if key in options:
            conf.append("%s=%s" % (key, options[key]))
    conf.append("http-management-port=%s" % options.get("management-port", "9000"))
    envfile = options.get("password-in")
    if envfile:
        with open(os.open(envfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write("KC_DB_PASSWORD=%s\n" % password)
    elif password:
        conf.append("db-password=%s" % password)
    conf += ["http-enabled=true", "health-enabled=true", "hostname-strict=false", ""]
    path = os.path.join(home, "conf", "keycloak.conf")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write("\n".join(conf))
    with open(os.path.join(home, "conf", "quarkus.properties"), "w", encoding="utf-8") as handle:
        handle.write("# Quarkus properties (emulated)\nquarkus.log.console.format=%d %-5p [%c] %s%e%n\n")
    with open(os.path.join(home, "themes", "README.md"), "w", encoding="utf-8") as handle:
        handle.write("Custom themes go here.\n")
    return build(home, Settings(home))


def _pid_file(home):
    return os.path.join(home, "data", "keycloak.pid")


def _answers(settings):
    host, port = settings.get("http-host", "127.0.0.1"), int(settings.get("http-port", 8080))
    try:
        with urllib.request.urlopen("http://%s:%d/realms/master/.well-known/openid-configuration" % (host, port),
                                    timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def service(home, action):
    unit = supervisor.Unit("keycloak", _pid_file(home), os.path.join(home, "data", "log", "keycloak.log"),
                           [os.path.join(home, "bin", "kc.sh"), "start", "--optimized"],
                           lambda: _answers(Settings(home)), start_timeout=60)
    return unit.act(action)


def main(argv):
    home = None
    if argv[:1] == ["--home"]:
        home, argv = os.path.abspath(argv[1]), argv[2:]
    if not argv:
        return fail("usage: kc-emulator create HOME ... | --home HOME service ACTION keycloak | --home HOME destroy",
                    2)
    command, rest = argv[0], argv[1:]
    if command == "create":
        return create(rest)
    if home is None:
        return fail("--home HOME is needed", 2)
    if command == "kc":
        return kc(home, rest)
    if command == "service" and rest and rest[0] in ("start", "stop", "status", "restart"):
        return service(home, rest[0])
    if command == "destroy":
        service(home, "stop")
        shutil.rmtree(home, ignore_errors=True)
        return 0
    return fail("unknown command %s" % command, 2)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
