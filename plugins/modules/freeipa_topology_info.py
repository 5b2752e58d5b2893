#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: freeipa_topology_info
short_description: Read an IdM topology, choose the server to back up and plan re-initialisations
version_added: 0.1.0
description:
  - Reads which servers an IdM (FreeIPA) deployment has, the server roles each holds (CA, KRA, DNS, AD trust) and
    which servers are hidden replicas (C(ipa server-role-find --include-master); a role whose services are marked
    C(hiddenService) has status C(hidden)), and the replication segments of the C(domain) and C(ca) suffixes
    (C(ipa topologysegment-find)).
  - Chooses the server a backup should be taken on, as Red Hat recommends, a hidden replica holding every role in
    use, else any server holding them all, ties broken by O(prefer) (for example the inventory order), then by name.
    With O(select=hidden) the task fails, naming each server and its roles, when no hidden replica holds every role.
  - With O(reinitialize_from), returns the documented order of re-initialisations after a restore of that server,
    outward through the topology from the restored server, each server after the one it is re-initialised from,
    the C(domain) suffix (C(ipa-replica-manage re-initialize)) before the C(ca) suffix
    (C(ipa-csreplica-manage re-initialize), CA servers only).
options:
  select:
    description:
      - V(none) only reports the choice in RV(backup_server).
      - V(hidden) fails unless a hidden replica holds every role in use.
      - V(any) fails unless some server holds every role in use (a hidden one is still preferred).
    type: str
    choices: [none, hidden, any]
    default: none
  prefer:
    description: Server names in order of preference, to break ties (for example C(groups['idm'])).
    type: list
    elements: str
    default: []
  roles:
    description:
      - The roles a backup server must hold (among V(CA), V(KRA), V(DNS), V(ADTRUST)). Default is every role some
        server of the topology holds, enabled or hidden.
    type: list
    elements: str
    choices: [CA, KRA, DNS, ADTRUST]
  reinitialize_from:
    description: A server that was (or will be) restored; RV(reinitialize) then lists the steps for the others.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.info_module
  - drkit.backup.freeipa
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.freeipa_server_state
  - module: drkit.backup.freeipa_reinitialize
  - module: drkit.backup.backup
"""

EXAMPLES = r"""
- name: Find the hidden replica that holds every role in use (fail when there is none)
  drkit.backup.freeipa_topology_info:
    select: hidden
    prefer: "{{ groups['idm'] }}"
  register: topology
  run_once: true

- name: Back up that replica only
  drkit.backup.backup:
    provider: freeipa
  when: inventory_hostname == topology.backup_server.server

- name: After restoring idm2, plan the re-initialisation of the other servers
  drkit.backup.freeipa_topology_info:
    reinitialize_from: idm2.example.com
  register: plan
  run_once: true

- name: Re-initialise them in the documented order
  drkit.backup.freeipa_reinitialize:
    from_server: "{{ item.from }}"
    suffix: "{{ item.suffix }}"
    dm_password: "{{ vault_dm_password }}"
  delegate_to: "{{ item.server }}"
  loop: "{{ plan.reinitialize }}"
  loop_control:
    label: "{{ item.server }} {{ item.suffix }} from {{ item.from }}"
  run_once: true
"""

RETURN = r"""
servers:
  description: Every server of the topology.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The server's host name.
      type: str
      sample: idm2.example.com
    hidden:
      description: Whether it is a hidden replica (its roles are hidden, none enabled).
      type: bool
      sample: true
    roles:
      description: The backup-relevant roles it holds, enabled or hidden (V(CA), V(KRA), V(DNS), V(ADTRUST)).
      type: list
      elements: str
      sample: [CA, KRA, DNS]
    role_status:
      description: Every role's status as C(ipa server-role-find) gives it (V(enabled), V(hidden), V(configured), V(absent)).
      type: dict
      sample: {CA: hidden, DNS: hidden, IPA: hidden, KRA: hidden, ADTRUST: absent}
roles_in_use:
  description: The backup-relevant roles some server holds.
  returned: success
  type: list
  elements: str
  sample: [CA, KRA, DNS]
hidden_servers:
  description: The hidden replicas.
  returned: success
  type: list
  elements: str
  sample: [idm2.example.com]
segments:
  description: The replication segments of the C(domain) and C(ca) suffixes.
  returned: success
  type: dict
  sample: {domain: [{left: idm1.example.com, right: idm2.example.com}], ca: []}
backup_server:
  description: The choice of the server to back up.
  returned: success
  type: dict
  contains:
    server:
      description: The chosen server, or null when no server holds every role in use.
      type: str
      sample: idm2.example.com
    hidden:
      description: Whether the chosen server is hidden (a backup there disturbs no client).
      type: bool
    reason:
      description: Why it was chosen (or why none was).
      type: str
      sample: hidden server holding every role in use (CA, KRA, DNS)
    candidates:
      description: Every server holding all the roles, best first.
      type: list
      elements: str
    roles_in_use:
      description: The roles the choice required.
      type: list
      elements: str
reinitialize:
  description:
    - With O(reinitialize_from), the re-initialisations to run, in order; each runs on the step's C(server).
  returned: when O(reinitialize_from) is given
  type: list
  elements: dict
  sample:
    - {server: idm1.example.com, from: idm2.example.com, suffix: domain,
       command: "ipa-replica-manage re-initialize --from=idm2.example.com"}
    - {server: idm1.example.com, from: idm2.example.com, suffix: ca,
       command: "ipa-csreplica-manage re-initialize --from=idm2.example.com"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import freeipa
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.topology import BACKUP_ROLES


def main():
    argument_spec = dict(
        select=dict(type="str", choices=["none", "hidden", "any"], default="none"),
        prefer=dict(type="list", elements="str", default=[]),
        roles=dict(type="list", elements="str", choices=list(BACKUP_ROLES)),
        reinitialize_from=dict(type="str"),
    )
    argument_spec.update(_module.freeipa_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, freeipa.topology_info, libraries=False, ccache=params["krb5_ccache"], select=params["select"],
                prefer=params["prefer"], roles=params["roles"], reinitialize_from=params["reinitialize_from"])


if __name__ == "__main__":
    main()
