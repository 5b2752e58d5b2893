#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_key_upload
short_description: Add a backup key from a password-protected key file to the keystore
version_added: 0.1.0
description:
  - Reads a key file written by M(drkit.backup.backup_key_download), opens it with O(password) and adds the
    key to the keystore of the managed host, as C(ksctl backupkeys upload) does, so that backups encrypted
    with it can be restored there.
  - Uploading a key that is already in the keystore changes nothing (except the default flag, when
    O(default) asks for a change).
options:
  src:
    description: The key file, on the managed host.
    type: path
    required: true
  password:
    description: The password the key file was written with.
    type: str
    required: true
  default:
    description:
      - Whether the uploaded key becomes the default key of its scope. Unset, the default is not touched.
    type: bool
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
attributes:
  diff_mode:
    support: full
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_key_download
  - module: drkit.backup.backup_key_info
"""

EXAMPLES = r"""
- name: Copy the key file to the host that will restore
  ansible.builtin.copy:
    src: keys/nightly.drkitkey
    dest: /root/nightly.drkitkey
    mode: "0600"

- name: Upload it
  drkit.backup.backup_key_upload:
    src: /root/nightly.drkitkey
    password: "{{ vault_backup_key_password }}"
"""

RETURN = r"""
key:
  description: The uploaded key's metadata (never its material).
  returned: success
  type: dict
  sample: {"id": "c05b638d-2eea-4651-9937-7bee49a95f6b", "name": "nightly", "scope": "system", "domain": null,
           "created_at": "2026-11-23T08:21:59.139786Z", "is_default": false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import keys


def main():
    argument_spec = dict(
        src=dict(type="path", required=True),
        password=dict(type="str", required=True, no_log=True),
        default=dict(type="bool"),
    )
    argument_spec.update(_module.keystore_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, keys.key_upload, keystore=params["keystore"], src=params["src"], password=params["password"],
                default=params["default"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
