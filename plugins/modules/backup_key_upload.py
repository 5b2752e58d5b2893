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
  - drkit.backup.common
  - drkit.backup.common.keystore
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
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

from ansible_collections.drkit.backup.plugins.module_utils import module_helpers
from ansible_collections.drkit.backup.plugins.module_utils.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.keys import Keystore, read_key_file


def upload(module, store):
    params = module.params
    key = read_key_file(params["src"], params["password"])
    present = store.get(key.id)
    if present is not None and present.material != key.material:
        raise InvalidInput("a different key with id %s is already in %s: refusing to replace it"
                           % (key.id, store))
    is_default = store.is_default(key) if present is not None else False
    want_default = params["default"] if params["default"] is not None else is_default
    changed = present is None or want_default != is_default
    before = store.info(present) if present is not None else {}
    after = key.info(want_default)
    if changed and not module.check_mode:
        if present is None:
            store.add(key)
        if want_default != is_default:
            store.set_default(key, want_default)
    return {"changed": changed, "key": after, "diff": {"before": before, "after": after}}


def main():
    argument_spec = dict(
        src=dict(type="path", required=True),
        password=dict(type="str", required=True, no_log=True),
        default=dict(type="bool"),
    )
    argument_spec.update(module_helpers.keystore_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    module_helpers.run(module, upload, module, Keystore(module.params["keystore"]))


if __name__ == "__main__":
    main()
