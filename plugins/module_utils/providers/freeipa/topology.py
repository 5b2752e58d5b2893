# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IdM topology: servers, their roles, hidden replicas, and what a backup and a restore need of it.

- :func:`topology` gathers which servers exist, their roles and which are
  hidden (``ipa server-role-find --include-master``) and the replication
  segments (``ipa topologysegment-find domain|ca``);
- :func:`choose_backup_server` picks the server to back up (a hidden one
  holding every role in use, as Red Hat recommends) and
  :func:`reinitialize_plan` the documented order of re-initialisations after a
  restore (outward from the restored server, domain before ca).
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.process import ToolError, tail
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.cli import ROLE_NAMES, ipa, parse_entries

# The roles whose data a backup must hold: a backup server needs every one of them in use.
BACKUP_ROLES = ("CA", "KRA", "DNS", "ADTRUST")
ACTIVE = ("enabled", "hidden")


def server_roles(ccache=None) -> dict:
    """{server: {role: status}} for every server of the topology (role names as in ROLE_NAMES)."""
    code, output = ipa(["server-role-find", "--include-master"], ccache=ccache, check=False)
    entries = parse_entries(output)
    if code != 0 and not (code == 1 and not entries and "0 server roles matched" in output):
        raise ToolError("ipa server-role-find failed (exit %d): %s" % (code, tail(output, 2)))
    servers = {}
    for entry in entries:
        name = entry.get("Server name")
        if not name:
            continue
        role = ROLE_NAMES.get(entry.get("Role name", ""), entry.get("Role name", ""))
        servers.setdefault(name, {})[role] = entry.get("Role status", "absent")
    return servers


def segments(suffix, ccache=None) -> list:
    """[(left, right)] replication segments of ``suffix`` (domain or ca)."""
    code, output = ipa(["topologysegment-find", suffix], ccache=ccache, check=False)
    entries = parse_entries(output)
    if code not in (0, 1):
        raise ToolError("ipa topologysegment-find %s failed (exit %d): %s" % (suffix, code, tail(output, 2)))
    return [(e["Left node"], e["Right node"]) for e in entries if "Left node" in e and "Right node" in e]


def is_hidden(roles: dict):
    """True when a server's roles are hidden, False when enabled, None when it has neither."""
    statuses = set(roles.values())
    if "enabled" in statuses:
        return False
    if "hidden" in statuses:
        return True
    return None


def describe_servers(roles_by_server: dict) -> list:
    servers = []
    for name in sorted(roles_by_server):
        roles = roles_by_server[name]
        servers.append({
            "name": name,
            "hidden": bool(is_hidden(roles)),
            "roles": [role for role in BACKUP_ROLES if roles.get(role) in ACTIVE],
            "role_status": dict(sorted(roles.items())),
        })
    return servers


def roles_in_use(servers) -> list:
    used = set()
    for server in servers:
        used.update(server["roles"])
    return [role for role in BACKUP_ROLES if role in used]


def describe_lacks(servers, needed) -> str:
    """Each server's state and roles, and the roles in ``needed`` it lacks: "b (hidden; has CA; lacks KRA)"."""
    described = []
    for server in servers:
        lacking = [role for role in needed if role not in server["roles"]]
        described.append("%s (%s; has %s%s)" % (server["name"], "hidden" if server["hidden"] else "enabled",
                                                ", ".join(server["roles"]) or "no role",
                                                "; lacks %s" % ", ".join(lacking) if lacking else ""))
    return ", ".join(described)


def choose_backup_server(servers, prefer=None, select="none", roles=None) -> dict:
    """The server to back up: hidden holding every role in use, then any holding them all.

    Ties are broken by ``prefer`` (inventory order), then by name. ``select``:
    ``hidden`` fails unless a hidden server qualifies, ``any`` fails unless some
    server does, ``none`` only reports.
    """
    needed = list(roles) if roles is not None else roles_in_use(servers)
    order = {name: index for index, name in enumerate(prefer or [])}
    complete = [s for s in servers if set(needed) <= set(s["roles"])]
    complete.sort(key=lambda s: (not s["hidden"], order.get(s["name"], len(order)), s["name"]))
    chosen = complete[0] if complete else None
    choice = {"roles_in_use": needed, "candidates": [s["name"] for s in complete],
              "server": chosen["name"] if chosen else None, "hidden": bool(chosen and chosen["hidden"])}
    if chosen is None:
        choice["reason"] = "no server holds every role in use (%s)" % (", ".join(needed) or "none")
    elif chosen["hidden"]:
        choice["reason"] = "hidden server holding every role in use (%s)" % (", ".join(needed) or "none")
    else:
        choice["reason"] = ("no hidden server holds every role in use (%s); %s holds them all but serves clients"
                            % (", ".join(needed) or "none", chosen["name"]))
    if select == "hidden" and not (chosen and chosen["hidden"]):
        hidden = [s for s in servers if s["hidden"]]
        raise InvalidInput("no hidden replica holds every role in use (%s): servers are %s; %s"
                           % (", ".join(needed) or "none", describe_lacks(servers, needed) or "none",
                              "install the missing roles on a hidden replica and run again" if hidden else
                              "hide a replica that holds them all (drkit.backup.freeipa_server_state) and run again"))
    if select == "any" and chosen is None:
        raise InvalidInput("no IdM server holds every role in use (%s): servers are %s; a backup of any one of them "
                           "could not restore the deployment, so install the missing roles on one server and run again"
                           % (", ".join(needed) or "none", describe_lacks(servers, needed) or "none"))
    return choice


def reinitialize_plan(restored, servers, domain_segments, ca_segments) -> list:
    """Steps to re-initialise every other master from ``restored``, outward through the topology.

    Each step is {server, from, suffix, command}: run on ``server``, domain
    (ipa-replica-manage) before ca (ipa-csreplica-manage, CA masters only), a
    server only after the one it is re-initialised from, as ipa-restore(1) and
    the RHEL guide ask.
    """
    names = {s["name"] for s in servers}
    if restored not in names:
        raise InvalidInput("%s is not a server of this topology: give one of %s" % (restored, ", ".join(sorted(names))))

    domain_parent, domain_order = _bfs(restored, domain_segments)
    ca_parent, _ca_order = _bfs(restored, ca_segments)
    steps, done_ca = [], {restored}
    pending_ca = []
    for server in domain_order[1:]:
        steps.append(_step(server, domain_parent[server], "domain"))
        if server in ca_parent:
            pending_ca.append(server)
        progressed = True
        while progressed:
            progressed = False
            for candidate in list(pending_ca):
                if ca_parent[candidate] in done_ca:
                    steps.append(_step(candidate, ca_parent[candidate], "ca"))
                    done_ca.add(candidate)
                    pending_ca.remove(candidate)
                    progressed = True
    for candidate in pending_ca:  # CA masters not reachable through domain segments first
        steps.append(_step(candidate, ca_parent[candidate], "ca"))
    return steps


def _bfs(start, pairs):
    """({server: the server it is reached from}, servers in breadth-first order) over ``pairs``."""
    graph = {}
    for left, right in pairs:
        graph.setdefault(left, set()).add(right)
        graph.setdefault(right, set()).add(left)
    parents, queue, order = {start: None}, [start], []
    while queue:
        node = queue.pop(0)
        order.append(node)
        for peer in sorted(graph.get(node, ())):
            if peer not in parents:
                parents[peer] = node
                queue.append(peer)
    return parents, order


def _step(server, source, suffix):
    tool = "ipa-replica-manage" if suffix == "domain" else "ipa-csreplica-manage"
    return {"server": server, "from": source, "suffix": suffix,
            "command": "%s re-initialize --from=%s" % (tool, source)}


def topology(ccache=None, reinitialize_from=None) -> dict:
    """Servers, their roles and hidden state, segments, and (optionally) the re-initialisation plan."""
    servers = describe_servers(server_roles(ccache))
    domain = segments("domain", ccache)
    ca = segments("ca", ccache)
    result = {"servers": servers, "roles_in_use": roles_in_use(servers),
              "hidden_servers": [s["name"] for s in servers if s["hidden"]],
              "segments": {"domain": [{"left": left, "right": right} for left, right in domain],
                           "ca": [{"left": left, "right": right} for left, right in ca]}}
    if reinitialize_from:
        result["reinitialize"] = reinitialize_plan(reinitialize_from, servers, domain, ca)
    return result
