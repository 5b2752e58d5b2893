# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: provider_facts
short_description: What a drkit.backup provider declares about itself, for roles and playbooks
version_added: 0.1.0
description:
  - Returns the facts a provider declares in its package (its kind, where it runs, the type/online pairs it
    supports, its options, how a restore treats it), so that roles and playbooks act on them instead of testing a
    provider's name.
  - The facts are static; the filter reads them on the controller from the collection itself.
options:
  _input:
    description: The provider's name, as in a backup's header (C(product)) or C(drkit_backup_provider).
    type: str
    required: true
author:
  - drkit.backup maintainers (@drkit)
"""

EXAMPLES = r"""
- name: Take the safety copy the way the backup's provider says
  ansible.builtin.debug:
    msg: "{{ (header.product | drkit.backup.provider_facts).restore.safety_copy }}"

- name: List the options a files restore takes
  ansible.builtin.debug:
    msg: "{{ ('files' | drkit.backup.provider_facts).restore_options }}"
"""

RETURN = r"""
_value:
  description: The provider's facts.
  type: dict
  contains:
    name:
      description: The provider's name.
      type: str
    kind:
      description: V(parts) (drkit captures each part), V(tool) (the product's own tool backs up and restores as a
        whole) or V(appliance) (a remote appliance over its API).
      type: str
    runs_on:
      description: V(host) (the managed host) or V(delegate) (a host that reaches the appliance).
      type: str
    supports:
      description: The C({type, online}) pairs the provider can back up.
      type: list
      elements: dict
    tool_stops_services:
      description: Whether the product's own tool stops and starts the services for an offline backup.
      type: bool
    options:
      description: Each option with its type, default, C(verbs), C(describes), C(secret) and description.
      type: dict
    backup_options:
      description: The names of the options a backup takes.
      type: list
      elements: str
    restore_options:
      description: The names of the options a restore takes.
      type: list
      elements: str
    restore:
      description:
        - C(from_header), the options a restore takes from the header's provider section; C(whole), whether a
          restore takes the whole backup at once; C(counts), what a part's change count counts (V(paths) or
          V(parts)); C(safety_copy), how the restore role takes its safety copy (V(present_paths),
          V(restore_options), or V(none) where the target holds nothing to copy); C(rollback_options), the options that restore the safety copy.
      type: dict
    topology:
      description: The topology family whose follow-up tasks the roles run (V(freeipa)), or null.
      type: str
    fleet_policy:
      description: How the fleet role chooses the host to back up, V(inventory) or V(topology).
      type: str
  sample:
    name: files
    kind: parts
    runs_on: host
    supports: [{type: full, online: false}, {type: full, online: true}]
    tool_stops_services: false
    backup_options: [paths, services]
    restore_options: [services, target_root]
    restore: {from_header: [services], whole: false, counts: paths, safety_copy: present_paths,
              rollback_options: {target_root: /}}
    topology: null
    fleet_policy: inventory
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError
from ansible_collections.drkit.backup.plugins.module_utils.providers import facts


def provider_facts(name):
    try:
        return facts(name)
    except DrkitError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"provider_facts": provider_facts}
