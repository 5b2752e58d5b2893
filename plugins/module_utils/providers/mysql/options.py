# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``mysql`` provider (format: providers/options.py)."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.options import BOTH, shared

OPTIONS = dict(shared(3306, "mariadb and mariadb-dump (or MySQL's mysql and mysqldump)"), **{
    "databases": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
        "description": "The databases to back up, each one part (mariadb-dump --single-transaction with routines, "
                       "events and triggers); empty means every database but the server's own (mysql, sys, "
                       "information_schema, performance_schema).",
    },
    "globals": {
        "type": "bool", "default": True, "verbs": BOTH, "describes": True,
        "description": "Back up the accounts with their passwords and grants too (mariadb-dump --system=users; "
                       "MariaDB only), and restore first the ones the server does not have, so that a restore onto "
                       "a fresh server works. Accounts the server has already are left as they are.",
    },
    "socket": {
        "type": "path", "verbs": BOTH,
        "description": "The server's Unix socket (instead of host and port).",
    },
    "replace": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Replace a database that exists on the server. Without it, a restore onto an existing "
                       "database is refused before anything is touched. MariaDB cannot rename a database: the one "
                       "there is dumped first (into staging_dir), dropped, and loaded again if the restore fails.",
    },
})
