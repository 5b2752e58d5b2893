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
