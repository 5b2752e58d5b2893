# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``postgresql`` provider (format: providers/options.py)."""

from __future__ import annotations

BOTH = ["backup", "restore"]

OPTIONS = {
    "databases": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
        "description": "The databases to back up, each one part (a pg_dump in custom format); empty means every "
                       "database a client can connect to, but the templates.",
    },
    "globals": {
        "type": "bool", "default": True, "verbs": BOTH, "describes": True,
        "description": "Back up the roles (with their passwords) and tablespaces too (pg_dumpall --globals-only), "
                       "and restore them first, so that a restore onto a fresh server works. It needs a superuser.",
    },
    "schema_only": {
        "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
        "description": "Dump the definitions only, no rows.",
    },
    "host": {
        "type": "str", "verbs": BOTH,
        "description": "The server's host name or address, or the directory of its Unix socket (default libpq's: "
                       "the local socket).",
    },
    "port": {
        "type": "int", "verbs": BOTH, "description": "The server's port (default 5432).",
    },
    "user": {
        "type": "str", "verbs": BOTH,
        "description": "The role to connect as (default libpq's: the name of the OS user the tools run as).",
    },
    "password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "The role's password; it reaches the tools in a password file only the user they run as "
                       "can read, removed afterwards.",
    },
    "sslmode": {
        "type": "str", "verbs": BOTH,
        "choices": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
        "description": "libpq's sslmode; verify-full checks the server's certificate and name against sslrootcert.",
    },
    "sslrootcert": {
        "type": "path", "verbs": BOTH, "description": "The CA certificates the server's certificate is checked with.",
    },
    "os_user": {
        "type": "str", "verbs": BOTH,
        "description": "Run the PostgreSQL tools as this OS user (e.g. postgres, for the local socket's peer "
                       "authentication); the module itself runs as root.",
    },
    "bin_dir": {
        "type": "path", "verbs": BOTH,
        "description": "Where psql, pg_dump, pg_dumpall and pg_restore are (default: on PATH).",
    },
    "services": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
        "description": "For an offline backup (online false): the services to stop first, in this order (the "
                       "applications that write to the database), started again in reverse. A dump is a "
                       "consistent snapshot without it.",
    },
    "replace": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Replace a database that exists on the server. Without it, a restore onto an existing "
                       "database is refused before anything is touched. The new database is restored under a "
                       "temporary name and takes the old one's place only once complete.",
    },
    "jobs": {
        "type": "int", "default": 2, "verbs": ["restore"],
        "description": "Parallel jobs of pg_restore (--jobs).",
    },
    "staging_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Where a restore stages the verified dumps for pg_restore, in a directory only root (or "
                       "os_user) can read, removed afterwards (default the system's temporary directory). It needs "
                       "room for the backup's plaintext dumps.",
    },
    "target_databases": {
        "type": "dict", "default": {}, "verbs": ["restore"],
        "description": "Restore a database under another name: backed-up name -> name on the server (a drill or a "
                       "side-by-side restore).",
    },
}
