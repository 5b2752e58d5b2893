# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_choices
short_description: Choose the host to back up in each cluster of a fleet
version_added: 0.1.0
description:
  - For each cluster (an inventory group), chooses the host to back up from, as the C(drkit.backup.fleet) role
    does. A cluster needs the union of its hosts' server roles (C(drkit_backup_roles)); the chosen host holds all
    of them.
  - Hidden hosts (C(drkit_backup_hidden), which serve no clients) holding every role come first, then any host
    holding every role; ties go to inventory order.
  - A hidden host is backed up as its C(drkit_backup_online) says (offline by default); a host that serves clients
    is always backed up online, so it is never stopped.
  - Each entry says in C(offline_remedy) what would let the cluster be backed up offline when its chosen host serves
    clients.
  - When no host holds every role, the cluster's entry has C(error), a sentence naming the missing roles of each
    host, and no C(host).
  - For a cluster in O(discovered) the choice comes from what the product itself reports instead of the inventory;
    for IdM, the result of M(drkit.backup.freeipa_topology_info) with its
    RV(drkit.backup.freeipa_topology_info#module:backup_server). Then
    its chosen server is mapped back to the inventory host whose C(drkit_backup_freeipa_server) (default the
    inventory name) names it, and a topology that could not be read, a refusal (no hidden replica holding every
    role in use) or a server that is no host of the cluster becomes the cluster's C(error).
options:
  _input:
    description: The clusters, as inventory group names.
    type: list
    elements: str
    required: true
  groups:
    description: The inventory's groups (the C(groups) variable), for the members of each cluster in inventory order.
    type: dict
    required: true
  hostvars:
    description: The inventory's host variables (the C(hostvars) variable).
    type: dict
    required: true
  discovered:
    description:
      - Per cluster whose product reports its own topology, C({provider, host, result}) - the provider (V(freeipa)),
        the inventory host it was asked on, and the registered result of M(drkit.backup.freeipa_topology_info) there
        (failed or unreachable results included). Clusters not in it are chosen from the inventory.
    type: dict
    default: {}
    version_added: 0.1.0
author:
  - drkit.backup maintainers (@drkit)
"""

EXAMPLES = r"""
- name: Choose the host to back up in each cluster
  ansible.builtin.set_fact:
    choices: "{{ ['idm_east', 'idm_west'] | drkit.backup.fleet_choices(groups, hostvars) }}"

- name: Read the IdM topology on the first host of cluster idm_north
  drkit.backup.freeipa_topology_info:
    select: hidden
  register: topology
  failed_when: false
  when: inventory_hostname == groups['idm_north'][0]

- name: Let the topology choose in idm_north, the inventory elsewhere
  ansible.builtin.set_fact:
    choices: >-
      {{ ['idm_east', 'idm_north'] | drkit.backup.fleet_choices(groups, hostvars, {'idm_north': {'provider': 'freeipa',
      'host': groups['idm_north'][0], 'result': hostvars[groups['idm_north'][0]].topology}}) }}
"""

RETURN = r"""
_value:
  description: One entry per cluster, by cluster name.
  type: dict
  sample:
    idm_east:
      cluster: idm_east
      host: idm2.example.test
      hidden: true
      online: false
      roles: [ca, dns, kra]
      hosts: [idm1.example.test, idm2.example.test]
      reason: hidden replica holding every role in use (ca, dns, kra)
      error: null
    idm_west:
      cluster: idm_west
      host: null
      hidden: false
      online: true
      roles: [ca, kra]
      hosts: [idm3.example.test, idm4.example.test]
      reason: null
      error: "cluster idm_west: no host holds every role in use (ca, kra): idm3.example.test lacks kra; idm4.example.test lacks ca"
      source: inventory
      server: null
      offline_remedy: "add a hidden replica holding every role (drkit_backup_hidden: true)"
    idm_north:
      cluster: idm_north
      host: ipa2
      hidden: true
      online: false
      roles: [CA, KRA, DNS]
      hosts: [ipa1, ipa2, ipa3]
      reason: "IdM topology read on ipa1: hidden server holding every role in use (CA, KRA, DNS)"
      error: null
      source: freeipa_topology_info
      server: ipa2.example.test
      offline_remedy: hide an IdM replica holding every role (drkit.backup.freeipa_server_state)
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def _roles(value, host):
    if value is None:
        return set()
    if isinstance(value, str) or not all(isinstance(role, str) for role in value):
        raise AnsibleFilterError("drkit_backup_roles of %s must be a list of role names, not %r" % (host, value))
    return set(value)


def choose(cluster, members, hostvars):
    """The choice for one cluster: a dict as RETURN describes."""
    roles = {host: _roles(hostvars[host].get("drkit_backup_roles"), host) for host in members}
    hidden = {host: boolean(hostvars[host].get("drkit_backup_hidden", False), strict=False) for host in members}
    needed = set().union(*roles.values()) if roles else set()
    label = ", ".join(sorted(needed)) or "none"
    entry = {"cluster": cluster, "host": None, "hidden": False, "online": True, "roles": sorted(needed),
             "hosts": list(members), "reason": None, "error": None, "source": "inventory", "server": None,
             "offline_remedy": "add a hidden replica holding every role (drkit_backup_hidden: true)"}
    if not members:
        entry["error"] = "cluster %s has no hosts in the inventory" % cluster
        return entry
    complete = [host for host in members if roles[host] >= needed]
    if not complete:
        lacking = "; ".join("%s lacks %s" % (host, ", ".join(sorted(needed - roles[host]))) for host in members)
        entry["error"] = ("cluster %s: no host holds every role in use (%s): %s. Add the missing roles to one host "
                          "(a hidden replica is best) so that one backup holds the whole cluster"
                          % (cluster, label, lacking))
        return entry
    hidden_complete = [host for host in complete if hidden[host]]
    host = (hidden_complete or complete)[0]
    entry.update(host=host, hidden=hidden[host])
    if hidden[host]:
        entry["online"] = boolean(hostvars[host].get("drkit_backup_online", False), strict=False)
        entry["reason"] = "hidden replica holding every role in use (%s)" % label
    else:
        entry["reason"] = ("holds every role in use (%s)%s; it serves clients, so it is backed up online"
                           % (label, "" if not any(hidden.values()) else
                              " and no hidden replica does"))
        if len(complete) > 1:
            entry["reason"] += " (first in inventory order of %s)" % ", ".join(complete)
    return entry


def _server_name(hostvars, host):
    name = hostvars[host].get("drkit_backup_freeipa_server")
    if name is not None and (not isinstance(name, str) or not name):
        raise AnsibleFilterError("drkit_backup_freeipa_server of %s must be a host name, not %r" % (host, name))
    return name or host


def choose_discovered(cluster, members, hostvars, found):
    """The choice for a cluster whose product reported its topology (IdM: drkit.backup.freeipa_topology_info)."""
    if not isinstance(found, dict) or found.get("provider") != "freeipa":
        raise AnsibleFilterError("discovered[%s] must be {provider: freeipa, host, result}, not %r" % (cluster, found))
    asked = found.get("host")
    result = found.get("result")
    entry = {"cluster": cluster, "host": None, "hidden": False, "online": True, "roles": [], "hosts": list(members),
             "reason": None, "error": None, "source": "freeipa_topology_info", "server": None,
             "offline_remedy": "hide an IdM replica holding every role (drkit.backup.freeipa_server_state)"}
    where = "IdM topology read on %s" % asked
    if not isinstance(result, dict) or result.get("skipped"):
        entry["error"] = ("cluster %s: the IdM topology was not read on %s: run drkit.backup.freeipa_topology_info "
                          "on a host of the cluster first" % (cluster, asked))
        return entry
    if result.get("unreachable"):
        entry["error"] = ("cluster %s: the IdM topology could not be read because %s did not answer (%s)"
                          % (cluster, asked, result.get("msg") or "unreachable"))
        return entry
    # A refusal registered under failed_when: false has failed false but no backup_server, only its msg.
    if result.get("failed") or "backup_server" not in result:
        entry["error"] = "cluster %s (%s): %s" % (cluster, where, result.get("msg") or "the module failed")
        return entry
    choice = result.get("backup_server") or {}
    entry["roles"] = list(choice.get("roles_in_use") or [])
    server = choice.get("server")
    if not server:
        entry["error"] = "cluster %s (%s): %s" % (cluster, where, choice.get("reason") or "no server was chosen")
        return entry
    names = {}
    for host in members:
        names.setdefault(_server_name(hostvars, host), host)
    host = names.get(server)
    entry["server"] = server
    if host is None:
        entry["error"] = ("cluster %s (%s): IdM chose %s (%s), which is no host of the cluster (its hosts are IdM "
                          "servers %s): add that server to the group, or set drkit_backup_freeipa_server on the host "
                          "that is it" % (cluster, where, server, choice.get("reason"), ", ".join(sorted(names))))
        return entry
    hidden = bool(choice.get("hidden"))
    entry.update(host=host, hidden=hidden, reason="%s: %s" % (where, choice.get("reason")))
    if hidden:
        entry["online"] = boolean(hostvars[host].get("drkit_backup_online", False), strict=False)
    else:
        entry["reason"] += "; it serves clients, so it is backed up online"
    return entry


def fleet_choices(clusters, groups, hostvars, discovered=None):
    if isinstance(clusters, str) or not isinstance(clusters, (list, tuple)):
        raise AnsibleFilterError("fleet_choices takes a list of cluster (group) names, not %r" % (clusters,))
    discovered = discovered or {}
    if not isinstance(discovered, dict):
        raise AnsibleFilterError("fleet_choices takes discovered as a dict by cluster, not %r" % (discovered,))
    seen = {}
    result = {}
    for cluster in clusters:
        if cluster not in groups:
            raise AnsibleFilterError("cluster %s is not a group of the inventory" % cluster)
        members = list(groups[cluster])
        for host in members:
            if host in seen:
                raise AnsibleFilterError("host %s is in two clusters, %s and %s: a host belongs to one cluster"
                                         % (host, seen[host], cluster))
            seen[host] = cluster
        if cluster in discovered:
            result[cluster] = choose_discovered(cluster, members, hostvars, discovered[cluster])
        else:
            result[cluster] = choose(cluster, members, hostvars)
    return result


class FilterModule:
    def filters(self):
        return {"fleet_choices": fleet_choices}
