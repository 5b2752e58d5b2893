# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IdM verbs of the drkit.backup.freeipa_* modules: read the topology, hide or enable a server,
re-initialise a server from another, list ipa-backup's own backups."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa import cli, topology
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa.native import native_backups


def list_native_backups(backup_dir) -> dict:
    """Module result of drkit.backup.freeipa_backup_info."""
    return {"changed": False, "backups": native_backups(backup_dir)}


def topology_info(ccache=None, select="none", prefer=None, roles=None, reinitialize_from=None) -> dict:
    """Module result of drkit.backup.freeipa_topology_info."""
    result = topology.topology(ccache, reinitialize_from)
    result["backup_server"] = topology.choose_backup_server(result["servers"], prefer=prefer, select=select, roles=roles)
    result["changed"] = False
    return result


def server_state(server, state, ccache=None, check_mode=False) -> dict:
    """Module result of drkit.backup.freeipa_server_state: hide a server or enable it (idempotent)."""
    if state not in ("hidden", "enabled"):
        raise InvalidInput("state must be hidden or enabled, not %r" % (state,))
    code, output = cli.ipa(["server-role-find", "--server=%s" % server, "--include-master"], ccache=ccache, check=False)
    roles = {cli.ROLE_NAMES.get(e.get("Role name"), e.get("Role name")): e.get("Role status")
             for e in cli.parse_entries(output) if e.get("Server name") == server}
    if code not in (0, 1) or not roles:
        raise cli.ToolError("server %s is not an IdM server of this topology (ipa server-role-find: %s): check the "
                            "name" % (server, cli.tail(output, 2)))
    before = "hidden" if topology.is_hidden(roles) else "enabled"
    result = {"server": server, "state": state, "previous_state": before, "roles": dict(sorted(roles.items())),
              "changed": before != state,
              "diff": {"before": "%s: %s\n" % (server, before), "after": "%s: %s\n" % (server, state)}}
    if before != state and not check_mode:
        code, output = cli.ipa(["server-state", server, "--state=%s" % state], ccache=ccache, check=False)
        if code != 0:
            raise cli.ToolError("ipa server-state %s --state=%s failed: %s" % (server, state, cli.tail(output, 2)))
    return result


def reinitialize(from_server, suffix, dm_password, timeout=3600, check_mode=False) -> dict:
    """Module result of drkit.backup.freeipa_reinitialize: re-initialise this server's suffix from another."""
    if suffix not in ("domain", "ca"):
        raise InvalidInput("suffix must be domain or ca, not %r" % (suffix,))
    tool = "ipa-replica-manage" if suffix == "domain" else "ipa-csreplica-manage"
    command = "%s re-initialize --from=%s" % (tool, from_server)
    result = {"changed": True, "command": command, "suffix": suffix, "from_server": from_server}
    if check_mode:
        result["msg"] = "would run %s (the Directory Manager password on its standard input)" % command
        return result
    # No -p: the tool prompts "Directory Manager password:" and reads the answer from standard input.
    code, output = cli.run([tool, "re-initialize", "--from=%s" % from_server], secret=dm_password,
                           stdin_text=dm_password + "\n", timeout=timeout)
    if code != 0 or "Update succeeded" not in output:
        raise cli.ToolError("%s failed (exit %d): %s" % (command, code, cli.tail(output, 3)))
    result["output"] = cli.tail(output, 6)
    return result
