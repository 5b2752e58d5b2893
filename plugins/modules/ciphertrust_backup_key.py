#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ciphertrust_backup_key
short_description: Create, make default, delete, download and upload CipherTrust Manager backup keys
version_added: 0.1.0
description:
  - Manages the backup keys of a Thales CipherTrust Manager through its REST API (C(/api/v1/backupkeys)).
  - Every backup the appliance makes is encrypted with a backup key; a system backup leaves the backup keys out, so
    a restore onto another or a rebuilt appliance needs the key's password-protected file uploaded first. Keep that
    file (M(drkit.backup.backup) with provider C(ciphertrust) keeps it inside its encrypted backup).
  - Idempotent by O(id); without one, a O(download) file whose record (C(<file>.json), written beside it) names a
    key still on the appliance stands for that key, so "create and download" changes nothing when run again. An
    O(upload) of a file whose key is on the appliance already changes nothing.
options:
  id:
    description: The backup key (its UUID). Without it, O(state=present) creates a key (unless O(download) or
      O(upload) names one, see above).
    type: str
  state:
    description: V(present) creates or keeps the key; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  scope:
    description: The scope of a key created or uploaded (V(system) keys encrypt system backups only, V(domain)
      keys domain ones).
    type: str
    choices: [system, domain]
    default: system
  default:
    description: Make the key its scope's default (the key a backup uses when it names none).
    type: bool
    default: false
  download:
    description: Download the key to this file, protected by O(key_password) (mode 0600; a record beside it,
      C(<file>.json), keeps its id, scope and checksum, never the password).
    type: path
  upload:
    description: Upload the key in this file (downloaded from a CipherTrust Manager with its O(key_password)).
    type: path
  key_password:
    description: The password that protects the key's file (required with O(download) and O(upload)); not the
      login's O(password).
    type: str
  hint:
    description: A hint for the password, kept with the downloaded key.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.ciphertrust
attributes:
  check_mode:
    support: full
    details: Check mode says what would be created, made default, downloaded, uploaded or deleted, and does none of
      it.
  diff_mode:
    support: none
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.ciphertrust_backup
  - module: drkit.backup.ciphertrust_backup_info
"""

EXAMPLES = r"""
- name: Create the default system backup key and keep its password-protected file
  drkit.backup.ciphertrust_backup_key:
    url: https://cm.example.com
    username: backup-admin
    password: "{{ vault_cm_password }}"
    ca_path: /etc/pki/cm-ca.pem
    scope: system
    default: true
    download: /srv/keys/cm-system-backup-key.bin
    key_password: "{{ vault_cm_key_password }}"
  delegate_to: localhost
"""

RETURN = r"""
backup_key:
  description: The key as the appliance describes it (null once deleted, or in check mode before it exists).
  returned: success
  type: dict
  sample: {id: c05b638d-2eea-4651-9937-7bee49a95f6b, scope: system, isDefault: true,
           createdAt: "2020-04-07T08:21:59.139786694Z", version: "2"}
file:
  description: The downloaded key file, with O(download).
  returned: with download
  type: dict
  sample: {path: /srv/keys/cm-system-backup-key.bin, size: 1024, sha256: 9f2c...}
actions:
  description: What was done (or, in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: ["create a system backup key as the default", "download backup key c05b... to /srv/keys/cm.bin"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import ciphertrust
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.appliance import Appliance
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import client_of


def main():
    spec = _module.ciphertrust_argument_spec()
    spec.update(
        id=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        scope=dict(type="str", choices=["system", "domain"], default="system"),
        default=dict(type="bool", default=False),
        download=dict(type="path"),
        upload=dict(type="path"),
        key_password=dict(type="str", no_log=True),
        hint=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=[("download", "upload")],
                           required_by={"download": "key_password", "upload": "key_password"},
                           supports_check_mode=True)
    params = module.params
    _module.run(module, lambda **kwargs: ciphertrust.backup_key(Appliance(client_of(params)), **kwargs),
                libraries=False, state=params["state"], key_id=params["id"], scope=params["scope"],
                default=params["default"], download=params["download"], upload=params["upload"],
                password=params["key_password"], hint=params["hint"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
