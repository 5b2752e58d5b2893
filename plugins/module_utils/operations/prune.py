# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Removing the backups a retention policy does not keep (drkit.backup.backup_prune)."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_duration
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog, retention


def prune(root: str, policy: retention.Policy, state_dir=None, check_mode=False, lease_id=None) -> dict:
    """Removes the backups in ``root`` that ``policy`` does not keep (in check mode, lists them)."""
    kept, removed, never_pruned, groups = retention.plan(root, policy)
    state = StateDir(state_dir, lease_id)
    warnings = []
    if check_mode:
        state.check_free("pruning %s" % root)
    elif removed:
        with locked_operation(state, "prune", name=root) as operation:
            # Planned again under the lock: nothing changes between the decision and the removal.
            kept, removed, never_pruned, groups = retention.plan(root, policy)
            for _planned, entry in removed:
                catalog.remove(entry)
            warnings = operation.warnings
    result = {"changed": bool(removed), "kept": kept, "removed": [row for row, _entry in removed],
              "never_pruned": never_pruned, "groups": groups}
    if warnings:
        result["warnings"] = warnings
    return result


def prune_backups(path, keep_last=0, keep_hourly=0, keep_daily=0, keep_weekly=0, keep_monthly=0, keep_yearly=0,
                  keep_within=None, keep_failed=2, state_dir=None, check_mode=False, lease_id=None) -> dict:
    """Module result of drkit.backup.backup_prune: the policy from its options (``keep_within`` a duration)."""
    policy = retention.Policy(last=keep_last, hourly=keep_hourly, daily=keep_daily, weekly=keep_weekly,
                              monthly=keep_monthly, yearly=keep_yearly,
                              within=parse_duration(keep_within, "keep_within") if keep_within else 0,
                              failed=keep_failed)
    return prune(path, policy, state_dir=state_dir, check_mode=check_mode, lease_id=lease_id)
