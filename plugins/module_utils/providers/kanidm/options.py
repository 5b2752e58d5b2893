# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``kanidm`` provider (format: providers/options.py)."""

from __future__ import annotations

BOTH = ["backup", "restore"]

OPTIONS = {
    "config": {
        "type": "path", "default": "/etc/kanidm/server.toml", "verbs": BOTH, "describes": True,
        "description": "kanidmd's server.toml, passed to every kanidmd command (-c): it names the database "
                       "(db_path), the TLS chain and key, the origin and the [online_backup] directory.",
    },
    "kanidmd": {
        "type": "path", "default": "kanidmd", "verbs": BOTH,
        "description": "The kanidmd program (default the one on PATH). Releases before 1.1.0-alpha.9 spell the "
                       "database commands without 'database' (kanidmd backup ...): the provider asks the program "
                       "its release and speaks its spelling.",
    },
    "service": {
        "type": "str", "default": "kanidmd", "verbs": BOTH, "describes": True,
        "description": "The service that runs kanidmd: an offline backup stops it for kanidmd database backup, a "
                       "restore stops it for the restore and starts it again (with the module's stop_command and "
                       "start_command).",
    },
    "online_backup_file": {
        "type": "str", "verbs": ["backup"],
        "description": "An online backup adopts this file of the server's own [online_backup] directory (its name "
                       "or path; default the newest backup-<time>.json[.gz] there). Nothing is stopped; a file "
                       "already adopted into the destination is not adopted again.",
    },
    "staging_dir": {
        "type": "path", "verbs": BOTH,
        "description": "Where kanidmd's backup file and a restore's plaintext are staged, in a directory only root "
                       "can read, removed afterwards (default the system's temporary directory).",
    },
    "restore_config": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "Put back server.toml and the TLS chain and key it names where they differ from the "
                       "backup's (before kanidmd database restore reads server.toml).",
    },
    "origin": {
        "type": "str", "verbs": ["restore"],
        "description": "A restore onto a replacement host: the origin (https://name[:port]) its server.toml takes "
                       "in place of the backup's. The domain stays the backup's: it is in the data.",
    },
    "verify": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "Run kanidmd database verify after the restore, before the start: its errors fail the "
                       "restore and are named.",
    },
    "vacuum": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Run kanidmd database vacuum after the restore (needed after a change of db_fs_type).",
    },
    "status_url": {
        "type": "str", "verbs": ["restore"],
        "description": "Where a restore asks kanidmd whether it runs (default https://<bindaddress>/status, a "
                       "wildcard address asked on 127.0.0.1).",
    },
    "health_timeout": {
        "type": "int", "default": 120, "verbs": ["restore"],
        "description": "Seconds a restore waits for kanidmd's /status after its start.",
    },
    "scratch_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Set by drkit.backup.backup_drill, not by hand: the drill's scratch directory, where a "
                       "kanidmd of the drill's own runs on the backup's server.toml, rewritten (its database "
                       "there, 127.0.0.1, no replication, LDAP listener or online backups).",
    },
    "check_username": {
        "type": "str", "default": "idm_admin", "verbs": ["restore"],
        "description": "A drill's check: the account that logs in (by password) to look check_account up and to "
                       "count persons and groups.",
    },
    "check_account": {
        "type": "str", "verbs": ["restore"],
        "description": "A drill's check: a person the restored kanidmd must have.",
    },
    "check_password": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "A drill's check: check_username's password.",
    },
}
