# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: drill_groups
short_description: The backup groups a drill covers, each with the host that holds its backups
version_added: 0.1.0
description:
  - The unit of a drill is a backup group (DESIGN decision 27). A fleet cluster is drilled on the host the
    C(drkit.backup.fleet) role chose to back it up (its published C(drkit_backup_fleet_choices)); a cluster without a
    published choice is chosen from the inventory as that role would (a cluster whose product chooses from its own
    topology, IdM, needs the fleet role's choice, and says so).
  - Every other host of O(_input) is a group of its own (a standalone host), unless it sets
    C(drkit_backup_drill_skip) (a host never backed up on purpose) or C(drkit_backup_drill_is_target) (a drill
    target, where other groups are drilled).
  - A cluster for which no host can be chosen is kept, with its C(error) and no C(host), and a drill of it fails.
    C(reported_by) is the host that drills the group, or reports its error (the cluster's first host in the play).
options:
  _input:
    description: The hosts of the play (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  clusters:
    description: The inventory groups that are clusters.
    type: list
    elements: str
    required: true
  groups:
    description: The inventory's groups (the C(groups) variable).
    type: dict
    required: true
  hostvars:
    description: The inventory's host variables (the C(hostvars) variable).
    type: dict
    required: true
  choices:
    description: The fleet role's published choices (C(drkit_backup_fleet_choices)), by cluster.
    type: dict
    default: {}
author:
  - drkit.backup maintainers (@drkit)
"""

EXAMPLES = r"""
- name: Find this drill's groups
  ansible.builtin.set_fact:
    drill_groups: >-
      {{ ansible_play_hosts_all | drkit.backup.drill_groups(['cluster_a', 'cluster_b'], groups, hostvars,
      hostvars['localhost'].drkit_backup_fleet_choices | default({})) }}
"""

RETURN = r"""
_value:
  description: One entry per group, by group name, in order (clusters first, then standalone hosts).
  type: dict
  sample:
    cluster_a: {group: cluster_a, host: idm2, hosts: [idm1, idm2], error: null, reported_by: idm2,
                reason: "hidden replica holding every role in use (ca, dns, kra)"}
    web1: {group: web1, host: web1, hosts: [web1], error: null, reason: standalone host, reported_by: web1}
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.drkit.backup.plugins.filter.fleet_choices import fleet_choices
from ansible_collections.drkit.backup.plugins.module_utils.providers import facts


def drill_groups(play_hosts, clusters, groups, hostvars, choices=None):
    if isinstance(play_hosts, str) or not isinstance(play_hosts, (list, tuple)):
        raise AnsibleFilterError("drill_groups takes the play's hosts as a list, not %r" % (play_hosts,))
    choices = choices or {}
    result, clustered = {}, set()
    for cluster in clusters or []:
        members = [host for host in groups.get(cluster, []) if host in play_hosts]
        clustered.update(groups.get(cluster, []))
        if not members:
            continue
        choice = choices.get(cluster)
        if choice is None:
            if _policy(hostvars, members[0]) == "topology":
                choice = {"host": None, "error": "cluster %s: its product chooses the host from its own topology, and "
                                                 "no fleet choice was published: run the drkit.backup.fleet role "
                                                 "first (it publishes drkit_backup_fleet_choices on the controller)"
                                                 % cluster}
            else:
                choice = fleet_choices([cluster], groups, hostvars)[cluster]
        host = choice.get("host")
        error = choice.get("error")
        if host is not None and host not in play_hosts:
            host, error = None, "cluster %s: its backups are on %s, which is not in this play" % (cluster, choice["host"])
        result[cluster] = {"group": cluster, "host": host, "hosts": members, "error": error,
                           "reason": choice.get("reason"), "reported_by": host or members[0]}
    for host in play_hosts:
        if host in clustered or any(boolean(hostvars[host].get(name, False), strict=False)
                                    for name in ("drkit_backup_drill_skip", "drkit_backup_drill_is_target")):
            continue
        result[host] = {"group": host, "host": host, "hosts": [host], "error": None, "reason": "standalone host",
                        "reported_by": host}
    return result


def _policy(hostvars, host):
    provider = hostvars[host].get("drkit_backup_provider")
    if not provider:
        return "inventory"
    return facts(provider)["fleet_policy"]


class FilterModule:
    def filters(self):
        return {"drill_groups": drill_groups}
