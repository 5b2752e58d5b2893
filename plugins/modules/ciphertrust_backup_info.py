#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ciphertrust_backup_info
short_description: A CipherTrust Manager's backups, backup keys and last backup operation, and downloaded files
version_added: 0.1.0
description:
  - Lists the backups and backup keys of a Thales CipherTrust Manager and the status of its last backup or restore
    (C(/api/v1/backupStatus) reports the last operation only), when O(url) is given.
  - For each file in O(files) (a backup or backup key downloaded by M(drkit.backup.ciphertrust_backup) or
    M(drkit.backup.ciphertrust_backup_key)), what is known without the appliance, from the record kept beside it
    (C(<file>.json)); its size, the checksum taken at download and whether the file still has it, and what the API
    said of it. The appliance's file format is not public; nothing inside the file is read, and the result says so.
  - Reads only; changes nothing.
options:
  url:
    description: The CipherTrust Manager's address; without it only O(files) are described.
    type: str
    required: false
  username:
    description: The user that logs in (required with O(url)).
    type: str
    required: false
  password:
    description: The user's password (required with O(url)).
    type: str
    required: false
  files:
    description: Downloaded backup and backup key files to describe.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.info_module
  - drkit.backup.ciphertrust
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.ciphertrust_backup
  - module: drkit.backup.ciphertrust_backup_key
"""

EXAMPLES = r"""
- name: What the appliance holds, and whether the downloaded backup is intact
  drkit.backup.ciphertrust_backup_info:
    url: https://cm.example.com
    username: backup-admin
    password: "{{ vault_cm_password }}"
    ca_path: /etc/pki/cm-ca.pem
    files: [/srv/cm/system-backup.bin]
  delegate_to: localhost
  register: cm
"""

RETURN = r"""
appliance:
  description: The appliance's system information (its release in C(version)).
  returned: with url
  type: dict
  sample: {name: cm1, model: CipherTrust Manager k570, vendor: Thales, version: 2.19.0}
backups:
  description: The backups on the appliance.
  returned: with url
  type: list
  elements: dict
  sample: [{id: 245d3336-21fa-4a34-9498-c0b64fa4d322, scope: system, status: Completed}]
backup_keys:
  description: The backup keys on the appliance.
  returned: with url
  type: list
  elements: dict
  sample: [{id: c05b638d-2eea-4651-9937-7bee49a95f6b, scope: system, isDefault: true}]
status:
  description: The last backup or restore operation, as the appliance reports it ({} when there was none).
  returned: with url
  type: dict
  sample: {id: 245d3336-21fa-4a34-9498-c0b64fa4d322, operation: backup, status: Completed}
files:
  description: Each file of O(files) (C(intact) null when no checksum was recorded for it).
  returned: always
  type: list
  elements: dict
  sample: [{path: /srv/cm/system-backup.bin, exists: true, size: 104857, sha256: 9f2c..., kind: backup,
            intact: true, opaque: "CipherTrust Manager's file format is not public: nothing inside the file is read"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import ciphertrust
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.appliance import Appliance
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import client_of


def main():
    spec = _module.ciphertrust_argument_spec()
    for name in ("url", "username", "password"):
        spec[name]["required"] = False
    spec["files"] = dict(type="list", elements="path", default=[])
    module = AnsibleModule(argument_spec=spec, required_by={"url": ["username", "password"]},
                           supports_check_mode=True)
    params = module.params
    _module.run(module, lambda **kwargs: ciphertrust.info(Appliance(client_of(params)) if params["url"] else None,
                                                          **kwargs),
                libraries=False, files=params["files"])


if __name__ == "__main__":
    main()
