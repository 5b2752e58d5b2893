#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_rekey
short_description: Rotate the keys of existing backups, or add escrow keys, without re-encrypting them
version_added: 0.1.0
description:
  - Makes each backup at O(path) open with exactly the backup keys O(key_ids) and the GnuPG recipients
    O(gpg_recipients). Slots for new holders are added, slots for others removed. Key rotation is
    O(key_ids=[new key]), escrow is O(key_ids=[operational key, escrow key]).
  - Only the key slots in C(header.json) change; the parts, the manifest and its signature stay as they are.
    The new header replaces the old one through a temporary file and a rename, so a crash leaves every backup
    with its old header or its new one, never neither.
  - To add a slot the backup must be opened once with what this host holds (a backup key in the keystore, or
    the GnuPG secret key). A backup tied to an HSM is rekeyed without the HSM (its slots hold what the HSM
    wrapped).
  - The keys must be of the backup's scope. A backup that cannot be opened, or is not encrypted, fails the task
    with its reason (and is listed in RV(not_rekeyed)); the others are still rekeyed.
options:
  path:
    description: A backup root (every backup in it), one backup directory, or a single-file backup.
    type: path
    required: true
  key_ids:
    description: The backup keys (ids in the keystore) that must open the backups after the change.
    type: list
    elements: str
    default: []
  gpg_recipients:
    description: The GnuPG recipients that must open the backups after the change.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.unlock
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_key
  - module: drkit.backup.backup_info
"""

EXAMPLES = r"""
- name: Create the new key
  drkit.backup.backup_key:
    name: nightly-2027
    default: true
  register: new_key

- name: Rotate every backup of the host to it (the old key can then be deleted)
  drkit.backup.backup_rekey:
    path: /var/lib/drkit/backups
    key_ids: ["{{ new_key.key.id }}"]

- name: Let the security team's offline GnuPG key open them too (escrow)
  drkit.backup.backup_rekey:
    path: /var/lib/drkit/backups
    key_ids: ["{{ new_key.key.id }}"]
    gpg_recipients: [escrow@example.test]
    gpg_home: /root/.gnupg-backup
"""

RETURN = r"""
rekeyed:
  description: The backups whose key slots changed (or would, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/var/lib/drkit/backups/files-full-2026-11-23-02-00-00]
unchanged:
  description: The backups that already opened with exactly these keys.
  returned: always
  type: list
  elements: str
  sample: []
not_rekeyed:
  description: The backups that could not be rekeyed, each with its reason (the module then fails, naming them).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/lib/drkit/backups/files-full-2026-11-01-02-00-00", "msg": "backup ... is not encrypted"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import rekey


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        key_ids=dict(type="list", elements="str", default=[], no_log=False),
        gpg_recipients=dict(type="list", elements="str", default=[]),
    )
    argument_spec.update(_module.unlock_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, rekey.rekey, unlocker=_module.unlocker(params), path=params["path"], key_ids=params["key_ids"],
                gpg_home=params["gpg_home"], gpg_recipients=params["gpg_recipients"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
