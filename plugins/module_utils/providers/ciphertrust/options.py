# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``ciphertrust`` provider (format: providers/options.py)."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.providers.appliance_options import BOTH, SHARED

OPTIONS = dict(SHARED, **{
    "url": {
        "type": "str", "verbs": BOTH, "describes": True,
        "description": "The appliance's address (https://cm.example.com); its API is under /api/v1. A restore "
                       "onto a replacement appliance names the replacement here.",
    },
    "username": {
        "type": "str", "default": "admin", "verbs": BOTH,
        "description": "Who logs in (a system backup needs an administrator of the root domain: a Domain "
                       "Administrator cannot make one).",
    },
    "password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "username's password.",
    },
    "domain": {
        "type": "str", "verbs": BOTH,
        "description": "The domain to log in to (the token's domain; default the root domain).",
    },
    "auth_domain": {
        "type": "str", "verbs": BOTH,
        "description": "The domain that authenticates username, when it is not the login domain.",
    },
    "timeout": {
        "type": "int", "default": 1800, "verbs": BOTH,
        "description": "Seconds to wait for the appliance's backup or restore to complete (each API call has 60).",
    },
    "scope": {
        "type": "str", "choices": ["system", "domain"], "default": "system", "verbs": ["backup"],
        "describes": True,
        "description": "The appliance's backup scope: system (the whole appliance, less what its chapter "
                       "excludes) or domain (the login domain's resources).",
    },
    "backup_key": {
        "type": "str", "verbs": ["backup"],
        "description": "The id of the backup key the appliance encrypts with (default the scope's default key).",
    },
    "tied_to_hsm": {
        "type": "bool", "default": False, "verbs": ["backup"],
        "description": "Tie a system backup to the appliance's HSM root key: it then restores only where the same "
                       "HSM root key exists.",
    },
    "filters": {
        "type": "list", "elements": "dict", "verbs": ["backup"],
        "description": "A domain backup's filters: [{resource_type, resource_query}], as the appliance's API "
                       "takes them.",
    },
    "keep_native": {
        "type": "bool", "default": True, "verbs": ["backup"],
        "description": "Keep the appliance's own backup on the appliance once drkit holds it (its quickest "
                       "rollback); false deletes it after the drkit backup is sealed.",
    },
    "key_password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "Protects the backup key's file that the drkit backup keeps (a system backup leaves the "
                       "backup keys out): a backup downloads the key with it, a restore onto an appliance that "
                       "lacks the key uploads the file with it.",
    },
    "force": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Restore a backup older than the releases this appliance restores without force (the "
                       "appliance's force field, sent only then). A backup from a later release is never restored. "
                       "force_release of the restore module does the same.",
    },
    "lts_releases": {
        "type": "list", "elements": "str", "default": [], "verbs": ["restore"],
        "description": "The LTS releases (2.14, 2.16, ...) among which an LTS backup restores without force on the "
                       "next two, beyond the three minor releases every backup may go.",
    },
    "scratch_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Set by drkit.backup.backup_drill, not by hand: the drill's scratch directory; the "
                       "restore then goes to drill_url with drill_username and drill_password.",
    },
    "drill_url": {
        "type": "str", "verbs": ["restore"],
        "description": "A drill's appliance: a second CipherTrust Manager, never the one backed up, that the "
                       "drill restores into (its keys are replaced).",
    },
    "drill_username": {
        "type": "str", "verbs": ["restore"],
        "description": "Who logs in to drill_url (default username).",
    },
    "drill_password": {
        "type": "str", "verbs": ["restore"], "secret": True,
        "description": "drill_username's password (default password).",
    },
    "check_key": {
        "type": "str", "verbs": ["restore"],
        "description": "A drill's check: the name of a key the restored appliance must hold.",
    },
})
