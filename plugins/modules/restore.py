#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore
short_description: Verify a backup completely, then restore it
version_added: 0.1.0
description:
  - Restores a backup (a backup directory or a single-file backup) through the provider that took it.
  - Before anything is touched, the whole backup is verified (header authenticated with its key, every part
    decrypted and checked) and the provider checks that it fits this server; a damaged backup, a missing key
    or a backup of another product is refused with nothing changed.
  - The same pass works out what the restore would change; check mode stops there and reports the plan, and
    a restore that would change nothing reports no change (and stops no service).
  - For V(files), files are written under C(target_root), only those that differ are replaced (through a
    temporary file and a rename), and nothing is deleted.
options:
  backup:
    description: The backup directory, or single-file backup, to restore.
    type: path
    required: true
  provider:
    description:
      - The provider to restore with. Default is the one recorded in the backup; another one is refused.
    type: str
  provider_options:
    description:
      - Options of the provider. For V(files), C(target_root) (default V(/)) restores under another directory,
        and C(services) lists services to stop while files are written.
    type: dict
    default: {}
  parts:
    description: The parts to restore (default all). A name the backup does not have is refused.
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.services
  - drkit.backup.common.state_dir
attributes:
  check_mode:
    support: full
    details: Check mode verifies the backup and returns the files that would change.
  diff_mode:
    support: full
    details: The diff lists the files that change (or would).
  platform:
    platforms: posix
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
  - module: drkit.backup.backup_info
  - module: drkit.backup.backup_key_upload
"""

EXAMPLES = r"""
- name: See what a restore would change
  drkit.backup.restore:
    backup: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
  check_mode: true
  register: plan

- name: Restore one part under another directory to compare by hand
  drkit.backup.restore:
    backup: /srv/transfer/files-full-2026-11-23-02-00-00.drkit
    parts: [etc_myapp.tar]
    provider_options:
      target_root: /root/restored
"""

RETURN = r"""
restored_parts:
  description: For each part restored (or planned), how many paths changed (or would) and the first 50.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "etc_myapp.tar", "changed": 1, "changes": ["/etc/myapp/app.conf"]}]
backup:
  description: The restored backup's header manifest (as M(drkit.backup.backup_info) returns it).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import module_helpers, operations
from ansible_collections.drkit.backup.plugins.module_utils.keys import Keystore


def main():
    argument_spec = dict(
        backup=dict(type="path", required=True),
        provider=dict(type="str"),
        provider_options=dict(type="dict", default={}),
        parts=dict(type="list", elements="str"),
    )
    argument_spec.update(module_helpers.keystore_argument_spec())
    argument_spec.update(module_helpers.services_argument_spec())
    argument_spec.update(module_helpers.state_dir_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    module_helpers.run(module, operations.restore_backup, Keystore(params["keystore"]), params["backup"],
                       provider=params["provider"], provider_options=params["provider_options"],
                       parts=params["parts"], stop_command=params["stop_command"],
                       start_command=params["start_command"], state_dir=params["state_dir"],
                       check_mode=module.check_mode)


if __name__ == "__main__":
    main()
