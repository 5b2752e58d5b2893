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
      - Backup roots searched for backups that need the key before it is deleted.
    type: list
    elements: path
    default: [/var/lib/drkit/backups]
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

from ansible_collections.drkit.backup.plugins.module_utils import module_helpers
from ansible_collections.drkit.backup.plugins.module_utils.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.keys import (
    BackupKey, Keystore, check_scope, scope_label)
from ansible_collections.drkit.backup.plugins.module_utils.operations import backups_only_opened_by


def _absent(module, store):
    params = module.params
    key = store.get(params["id"], params["name"])
    if key is None:
        return {"changed": False, "diff": {"before": {}, "after": {}}}
    before = store.info(key)
    if not params["force"]:
        needing = backups_only_opened_by(key, store, params["backup_roots"])
        if needing:
            raise InvalidInput("backup key %s is the only key in %s that opens %d backup(s), such as %s: "
                               "deleting it would make them unrecoverable here. Download it first "
                               "(drkit.backup.backup_key_download) and use force: true"
                               % (key.id, store, len(needing), needing[0]))
    if not module.check_mode:
        store.remove(key)
    return {"changed": True, "key": before, "diff": {"before": before, "after": {}}}


def _present(module, store):
    params = module.params
    key = store.get(params["id"], params["name"])
    if key is None and params["id"]:
        raise InvalidInput("backup key %s is not in %s; to create a key give a name, not an id"
                           % (params["id"], store))
    if key is not None and not params["id"] and (key.scope, key.domain) != (params["scope"], params["domain"]):
        raise InvalidInput("a backup key named %r already exists in the %s scope, not the %s scope asked for: "
                           "choose another name" % (key.name, scope_label(key.scope, key.domain),
                                                    scope_label(params["scope"], params["domain"])))
    before = store.info(key) if key is not None else {}
    created = key is None
    if created:
        if not params["name"]:
            raise InvalidInput("name is required to create a backup key")
        check_scope(params["scope"], params["domain"])
        key = BackupKey.generate(params["name"], params["scope"], params["domain"])
    is_default = before.get("is_default", False)
    want_default = params["default"] if params["default"] is not None else is_default
    changed = created or want_default != is_default
    after = key.info(want_default)
    if changed and not module.check_mode:
        if created:
            store.add(key)
        if want_default != is_default:
            store.set_default(key, want_default)
    result = {"changed": changed, "key": after, "diff": {"before": before, "after": after}}
    if module.check_mode and created:
        result["key"] = dict(after, id=None)
        result["diff"]["after"] = result["key"]
    return result


def main():
    argument_spec = dict(
        name=dict(type="str"),
        id=dict(type="str"),
        scope=dict(type="str", choices=["system", "domain"], default="system"),
        domain=dict(type="str"),
        default=dict(type="bool"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
        backup_roots=dict(type="list", elements="path", default=["/var/lib/drkit/backups"]),
    )
    argument_spec.update(module_helpers.keystore_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, required_one_of=[("name", "id")],
                           supports_check_mode=True)
    store = Keystore(module.params["keystore"])
    operation = _absent if module.params["state"] == "absent" else _present
    module_helpers.run(module, operation, module, store)


if __name__ == "__main__":
    main()
