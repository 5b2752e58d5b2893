#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_prune
short_description: Remove the backups a retention policy does not keep
version_added: 0.1.0
description:
  - Applies a retention policy to the backups in a backup root (and to the copies gathered in
    C(<root>/<source host>/)), with the rules of C(restic forget), and removes the backups no rule keeps.
  - Backups are grouped by product, source host, scope (and domain), type and provider options, and each group
    is decided on its own, so one service's backups never prune another's.
  - Within a group, newest first by creation time (the start of the capture, UTC), O(keep_last) keeps the
    newest backups; O(keep_hourly), O(keep_daily), O(keep_weekly), O(keep_monthly) and O(keep_yearly) keep the
    newest backup of each of that many most recent hours, UTC days, ISO weeks, months and years that have a
    backup; O(keep_within) keeps every backup created within that long of the group's newest backup. A backup
    kept by any rule is kept, and RV(kept) says by which.
  - As C(restic forget) does since restic 0.16, the oldest backup of a group is kept too when one of
    O(keep_hourly), O(keep_daily), O(keep_weekly), O(keep_monthly) or O(keep_yearly) has a count left when it is
    reached, although a newer backup already stands for its hour, day, week, month or year; with
    O(keep_yearly=10) and three years of backups, the first backup of the first year stays. RV(kept) gives its
    reason as, for example, C(oldest backup, kept because keep_yearly 10 was not used up (yearly)). O(keep_last)
    and O(keep_within) do not add it. Older restic releases (such as the 0.14 of Debian 12) remove that backup.
  - Never removed - incomplete backups (interrupted runs, captures waiting to be sealed), backups whose
    header cannot be read, and everything in directories whose names start with a dot, such as the safety
    copies a restore keeps in C(.safety/). A backup pinned by M(drkit.backup.backup_pin) (a drill or a copy reading
    it) is kept while the pin lasts, with the pin's holder, purpose and expiry as its reason in RV(kept); it
    counts for no rule.
  - A backup directory loses its C(header.json) first, so an interrupted removal never leaves it looking
    complete.
options:
  path:
    description: The backup root.
    type: path
    default: /var/lib/drkit/backups
  keep_last:
    description: Keep the newest this many backups of each group.
    type: int
    default: 0
  keep_hourly:
    description: Keep the newest backup of each of the last this many hours that have one; V(-1) for every hour.
    type: int
    default: 0
  keep_daily:
    description: Keep the newest backup of each of the last this many UTC days that have one; V(-1) for every day.
    type: int
    default: 0
  keep_weekly:
    description: Keep the newest backup of each of the last this many ISO weeks that have one; V(-1) for every week.
    type: int
    default: 0
  keep_monthly:
    description: Keep the newest backup of each of the last this many months that have one; V(-1) for every month.
    type: int
    default: 0
  keep_yearly:
    description: Keep the newest backup of each of the last this many years that have one; V(-1) for every year.
    type: int
    default: 0
  keep_within:
    description:
      - Keep every backup created within this long of the newest backup of its group (not of now, so a host
        whose backups stopped keeps its last ones). Seconds, or a number with C(s), C(m), C(h), C(d) or C(w),
        for example V(36h) or V(14d).
    type: str
  keep_failed:
    description:
      - A backup that failed verification (recorded by M(drkit.backup.backup_verify)) never counts for a rule; the
        newest O(keep_failed) of them in each group are kept for inspection and older ones are removed.
      - Whatever the rules, the newest backup of each group that did not fail verification is always kept.
    type: int
    default: 2
notes:
  - At least one rule must be given; with none, the module fails rather than remove every backup.
  - The policy is decided again under the host's lock just before anything is removed.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details: Check mode returns what would be removed and kept, and removes nothing.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
  - module: drkit.backup.backup_info
  - name: restic forget
    description: The retention rules this module follows.
    link: https://restic.readthedocs.io/en/stable/060_forget.html
"""

EXAMPLES = r"""
- name: Keep 7 daily, 4 weekly and 12 monthly backups, and everything from the last 36 hours
  drkit.backup.backup_prune:
    path: /var/lib/drkit/backups
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 12
    keep_within: 36h

- name: See what a tighter policy would remove
  drkit.backup.backup_prune:
    keep_last: 3
  check_mode: true
  register: preview

- name: Show it
  ansible.builtin.debug:
    msg: "{{ preview.removed | map(attribute='name') | list }}"
"""

RETURN = r"""
kept:
  description: The backups kept, newest first within each group, with the rules that keep each.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The backup's name.
      type: str
    path:
      description: Where it is.
      type: str
    created_at:
      description: Its creation time (UTC, RFC 3339).
      type: str
    group:
      description: The group it belongs to (product, type, source host, scope, and a digest of the provider options).
      type: str
    reasons:
      description: Why it is kept, one entry per rule that keeps it.
      type: list
      elements: str
  sample:
    - name: files-full-2026-11-23-02-00-00
      path: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
      created_at: "2026-11-23T02:00:00.312004Z"
      group: files full backups of idm1.example.test (system, options 6f1c2a9e)
      reasons: ["newest of day 2026-11-23 (daily)", "newest of ISO week 2026-W48 (weekly)",
                "within 36h of the newest (2026-11-23T02:00:00.312004Z)"]
    - name: files-full-2024-03-01-02-00-00
      path: /var/lib/drkit/backups/files-full-2024-03-01-02-00-00
      created_at: "2024-03-01T02:00:00.201877Z"
      group: files full backups of idm1.example.test (system, options 6f1c2a9e)
      reasons: ["oldest backup, kept because keep_yearly 10 was not used up (yearly)"]
removed:
  description: The backups removed (in check mode, that would be removed), with C(name), C(path), C(created_at) and C(group).
  returned: success
  type: list
  elements: dict
  sample:
    - name: files-full-2026-11-01-02-00-00
      path: /var/lib/drkit/backups/files-full-2026-11-01-02-00-00
      created_at: "2026-11-01T02:00:00.104566Z"
      group: files full backups of idm1.example.test (system, options 6f1c2a9e)
never_pruned:
  description:
    - What was left alone because it is never pruned (incomplete, or a header that cannot be read), with C(reason).
  returned: success
  type: list
  elements: dict
  sample:
    - name: files-full-2026-11-23-03-00-00
      path: /var/lib/drkit/backups/.files-full-2026-11-23-03-00-00.partial
      reason: "incomplete (directory): never pruned"
groups:
  description: How many groups of backups were found.
  returned: success
  type: int
  sample: 2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import prune
from ansible_collections.drkit.backup.plugins.module_utils.store.catalog import DEFAULT_ROOT

RULES = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")


def main():
    argument_spec = dict(path=dict(type="path", default=DEFAULT_ROOT), keep_within=dict(type="str"),
                         keep_failed=dict(type="int", default=2))
    argument_spec.update({rule: dict(type="int", default=0) for rule in RULES})
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, prune.prune_backups, path=params["path"], keep_within=params["keep_within"],
                keep_failed=params["keep_failed"],
                state_dir=params["state_dir"], lease_id=params["lease_id"], check_mode=module.check_mode,
                **{rule: params[rule] for rule in RULES})


if __name__ == "__main__":
    main()
