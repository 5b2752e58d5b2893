#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: freeipa_server_state
short_description: Hide an IdM server (hidden replica) or enable it again
version_added: 0.1.0
description:
  - Reads the server's role status (C(ipa server-role-find --server=... --include-master)) and, when it differs,
    runs C(ipa server-state SERVER --state=hidden|enabled).
  - Use it to hide a replica again after C(ipa-restore), which leaves the restored server enabled (the
    C(freeipa) provider of M(drkit.backup.restore) does it by itself unless C(rehide) is false).
  - IdM refuses to hide the CA renewal master or the last enabled CA, DNS, KRA or IdM server; the task then fails
    with IdM's reason.
options:
  server:
    description: The server's host name (as C(ipa server-find) lists it).
    type: str
    required: true
  state:
    description: V(hidden) makes it a hidden replica; V(enabled) makes it serve clients again.
    type: str
    choices: [hidden, enabled]
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.freeipa
attributes:
  check_mode:
    support: full
    details: Check mode reads the current state and reports whether it would change.
  diff_mode:
    support: full
    details: The diff shows the server's state before and after.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.freeipa_topology_info
  - module: drkit.backup.restore
"""

EXAMPLES = r"""
- name: Hide the backup replica again after a restore
  drkit.backup.freeipa_server_state:
    server: idm2.example.com
    state: hidden
"""

RETURN = r"""
server:
  description: The server.
  returned: success
  type: str
  sample: idm2.example.com
state:
  description: The state asked for.
  returned: success
  type: str
  sample: hidden
previous_state:
  description: Its state before the task (V(hidden) or V(enabled)).
  returned: success
  type: str
  sample: enabled
roles:
  description: Its roles' status before the task.
  returned: success
  type: dict
  sample: {CA: enabled, DNS: enabled, IPA: enabled, KRA: enabled, ADTRUST: absent}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import freeipa


def main():
    argument_spec = dict(
        server=dict(type="str", required=True),
        state=dict(type="str", choices=["hidden", "enabled"], required=True),
    )
    argument_spec.update(_module.freeipa_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, freeipa.server_state, libraries=False, server=params["server"], state=params["state"],
                ccache=params["krb5_ccache"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
