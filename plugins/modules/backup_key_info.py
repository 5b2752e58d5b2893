#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_key_info
short_description: List the backup keys of a keystore, or inspect a key file without its password
version_added: 0.1.0
description:
  - Lists the keys in the keystore of the managed host (as C(ksctl backupkeys list)).
  - With O(file), reads a key file's metadata without its password (as C(ksctl backupkeys inspect)).
  - Never returns key material.
options:
  file:
    description: A key file to inspect instead of listing the keystore.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.info_module
  - drkit.backup.common
  - drkit.backup.common.keystore
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_key
"""

EXAMPLES = r"""
- name: List the keys
  drkit.backup.backup_key_info:
  register: listing

- name: Show the default system key
  ansible.builtin.debug:
    msg: "{{ listing.backup_keys | selectattr('is_default') | selectattr('scope', '==', 'system') | first }}"

- name: Inspect a key file before uploading it
  drkit.backup.backup_key_info:
    file: /root/nightly.drkitkey
  register: key_file
"""

RETURN = r"""
backup_keys:
  description: The keystore's keys, oldest first.
  returned: when O(file) is not given
  type: list
  elements: dict
  sample: [{"id": "c05b638d-2eea-4651-9937-7bee49a95f6b", "name": "nightly", "scope": "system",
            "domain": null, "created_at": "2026-11-23T08:21:59.139786Z", "is_default": true}]
key_file:
  description: The key file's metadata.
  returned: when O(file) is given
  type: dict
  contains:
    version:
      description: The key-file format version.
      type: int
      sample: 1
    id:
      description: The id of the key in the file.
      type: str
      sample: c05b638d-2eea-4651-9937-7bee49a95f6b
    name:
      description: The key's name, or null.
      type: str
      sample: nightly
    scope:
      description: V(system) or V(domain).
      type: str
      sample: system
    domain:
      description: The domain of a domain-scoped key, or null.
      type: str
      sample: null
    created_at:
      description: When the key was created (UTC, RFC 3339).
      type: str
      sample: "2026-11-23T08:21:59.139786Z"
    kdf:
      description: The password KDF the file uses.
      type: str
      sample: scrypt
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import keys


def main():
    argument_spec = dict(file=dict(type="path"))
    argument_spec.update(_module.keystore_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    _module.run(module, keys.key_info, keystore=module.params["keystore"], file=module.params["file"])


if __name__ == "__main__":
    main()
