#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_verify
short_description: Verify backups and record the ones that fail, so that they never count as good
version_added: 0.1.0
description:
  - Verifies one backup, or every backup in a backup root, as M(drkit.backup.backup_info) does with O(level).
  - A backup that fails gets a record beside it (C(.verify/<name>.json) in its directory, with the result, level,
    time, who verified and the problems). Such a backup lists as C(failed_verification), never satisfies C(max_age) of
    M(drkit.backup.backup), never counts for the rules of M(drkit.backup.backup_prune) (which keeps the newest
    C(keep_failed) of them and always the newest good backup of each group), and the roles never copy it.
  - A backup that verifies loses an earlier failure record.
  - The module does not fail when a backup fails; it reports RV(verified) false (use C(failed_when)).
options:
  path:
    description: A backup root, one backup directory, or a single-file backup.
    type: path
    required: true
  level:
    description:
      - V(checksum) checks every stored part against the header (and a signature), no key needed; V(full) also
        opens the backup with its key and decrypts and authenticates every part.
    type: str
    choices: [checksum, full]
    default: full
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.unlock
  - drkit.backup.common.hsm
  - drkit.backup.common.trust
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details: Check mode verifies and reports, and writes or removes no record.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_info
  - module: drkit.backup.backup_prune
"""

EXAMPLES = r"""
- name: Verify last night's backup fully, and fail the play when it does not verify
  drkit.backup.backup_verify:
    path: "{{ nightly.path }}"
  register: verified
  failed_when: not verified.verified

- name: Check every backup of the root without a key (weekly)
  drkit.backup.backup_verify:
    path: /var/lib/drkit/backups
    level: checksum
"""

RETURN = r"""
verified:
  description: Whether every backup at O(path) passed (false when there was none).
  returned: success
  type: bool
  sample: true
level:
  description: The level verified.
  returned: success
  type: str
  sample: full
backups:
  description:
    - Each backup verified, with C(name), C(path), C(verified), C(problems) and C(record) (the failure record's
      path, or null).
  returned: success
  type: list
  elements: dict
problems:
  description: Every problem found, one plain sentence each.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import verify


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        level=dict(type="str", choices=list(verify.LEVELS), default="full"),
    )
    argument_spec.update(_module.unlock_argument_spec())
    argument_spec.update(_module.hsm_argument_spec())
    argument_spec.update(_module.trust_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, verify.verify_backups, path=params["path"], level=params["level"],
                unlocker=_module.unlocker(params), trusted_certificates=params["trusted_certificates"],
                trusted_crls=params["trusted_crls"], signature_expired=params["signature_expired"],
                check_mode=module.check_mode, state_dir=params["state_dir"], lease_id=params["lease_id"])


if __name__ == "__main__":
    main()
