#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_key
short_description: Create, select as default, or delete a backup key
version_added: 0.1.0
description:
  - Manages the backup keys in a keystore on the managed host, as CipherTrust Manager manages its backup keys.
  - A backup key wraps the random data key of every backup encrypted with it; restoring a backup needs its key.
  - A key has an id (UUID, chosen when the key is created), an optional O(name), a scope (V(system), or
    V(domain) with a O(domain) name) and a creation time, and may be the default key of its scope.
  - Creating a key with a O(name) that is already in the keystore changes nothing.
  - Deleting a key that is the only key in the keystore able to open some backup under O(backup_roots) is
    refused unless O(force=true).
options:
  name:
    description:
      - The key's name. With O(state=present) and no key of this name, a new key is created.
      - Required to create a key; either O(name) or O(id) is needed.
    type: str
  id:
    description:
      - The id of an existing key, to change whether it is the default or to delete it.
    type: str
  scope:
    description:
      - The key's scope. A system key encrypts only system backups, a domain key only backups of its domain.
      - Only used when the key is created.
    type: str
    choices: [system, domain]
    default: system
  domain:
    description:
      - The domain of a V(domain)-scoped key.
    type: str
  default:
    description:
      - Whether the key is the default key of its scope (the key O(drkit.backup.backup#module:key_id) defaults
        to). Setting it moves the default from any other key of the scope. Unset, the default is not touched.
    type: bool
  state:
    description:
      - V(present) creates the key if needed; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), delete the key even when some backup can be opened only with it.
    type: bool
    default: false
  backup_roots:
    description:
      - Backup roots searched for backups that need the key before it is deleted, besides every root the host's
        O(state_dir) remembers a backup being written to; each root's C(.safety) copies and the captures waiting
        to be sealed count too. A backup whose header cannot be read counts as needing the key (refused without
        O(force)).
    type: list
    elements: path
    default: [/var/lib/drkit/backups]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  diff_mode:
    support: full
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_key_info
  - module: drkit.backup.backup_key_download
  - module: drkit.backup.backup_key_upload
"""

EXAMPLES = r"""
- name: Create the default system backup key (once; later runs change nothing)
  drkit.backup.backup_key:
    name: nightly
    default: true

- name: Create a key for the backups of domain "finance"
  drkit.backup.backup_key:
    name: finance
    scope: domain
    domain: finance

- name: Delete an old key
  drkit.backup.backup_key:
    id: 5dac1d33-9c2d-4fc1-9793-961052d73a29
    state: absent
"""

RETURN = r"""
key:
  description: The key after the change (before it, for a deleted key). Never holds key material.
  returned: when the key exists or existed
  type: dict
  contains:
    id:
      description: The key's id.
      type: str
      sample: 5dac1d33-9c2d-4fc1-9793-961052d73a29
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
    is_default:
      description: Whether the key is the default of its scope.
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import keys
from ansible_collections.drkit.backup.plugins.module_utils.store.catalog import DEFAULT_ROOT


def main():
    argument_spec = dict(
        name=dict(type="str"),
        id=dict(type="str"),
        scope=dict(type="str", choices=["system", "domain"], default="system"),
        domain=dict(type="str"),
        default=dict(type="bool"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
        backup_roots=dict(type="list", elements="path", default=[DEFAULT_ROOT]),
    )
    argument_spec.update(_module.keystore_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, required_one_of=[("name", "id")],
                           supports_check_mode=True)
    params = module.params
    if params["state"] == "absent":
        _module.run(module, keys.key_absent, keystore=params["keystore"], key_id=params["id"], name=params["name"],
                    force=params["force"], backup_roots=params["backup_roots"], state_dir=params["state_dir"],
                    lease_id=params["lease_id"], check_mode=module.check_mode)
    _module.run(module, keys.key_present, keystore=params["keystore"], key_id=params["id"], name=params["name"],
                scope=params["scope"], domain=params["domain"], default=params["default"],
                check_mode=module.check_mode)


if __name__ == "__main__":
    main()
