#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: freeipa_reinitialize
short_description: Re-initialise this IdM server's replicated data from another server
version_added: 0.1.0
description:
  - Runs C(ipa-replica-manage re-initialize --from=SERVER) (suffix C(domain)) or
    C(ipa-csreplica-manage re-initialize --from=SERVER) (suffix C(ca), on CA servers only) on the managed host,
    replacing its copy of that suffix with the one of O(from_server).
  - After C(ipa-restore) on one server, every other server must be re-initialised, outward through the topology
    from the restored one, C(domain) before C(ca); RV(drkit.backup.freeipa_topology_info#module:reinitialize)
    gives that order, and each of its steps is one run of this module on the step's server.
  - The Directory Manager password goes to the tool's standard input (it prompts for it), never on its command
    line, and is masked in everything returned.
  - Re-initialisation always replaces data, so the task always reports a change.
options:
  from_server:
    description: The server to copy the data from (the restored one, or the previous step's server).
    type: str
    required: true
  suffix:
    description: V(domain) (the IdM tree, C(ipa-replica-manage)) or V(ca) (the CA subtree, C(ipa-csreplica-manage)).
    type: str
    choices: [domain, ca]
    default: domain
  dm_password:
    description: The Directory Manager password.
    type: str
    required: true
  timeout:
    description: Seconds to wait for the re-initialisation to finish.
    type: int
    default: 3600
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
attributes:
  check_mode:
    support: full
    details: Check mode returns the command that would run and runs nothing.
requirements:
  - Python 3.9 or later on the managed host.
  - An IdM (FreeIPA) server with C(ipa-replica-manage) (and C(ipa-csreplica-manage) for the C(ca) suffix).
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.freeipa_topology_info
  - module: drkit.backup.restore
"""

EXAMPLES = r"""
- name: Re-initialise idm1 from the restored idm2, domain then ca
  drkit.backup.freeipa_reinitialize:
    from_server: idm2.example.com
    suffix: "{{ item }}"
    dm_password: "{{ vault_dm_password }}"
  loop: [domain, ca]
"""

RETURN = r"""
command:
  description: The command run (or that would run).
  returned: success
  type: str
  sample: ipa-replica-manage re-initialize --from=idm2.example.com
suffix:
  description: The suffix re-initialised.
  returned: success
  type: str
  sample: domain
from_server:
  description: The server the data came from.
  returned: success
  type: str
  sample: idm2.example.com
output:
  description: The last lines the tool printed (the password masked).
  returned: when the command ran
  type: str
  sample: Update in progress, 3 seconds elapsed / Update succeeded
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import freeipa


def main():
    module = AnsibleModule(
        argument_spec=dict(
            from_server=dict(type="str", required=True),
            suffix=dict(type="str", choices=["domain", "ca"], default="domain"),
            dm_password=dict(type="str", required=True, no_log=True),
            timeout=dict(type="int", default=3600),
        ),
        supports_check_mode=True)
    params = module.params
    _module.run(module, freeipa.reinitialize, libraries=False, from_server=params["from_server"],
                suffix=params["suffix"], dm_password=params["dm_password"], timeout=params["timeout"],
                check_mode=module.check_mode)


if __name__ == "__main__":
    main()
