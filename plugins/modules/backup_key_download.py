#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_key_download
short_description: Write a backup key to a password-protected key file
version_added: 0.1.0
description:
  - Writes one key of the keystore to a key file, encrypted under O(password), so that it can be kept offline
    or uploaded to another host with M(drkit.backup.backup_key_upload), as C(ksctl backupkeys download) does.
  - The password is stretched with scrypt (a memory-hard KDF; its parameters are recorded in the file) and the
    key is encrypted with AES-256-GCM. The file's metadata (version, key id, scope, creation time) can be read
    without the password with M(drkit.backup.backup_key_info) and is authenticated with the key.
  - When O(dest) already holds this key and opens with O(password), nothing changes.
  - The key file is written on the managed host, readable by its owner only.
options:
  id:
    description: The id of the key to download. Either O(id) or O(name) is required.
    type: str
  name:
    description: The name of the key to download.
    type: str
  dest:
    description: The key file to write.
    type: path
    required: true
  password:
    description: The password that protects the key file; at least 8 characters.
    type: str
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_key_upload
  - module: drkit.backup.backup_key_info
"""

EXAMPLES = r"""
- name: Keep the nightly key offline, protected by a vaulted password
  drkit.backup.backup_key_download:
    name: nightly
    dest: /root/nightly.drkitkey
    password: "{{ vault_backup_key_password }}"

- name: Bring the key file to the controller
  ansible.builtin.fetch:
    src: /root/nightly.drkitkey
    dest: keys/
"""

RETURN = r"""
key:
  description: The downloaded key's metadata (never its material).
  returned: success
  type: dict
  sample: {"id": "c05b638d-2eea-4651-9937-7bee49a95f6b", "name": "nightly", "scope": "system", "domain": null,
           "created_at": "2026-11-23T08:21:59.139786Z", "is_default": true}
dest:
  description: The key file.
  returned: success
  type: str
  sample: /root/nightly.drkitkey
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import keys


def main():
    argument_spec = dict(
        id=dict(type="str"),
        name=dict(type="str"),
        dest=dict(type="path", required=True),
        password=dict(type="str", required=True, no_log=True),
    )
    argument_spec.update(_module.keystore_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, required_one_of=[("id", "name")],
                           mutually_exclusive=[("id", "name")], supports_check_mode=True)
    params = module.params
    _module.run(module, keys.key_download, keystore=params["keystore"], dest=params["dest"],
                password=params["password"], key_id=params["id"], name=params["name"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
