#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_lease
short_description: Hold a host for a sequence of drkit.backup calls (a restore, its health check, its rollback)
version_added: 0.1.0
description:
  - One module call holds the host's lock only while it runs. A lease holds the host across several calls; while
    it lasts, every drkit.backup module that writes on the host (backup, restore, prune, delete, services, pack,
    rekey, key deletion) is refused unless it passes the lease's id as O(lease_id), with a message naming the
    lease's purpose and holder. The C(drkit.backup.restore) role takes one for its whole sequence.
  - Each call that passes the id renews the lease for O(seconds); it lapses O(seconds) after the last call, so a
    controller that died does not hold the host for ever. A call with an id that has lapsed or was released is
    refused, since the sequence no longer holds the host.
  - With O(state=absent), releases the lease (another holder's only with O(force)).
options:
  state:
    description: V(present) takes a lease (or, with O(lease_id), renews it); V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  lease_id:
    description: The lease to renew or release.
    type: str
  holder:
    description: Who holds the host (named in the messages that refuse others). Required to take a lease.
    type: str
  purpose:
    description: What for (named in the messages that refuse others). Required to take a lease.
    type: str
  seconds:
    description: How long the lease lasts after each call; set it to twice the longest step of the sequence.
    type: int
    default: 3600
  force:
    description: With O(state=absent), release a lease held by another holder (one whose controller is gone).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common.state_dir
attributes:
  check_mode:
    support: full
    details: Check mode says whether a lease would be taken or released, and fails when another holder has one.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.restore
"""

EXAMPLES = r"""
- name: Hold the host for a maintenance sequence
  drkit.backup.backup_lease:
    holder: "maintenance play on {{ ansible_play_hosts | first }}"
    purpose: restore of the application data
    seconds: 7200
  register: lease

- name: Restore within the lease
  drkit.backup.restore:
    backup: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    lease_id: "{{ lease.lease.id }}"

- name: Release it
  drkit.backup.backup_lease:
    state: absent
    lease_id: "{{ lease.lease.id }}"
"""

RETURN = r"""
lease:
  description: The lease taken, renewed or released (V(null) when there was none).
  returned: success
  type: dict
  contains:
    id:
      description: The lease's id, for O(lease_id) of the calls it covers.
      type: str
    holder:
      description: Who holds it.
      type: str
    purpose:
      description: What for.
      type: str
    seconds:
      description: How long it lasts after each call.
      type: int
    expires_at:
      description: When it lapses unless renewed (UTC, RFC 3339).
      type: str
  sample: {id: 3f1c2b7a-55d2-4c31-9a0e-6b1f0d7a2e11, holder: "drkit.backup.restore role on controller",
           purpose: restore of files-full-2026-11-23-02-00-00, seconds: 7200,
           expires_at: "2026-11-23T04:00:00.000000Z"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import lease


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        lease_id=dict(type="str", no_log=False),
        holder=dict(type="str"),
        purpose=dict(type="str"),
        seconds=dict(type="int", default=3600),
        force=dict(type="bool", default=False),
    )
    argument_spec.update(_module.state_dir_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, lease.control_lease, libraries=False, state=params["state"], lease_id=params["lease_id"],
                holder=params["holder"], purpose=params["purpose"], seconds=params["seconds"], force=params["force"],
                state_dir=params["state_dir"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
