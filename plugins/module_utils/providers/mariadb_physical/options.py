# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``mariadb_physical`` provider (format: providers/options.py)."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.options import BOTH, shared

_SHARED = shared(3306, "mariadb-backup, mbstream, mariadb and mariadbd")
_KEPT = ("host", "port", "user", "password", "bin_dir")

OPTIONS = dict({name: _SHARED[name] for name in _KEPT}, **{
    "services": dict(_SHARED["services"], description=(
        "For an offline backup (online false): the services to stop first, in this order (the applications that "
        "write to the database), started again in reverse. The copy is consistent without it.")),
    "socket": {
        "type": "path", "verbs": BOTH,
        "description": "The server's Unix socket (instead of host and port). mariadb-backup runs on the server's "
                       "host, as root: it reads the data directory's files.",
    },
    "os_user": {
        "type": "str", "verbs": ["restore"],
        "description": "The user the server runs as (Debian: mysql), who owns the restored files (default the owner "
                       "of the data directory it replaces, else user mysql, else root).",
    },
    "datadir": {
        "type": "path", "default": "/var/lib/mysql", "verbs": ["restore"],
        "description": "The data directory to restore into, of a stopped server (a restore is refused while a "
                       "server runs on it). It takes the restored files only once they are prepared; the old one "
                       "is moved aside on its file system and put back if anything fails.",
    },
    "replace": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Replace a data directory that holds files. Without it, such a restore is refused before "
                       "anything is touched.",
    },
    "staging_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Where a restore stages the verified stream and unpacks and prepares it, in a directory only "
                       "root can read, removed afterwards (default beside datadir, on its file system, so that the "
                       "prepared files move in by rename). It needs room for the backup's plaintext twice.",
    },
})
