# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``mq_appliance`` provider (format: providers/options.py)."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.appliance_options import BOTH, SHARED

OPTIONS = dict(SHARED, **{
    "url": {
        "type": "str", "verbs": BOTH, "describes": True,
        "description": "The appliance's REST management interface (https://mqa.example.com:5554; port 5554 when "
                       "none is given). A restore onto a reinitialized or replacement appliance names it here.",
    },
    "username": {
        "type": "str", "default": "admin", "verbs": BOTH,
        "description": "The appliance user that logs in (a secure restore runs as admin only).",
    },
    "password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "username's password (on a reinitialized appliance, the one set at its initial setup).",
    },
    "timeout": {
        "type": "int", "default": 1800, "verbs": BOTH,
        "description": "Seconds to wait for the appliance's secure backup, its restore and its restart (each API "
                       "call has 60).",
    },
    "certificate": {
        "type": "str", "verbs": ["backup"],
        "description": "The crypto certificate object (an RSA certificate; ECDSA is not supported) the appliance "
                       "encrypts its secure backup to. Only the certificate is on the appliance: keep its private "
                       "key off it, for the restore.",
    },
    "certificate_file": {
        "type": "path", "verbs": ["restore"],
        "description": "The PEM file of that certificate, which the restore installs on the reinitialized "
                       "appliance with its private key.",
    },
    "private_key_file": {
        "type": "path", "verbs": ["restore"],
        "description": "The PEM file of the certificate's private key (or the secret private_key).",
    },
    "private_key": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "The certificate's private key, PEM (instead of private_key_file).",
    },
    "credential": {
        "type": "str", "default": "drkit-restore", "verbs": ["restore"],
        "description": "The name of the crypto certificate, key and identification-credential objects the "
                       "restore makes on the appliance, and of their files in cert:.",
    },
    "restored_password": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "admin's password after the restore, which leaves it admin to be changed first (default "
                       "password).",
    },
    "queue_managers": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
        "description": "Queue managers to back up too, with mqbackup over the appliance's CLI (a secure backup "
                       "holds no queue manager): each should be stopped for a consistent backup (a running one "
                       "is backed up from a snapshot, with a warning). Needs the appliance's backup file system "
                       "(createbackupfs, or backupfs_size).",
    },
    "messaging_users": {
        "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
        "description": "Back up the messaging users too, with userbackup over the appliance's CLI.",
    },
    "restore_queue_managers": {
        "type": "bool", "default": True, "verbs": ["restore"],
        "description": "After the secure restore, restore the backup's queue managers with mqrestore (refused, "
                       "before anything is sent, when a queue manager of the same name exists).",
    },
    "restore_messaging_users": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "After the secure restore, restore the backup's messaging users with userrestore, which "
                       "replaces every messaging user but the system ones and deletes those not in the backup: "
                       "only when asked.",
    },
    "backupfs_size": {
        "type": "str", "verbs": BOTH,
        "description": "When the appliance has no backup file system (mqbackup:///QMgrs; a reinitialize removes "
                       "it), create one of this size (createbackupfs -s: 10 for 10 GB, 512M) instead of failing.",
    },
    "cli_host": {
        "type": "str", "verbs": BOTH,
        "description": "Where the appliance's command line answers over SSH (default the host of url; in a "
                       "drill, the host of drill_url).",
    },
    "cli_port": {
        "type": "int", "default": 22, "verbs": BOTH,
        "description": "The SSH port of the appliance's command line.",
    },
    "cli_host_key": {
        "type": "str", "verbs": BOTH,
        "description": "The SSH host key of the appliance's command line (ssh-ed25519 AAAA..., as in a "
                       "known_hosts file). Without it ssh's own known_hosts files decide, and an unknown key fails.",
    },
    "cli_ssh_options": {
        "type": "list", "elements": "str", "default": [], "verbs": BOTH,
        "description": "More arguments for ssh (-o ProxyJump=bastion, -i key), as IBM's mqcli client's -s. The "
                       "appliance's own login (username and password) follows in the session.",
    },
    "drill_cli_host_key": {
        "type": "str", "verbs": ["restore"],
        "description": "The SSH host key of drill_url's command line (default cli_host_key).",
    },
    "scratch_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Set by drkit.backup.backup_drill, not by hand: the drill's scratch directory; the "
                       "restore then goes to drill_url with drill_password.",
    },
    "drill_url": {
        "type": "str", "verbs": ["restore"],
        "description": "A drill's appliance: a second MQ Appliance, reinitialized and set up, with the same "
                       "firmware, never the one backed up (a secure restore replaces its configuration, so it "
                       "needs a reinitialize before the next drill).",
    },
    "drill_password": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "admin's password on drill_url (default password).",
    },
    "check_file": {
        "type": "str", "verbs": ["restore"],
        "description": "A drill's check: a file the restored appliance must hold, as store:///path "
                       "(local:///app/qm.ini).",
    },
})
