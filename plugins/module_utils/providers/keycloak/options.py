# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``keycloak`` provider (format: providers/options.py).

The database options are Keycloak's own configuration keys with ``_`` for ``-`` (``db_url_host`` is
``db-url-host``): each one given here wins over the service's environment (``KC_DB_URL_HOST``), which wins over
``conf/keycloak.conf``, as in Keycloak.
"""

from __future__ import annotations

BOTH = ["backup", "restore"]
# The options that are Keycloak's own database keys (db_url_host is db-url-host); db_password is a secret.
DATABASE_KEYS = ("db", "db_url", "db_url_host", "db_url_port", "db_url_database", "db_username", "db_schema")

OPTIONS = {
    "home": {
        "type": "path", "default": "/opt/keycloak", "verbs": BOTH, "describes": True,
        "description": "Keycloak's installation directory (bin/kc.sh, conf/, providers/, themes/, data/).",
    },
    "service": {
        "type": "str", "default": "keycloak", "verbs": BOTH, "describes": True,
        "description": "The service that runs Keycloak: an offline backup stops it for the realm export, a restore "
                       "stops it for the database and configuration and starts it again (with the module's "
                       "stop_command and start_command).",
    },
    "environment_files": {
        "type": "list", "elements": "path", "default": [], "verbs": BOTH, "describes": True,
        "description": "Files holding the service's environment (KEY=value lines, as a systemd EnvironmentFile): "
                       "their KC_* settings override keycloak.conf, and they are kept in the config part (inside "
                       "the encrypted backup only: no value reaches the header or the result).",
    },
    "db": {
        "type": "str", "verbs": BOTH,
        "choices": ["postgres", "mariadb", "mysql", "mssql", "oracle", "tidb", "dev-file", "dev-mem"],
        "description": "The database vendor (Keycloak's db; default what the configuration says). postgres is "
                       "dumped with pg_dump, mariadb and mysql with mariadb-dump or mysqldump, dev-file (H2 under "
                       "data/) as files with Keycloak stopped; mssql, oracle, tidb and dev-mem are refused.",
    },
    "db_url": {"type": "str", "verbs": BOTH, "description": "The JDBC URL (Keycloak's db-url)."},
    "db_url_host": {"type": "str", "verbs": BOTH, "description": "The database host (db-url-host)."},
    "db_url_port": {"type": "int", "verbs": BOTH, "description": "The database port (db-url-port)."},
    "db_url_database": {"type": "str", "verbs": BOTH, "description": "The database name (db-url-database)."},
    "db_username": {"type": "str", "verbs": BOTH, "description": "The database account (db-username)."},
    "db_schema": {"type": "str", "verbs": BOTH, "description": "The database schema (db-schema)."},
    "db_password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "instead": "or leave it in keycloak.conf or the service's environment",
        "description": "The database password (db-password), for one kept in Keycloak's config keystore; it "
                       "reaches the dump tools in a root-only file and kc.sh in its environment, never a command "
                       "line.",
    },
    "datasource_passwords": {
        "type": "dict", "verbs": BOTH, "secret": True,
        "instead": "or leave them in keycloak.conf or the service's environment",
        "description": "The passwords of Keycloak's named datasources (db-password-<name>), by datasource name, for "
                       "those kept in Keycloak's config keystore. Every named datasource the configuration declares "
                       "(db-kind-<name>) is backed up with Keycloak's database, and restored with it.",
    },
    "db_bin_dir": {
        "type": "path", "verbs": BOTH,
        "description": "Where the database client tools are (pg_dump, psql, pg_restore; mariadb-dump, mariadb). "
                       "Default on PATH.",
    },
    "export_realms": {
        "type": "bool", "default": True, "verbs": ["backup"], "describes": True,
        "description": "An offline backup also exports the realms with kc.sh export, Keycloak stopped (its guide "
                       "recommends it), each realm and users file checked afterwards. An online backup is the "
                       "database dump alone, taken while Keycloak runs.",
    },
    "realms": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
        "description": "The realms the export holds (default all, master included). The database dump holds every "
                       "realm whatever this says.",
    },
    "users": {
        "type": "str", "default": "different_files", "verbs": ["backup"], "describes": True,
        "choices": ["skip", "realm_file", "same_file", "different_files"],
        "description": "Where kc.sh export puts the users (its --users).",
    },
    "users_per_file": {
        "type": "int", "default": 50, "verbs": ["backup"],
        "description": "Users per file with users different_files (kc.sh export --users-per-file).",
    },
    "optimized": {
        "type": "bool", "default": True, "verbs": BOTH,
        "description": "Run kc.sh export and import with --optimized (the server was built with kc.sh build, as "
                       "Keycloak's production guide has it); false for a server that is not.",
    },
    "staging_dir": {
        "type": "path", "verbs": BOTH,
        "description": "Where the realm export and a restore's plaintext are staged, in a directory only root can "
                       "read, removed afterwards (default the system's temporary directory).",
    },
    "restore_database": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "Restore the database, replacing Keycloak's: the backup is restored under a temporary name "
                       "that takes the old one's place only once complete (the account needs CREATEDB, and to own "
                       "the database). The database holds every realm, user, client and secret.",
    },
    "restore_config": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "Restore the configuration files (conf/, providers/, themes/, data/ and the environment "
                       "files) under home; files that differ are replaced, none is deleted.",
    },
    "import_realms": {
        "type": "list", "elements": "str", "default": [], "verbs": ["restore"],
        "description": "Realms to import from the backup's realm export with kc.sh import, Keycloak stopped, after "
                       "the database and configuration (with restore_database false: those realms alone come "
                       "back, the others are left as they are). Each is imported from a directory of its own "
                       "files, since kc.sh import takes every realm in its directory.",
    },
    "override": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "kc.sh import --override: a realm that exists is replaced (true) or left as it is and "
                       "skipped (false).",
    },
    "build": {
        "type": "str", "default": "auto", "verbs": ["restore"], "choices": ["auto", "always", "never"],
        "description": "Run kc.sh build before the start: auto when the restore changed keycloak.conf or "
                       "quarkus.properties (build-time options may have changed).",
    },
    "health_url": {
        "type": "str", "verbs": ["restore"],
        "description": "The readiness URL a restore waits for (default /health/ready on the management port, or "
                       "on the main port with http-management-health-enabled false; without health-enabled, the "
                       "master realm's OpenID configuration).",
    },
    "health_timeout": {
        "type": "int", "default": 300, "verbs": ["restore"],
        "description": "Seconds a restore waits for Keycloak to be ready after its start.",
    },
    "replacement": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "A restore onto a replacement host: the restored keycloak.conf keeps this host's own "
                       "database and listen settings (its db, db-* and http-host lines, those the database was "
                       "restored with), in place of the backed-up host's.",
    },
    "hostname": {
        "type": "str", "verbs": ["restore"],
        "description": "Keycloak's hostname after the restore (its hostname option: a name or a URL), written to "
                       "the restored keycloak.conf in place of the backed-up one.",
    },
    # --- the admin REST API's partial export and import (rest.py) ---
    "partial_export": {
        "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
        "description": "An online backup also takes each realm's partial export through the admin REST API "
                       "(clients, roles and groups; secrets masked as **********, no users), for a partial import "
                       "into a running Keycloak. Keycloak's guide calls it unsuitable as a backup: the database "
                       "dump stays the backup, and the result and header say so.",
    },
    "admin_url": {
        "type": "str", "verbs": BOTH,
        "description": "Keycloak's URL for the admin REST API (default the one its configuration gives on this "
                       "host).",
    },
    "admin_realm": {
        "type": "str", "default": "master", "verbs": BOTH,
        "description": "The realm admin_username logs in to.",
    },
    "admin_client_id": {
        "type": "str", "default": "admin-cli", "verbs": BOTH,
        "description": "The client admin_username logs in through.",
    },
    "admin_username": {
        "type": "str", "verbs": BOTH,
        "description": "An admin with manage-realm on the realms, for partial_export and partial_import_realms.",
    },
    "admin_password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "admin_username's password.",
    },
    "admin_client_secret": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "admin_client_id's secret, for a confidential client.",
    },
    "validate_certs": {
        "type": "bool", "default": True, "verbs": BOTH,
        "description": "Check the certificate of Keycloak's admin REST API.",
    },
    "ca_path": {
        "type": "path", "verbs": BOTH,
        "description": "The CA certificate (PEM) that signed the admin REST API's certificate.",
    },
    "partial_import_realms": {
        "type": "list", "elements": "str", "default": [], "verbs": ["restore"],
        "description": "Realms to put back from the backup's partial export into the running Keycloak through the "
                       "admin REST API (partialImport), nothing stopped and nothing else restored (with "
                       "restore_database and restore_config not given).",
    },
    "if_resource_exists": {
        "type": "str", "default": "FAIL", "verbs": ["restore"], "choices": ["FAIL", "SKIP", "OVERWRITE"],
        "description": "partialImport's ifResourceExists: a resource that exists fails the whole import (FAIL, "
                       "Keycloak's default), is left as it is (SKIP) or is replaced (OVERWRITE).",
    },
    "allow_masked_secrets": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Import clients whose secrets the partial export masked: they get ********** as their "
                       "secret (to regenerate afterwards), over the real one with OVERWRITE. Refused by default.",
    },
    # --- drills (providers/keycloak/drill.py) ---
    "scratch_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Set by drkit.backup.backup_drill, not by hand: the drill's scratch directory, where a "
                       "Keycloak of the drill's own (home's distribution, the backup's configuration) runs on a "
                       "PostgreSQL server of its own, both in a network namespace of their own.",
    },
    "check_realm": {
        "type": "str", "default": "master", "verbs": ["restore"],
        "description": "A drill's check: the realm whose OpenID configuration must answer and where check_username "
                       "logs in.",
    },
    "check_username": {
        "type": "str", "verbs": ["restore"],
        "description": "A drill's check: a user of check_realm who logs in with check_password (a password grant); "
                       "the drill's keycloak check fails without it, saying so.",
    },
    "check_client_id": {
        "type": "str", "default": "admin-cli", "verbs": ["restore"],
        "description": "A drill's check: the client check_username logs in through (direct access grants on).",
    },
    "check_password": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "A drill's check: check_username's password.",
    },
    "check_client_secret": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "A drill's check: check_client_id's secret, for a confidential client.",
    },
}
