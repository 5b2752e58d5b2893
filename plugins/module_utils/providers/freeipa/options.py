# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``freeipa`` provider (format: providers/options.py)."""

from __future__ import annotations

BOTH = ["backup", "restore"]

OPTIONS = {
    "logs": {
        "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
        "description": "ipa-backup --logs: add the IdM log files (full backups only).",
    },
    "gpg": {
        "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
        "description": "ipa-backup --gpg: the native archive is also encrypted to the root GnuPG key.",
    },
    "disable_role_check": {
        "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
        "description": "ipa-backup --disable-role-check, only when a backup of a server lacking some role in use "
                       "is really wanted.",
    },
    "adopt": {
        "type": "str", "verbs": ["backup"], "describes": True,
        "description": "The name (in backup_dir) or path of an existing native ipa-full-*/ipa-data-* backup to turn "
                       "into a drkit backup instead of running ipa-backup; adopting the same one again changes "
                       "nothing.",
    },
    "keep_native": {
        "type": "bool", "default": False, "verbs": ["backup"],
        "description": "Keep ipa-backup's own directory after it is sealed into the drkit backup (by default it "
                       "is removed once the drkit backup is complete, and kept when anything fails).",
    },
    "data_only": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "ipa-restore --data: restore only the data (into a configured server).",
    },
    "no_logs": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "ipa-restore --no-logs: leave the log files out of a full restore.",
    },
    "rehide": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "Hide the server again after the restore when it was hidden before (ipa-restore leaves it "
                       "enabled).",
    },
    "netns": {
        "type": "path", "verbs": ["restore"],
        "description": "A file a network namespace is bound to (unshare --net=FILE): ipa-restore and every IdM "
                       "command of the restore run inside it. A drill sets it to a namespace of its own, where no "
                       "live peer can be reached.",
    },
    "staging_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Where the backup is staged in ipa-restore's layout (default backup_dir); not under /tmp "
                       "or /var/tmp, which IdM's directory server cannot read.",
    },
    "dm_password_file": {
        "type": "path", "verbs": ["restore"],
        "description": "A root-only file holding the Directory Manager password, instead of "
                       "provider_secrets.dm_password.",
    },
    "dm_password": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "instead": ", or name a root-only file in provider_options.dm_password_file",
        "description": "The Directory Manager password, needed to restore onto a configured IdM server; it goes "
                       "to ipa-restore on its standard input.",
    },
    "gnupghome": {
        "type": "path", "verbs": BOTH,
        "description": "The GnuPG home for a backup with gpg (passed as GNUPGHOME to ipa-backup and ipa-restore).",
    },
    "tmpdir": {
        "type": "path", "verbs": BOTH,
        "description": "Where ipa-backup and ipa-restore write their temporary files (passed as TMPDIR).",
    },
    "backup_dir": {
        "type": "path", "verbs": BOTH,
        "description": "ipa-backup's backup directory (default /var/lib/ipa/backup under root).",
    },
    "krb5_ccache": {
        "type": "path", "verbs": BOTH,
        "description": "The Kerberos credential cache for the ipa client (KRB5CCNAME), which tells whether the "
                       "server is hidden.",
    },
    "timeout": {
        "type": "int", "default": 14400, "verbs": BOTH,
        "description": "Seconds ipa-backup or ipa-restore may take.",
    },
    "root": {
        "type": "path", "default": "/", "verbs": BOTH,
        "description": "The file-system root of the IdM installation; only tests and chroots change it.",
    },
}
