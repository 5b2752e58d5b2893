#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_services
short_description: Start the services a backup or restore left stopped, or stop services on purpose
version_added: 0.1.0
description:
  - M(drkit.backup.backup) and M(drkit.backup.restore) stop a provider's services and start them again whatever
    happens; the host's state directory records each service before its stop command is issued and forgets it
    once its start command has returned. A run that was killed, or whose start command failed, leaves its
    services recorded as stopped, and M(drkit.backup.backup_info) reports them.
  - With O(state=started), this module starts services again in reverse order (by default every service the
    state directory records as stopped) and clears them from the record. The C(drkit.backup.backup) and
    C(drkit.backup.restore) roles call it in their C(always) sections.
  - With O(state=stopped), it stops O(services) in order and records them as stopped (for maintenance windows
    that span several tasks).
  - It holds the host's lock while it runs, so it never starts a service under a backup that is capturing.
options:
  state:
    description: V(started) starts services in reverse order; V(stopped) stops them in order.
    type: str
    choices: [started, stopped]
    default: started
  services:
    description:
      - The services, in the order a backup stops them. With O(state=started), default is the services the
        state directory records as stopped.
    type: list
    elements: str
notes:
  - A start command must succeed when its service already runs (as C(systemctl start) does), and a stop command
    when it is already stopped.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.services
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details: Check mode returns the services it would start or stop, in order.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
  - module: drkit.backup.backup_info
"""

EXAMPLES = r"""
- name: Start whatever an interrupted backup left stopped
  drkit.backup.backup_services:
    state: started

- name: Make sure these services run again (they start in reverse order)
  drkit.backup.backup_services:
    state: started
    services: [dirsrv@EXAMPLE-TEST, httpd]
"""

RETURN = r"""
services:
  description: The services started (or stopped), in the order the commands ran.
  returned: success
  type: list
  elements: str
  sample: [httpd, dirsrv@EXAMPLE-TEST]
state:
  description: O(state).
  returned: success
  type: str
  sample: started
services_stopped:
  description: The services the state directory still records as stopped afterwards.
  returned: unless in check mode
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import services


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["started", "stopped"], default="started"),
        services=dict(type="list", elements="str"),
    )
    argument_spec.update(_module.services_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, required_if=[("state", "stopped", ("services",))],
                           supports_check_mode=True)
    params = module.params
    _module.run(module, services.control_services, state=params["state"], services=params["services"],
                stop_command=params["stop_command"], start_command=params["start_command"],
                state_dir=params["state_dir"], lease_id=params["lease_id"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
