# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``postgresql`` provider (format: providers/options.py)."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.options import BOTH, shared

OPTIONS = dict(shared(5432, "psql, pg_dump, pg_dumpall and pg_restore"), **{
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
    "sslmode": {
        "type": "str", "verbs": BOTH,
        "choices": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
        "description": "libpq's sslmode; verify-full checks the server's certificate and name against sslrootcert.",
    },
    "sslrootcert": {
        "type": "path", "verbs": BOTH, "description": "The CA certificates the server's certificate is checked with.",
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
})
