#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_pin
short_description: Pin a backup while it is read (a drill, a copy), so that prune and delete leave it alone
version_added: 0.1.0
description:
  - A pin is a record beside the backup, C(<its directory>/.pins/<name>.<id>.json), naming its holder and purpose.
    While a pin lasts, M(drkit.backup.backup_prune) keeps the backup (its reason in RV(drkit.backup.backup_prune#module:kept)
    says who pins it) and M(drkit.backup.backup) with O(drkit.backup.backup#module:state=absent) refuses to delete it,
    naming the pin.
  - A pin expires O(seconds) after it was taken, so a reader that died never holds a backup for ever; an expired
    pin counts for nothing. Pin again to hold it longer.
  - M(drkit.backup.backup_info) lists a backup's pins under C(pins).
  - It writes under the host's lock (O(state_dir)), and passes O(lease_id) when a lease holds the host.
options:
  path:
    description: The backup to pin (its directory or single file), not a backup root.
    type: path
    required: true
  state:
    description: V(present) adds a pin; V(absent) removes the pin O(pin_id).
    type: str
    choices: [present, absent]
    default: present
  pin_id:
    description: With O(state=absent), the pin to remove (RV(pin.id) of the task that added it).
    type: str
  holder:
    description: Who pins the backup (named when prune keeps it or delete is refused). Required to pin.
    type: str
  purpose:
    description: What for. Required to pin.
    type: str
  seconds:
    description: How long the pin lasts.
    type: int
    default: 7200
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details: Check mode says whether a pin would be added or removed, and writes nothing.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_prune
  - module: drkit.backup.backup_lease
"""

EXAMPLES = r"""
- name: Hold the backup while it is drilled
  drkit.backup.backup_pin:
    path: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    holder: drill on controller
    purpose: restore drill
    seconds: 7200
  register: pinned

- name: Let it go
  drkit.backup.backup_pin:
    path: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    state: absent
    pin_id: "{{ pinned.pin.id }}"
"""

RETURN = r"""
path:
  description: The backup pinned or unpinned.
  returned: success
  type: str
  sample: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
pin:
  description: The pin added or removed (V(null) in check mode when pinning, or when there was no such pin).
  returned: success
  type: dict
  contains:
    id:
      description: The pin's id, for O(pin_id) when it is removed.
      type: str
    holder:
      description: Who holds it.
      type: str
    purpose:
      description: What for.
      type: str
    pinned_at:
      description: When it was taken (UTC, RFC 3339).
      type: str
    expires_at:
      description: When it expires (UTC, RFC 3339).
      type: str
  sample: {id: 6d2f0a1c-9b8e-4c1d-8f3a-2e7b5c4d1a09, holder: drill on controller, purpose: restore drill,
           pinned_at: "2026-11-23T02:30:00.000000Z", expires_at: "2026-11-23T04:30:00.000000Z"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import pin


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        pin_id=dict(type="str"),
        holder=dict(type="str"),
        purpose=dict(type="str"),
        seconds=dict(type="int", default=7200),
    )
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "absent", ("pin_id",))])
    params = module.params
    _module.run(module, pin.control_pin, libraries=False, path=params["path"], state=params["state"],
                pin_id=params["pin_id"], holder=params["holder"], purpose=params["purpose"],
                seconds=params["seconds"], state_dir=params["state_dir"], lease_id=params["lease_id"],
                check_mode=module.check_mode)


if __name__ == "__main__":
    main()
