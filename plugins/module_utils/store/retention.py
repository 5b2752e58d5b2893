# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backups a retention policy keeps: the rules of restic's ``forget``.

Backups are grouped by product, source host, scope (and domain), type and
provider options, so that one service's backups never prune another's. Within
a group, newest first (by the header's creation time, the start of capture):

- ``keep_last n`` keeps the n newest backups;
- ``keep_hourly``, ``keep_daily``, ``keep_weekly``, ``keep_monthly`` and
  ``keep_yearly n`` keep the newest backup of each of the last n hours, UTC
  days, ISO weeks, months and years that have a backup (an hour, day... with
  no backup does not count);
- ``keep_within d`` keeps every backup created within d of the group's newest
  backup (not of now: a host whose backups stopped keeps its last ones);
- ``-1`` for a count keeps one per bucket without limit;
- the oldest backup of the group is kept too when a bucket rule (hourly ...
  yearly) has a count left when it reaches it, even though a newer backup
  already holds its bucket (restic 0.16 and later, "oldest yearly snapshot" in
  its reasons): with ``keep_yearly 10`` and backups of three years, the first
  backup of the first year stays, so the history kept is as long as the policy
  allows. ``keep_last`` gives every backup a bucket of its own and
  ``keep_within`` counts no buckets, so neither has this case.

A backup is kept when any rule keeps it, with the reason of each rule; the
others are removed. Copies of one backup (the same id, say in the root and in
``<root>/<host>/``) share its fate. Never pruned: incomplete backups
(partials, captures), backups whose header cannot be read, and anything
under a directory whose name starts with a dot (``.safety/``).

A backup that failed verification (catalog.py) never counts for a rule: the
newest ``keep_failed`` of them in a group are kept for inspection, older ones
removed; and the newest backup of a group that did not fail is always kept,
whatever the rules say.
"""

from __future__ import annotations

import datetime
import hashlib

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time, rfc3339
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.store import catalog

UNLIMITED = -1

# rule name, the bucket a moment falls in, how a bucket reads in a reason
_BUCKETS = (
    ("hourly", lambda t: t.strftime("%Y-%m-%d %H:00"), "hour"),
    ("daily", lambda t: t.strftime("%Y-%m-%d"), "day"),
    ("weekly", lambda t: "%04d-W%02d" % t.isocalendar()[:2], "ISO week"),
    ("monthly", lambda t: t.strftime("%Y-%m"), "month"),
    ("yearly", lambda t: t.strftime("%Y"), "year"),
)
RULES = ("last",) + tuple(rule for rule, _bucket, _label in _BUCKETS)


class Policy:
    """How many backups to keep by each rule, and a duration (seconds) to keep all of."""

    def __init__(self, last=0, hourly=0, daily=0, weekly=0, monthly=0, yearly=0, within=0, failed=2):
        self.counts = {"last": last, "hourly": hourly, "daily": daily, "weekly": weekly, "monthly": monthly,
                       "yearly": yearly}
        for rule, count in self.counts.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < UNLIMITED:
                raise InvalidInput("keep_%s must be a whole number, 0 or more (or -1 for no limit), not %r"
                                   % (rule, count))
        if not isinstance(within, int) or within < 0:
            raise InvalidInput("keep_within must be a duration, not %r" % (within,))
        self.within = within
        if not isinstance(failed, int) or isinstance(failed, bool) or failed < 0:
            raise InvalidInput("keep_failed must be a whole number, 0 or more, not %r" % (failed,))
        self.failed = failed
        if self.empty:
            raise InvalidInput("give at least one of keep_last, keep_hourly, keep_daily, keep_weekly, "
                               "keep_monthly, keep_yearly or keep_within: with no rule every backup would go")

    @property
    def empty(self) -> bool:
        return not self.within and not any(self.counts.values())


class Backup:
    """One backup in a group: its creation time and every copy (entry) of it."""

    def __init__(self, backup_id, name, created, group):
        self.id = backup_id
        self.name = name
        self.created = created
        self.group = group
        self.entries = []
        self.failed = False  # any copy of it failed verification
        self.reasons = []


def _duration(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def decide(policy: Policy, backups) -> list:
    """Sets ``reasons`` on each of ``backups`` (one group) that the policy keeps; returns them newest first."""
    ordered = sorted(backups, key=lambda b: (b.created, b.name), reverse=True)
    left = dict(policy.counts)
    last_bucket = {}
    newest = ordered[0].created if ordered else None
    for index, backup in enumerate(ordered):
        backup.reasons = []
        if left["last"]:
            backup.reasons.append("one of the last %s" % (policy.counts["last"] if policy.counts["last"] > 0
                                                          else "(keep_last -1: all)"))
            left["last"] -= 1 if left["last"] > 0 else 0
        for rule, bucket_of, label in _BUCKETS:
            if not left[rule]:
                continue
            bucket = bucket_of(backup.created)
            if last_bucket.get(rule) != bucket:
                backup.reasons.append("newest of %s %s (%s)" % (label, bucket, rule))
            elif index == len(ordered) - 1:
                # restic's ApplyPolicy (0.16+): a count not used up keeps the oldest backup as well, so the
                # history reaches back as far as the policy allows.
                backup.reasons.append("oldest backup, kept because keep_%s %s (%s)" % (
                    rule, "%d was not used up" % policy.counts[rule] if left[rule] > 0 else "-1 has no limit", rule))
            else:
                continue
            last_bucket[rule] = bucket
            left[rule] -= 1 if left[rule] > 0 else 0
        if policy.within and backup.created > newest - datetime.timedelta(seconds=policy.within):
            backup.reasons.append("within %s of the newest (%s)" % (_duration(policy.within), rfc3339(newest)))
    return ordered


def group_key(manifest: dict) -> tuple:
    """What makes two backups the same series: product, source host, scope, domain, type, provider options."""
    return (manifest.get("product"), manifest.get("sourceHost"), manifest.get("scope"), manifest.get("domain"),
            manifest.get("type"), canonjson.dumps({"provider": manifest.get("provider")}))


def group_label(key: tuple) -> str:
    product, host, scope, domain, backup_type, options = key
    return "%s %s backups of %s (%s%s, options %s)" % (
        product, backup_type, host, scope, " %s" % domain if domain else "", hashlib.sha256(options).hexdigest()[:8])


def _row(entry, backup=None, reason=None) -> dict:
    row = {"name": entry.name, "path": entry.path}
    if backup is not None:
        row.update(created_at=rfc3339(backup.created), group=group_label(backup.group))
        if backup.reasons:
            row["reasons"] = list(backup.reasons)
    if reason:
        row["reason"] = reason
    return row


def _decide_group(policy, backups) -> list:
    """The rules over the backups that did not fail verification; the newest of them is always kept, and of those
    that failed, the newest ``policy.failed`` (for inspection), never counted by a rule."""
    good = decide(policy, [backup for backup in backups if not backup.failed])
    if good and not good[0].reasons:
        good[0].reasons.append("newest backup of its group that did not fail verification: always kept")
    failed = sorted((backup for backup in backups if backup.failed), key=lambda b: (b.created, b.name), reverse=True)
    for index, backup in enumerate(failed):
        backup.reasons = ["failed verification: kept for inspection (keep_failed %d)" % policy.failed] \
            if index < policy.failed else []
    return sorted(good + failed, key=lambda b: (b.created, b.name), reverse=True)


def plan(root: str, policy: Policy):
    """(kept rows, removed rows with their entries, never-pruned rows, group count) for the backups in ``root``."""
    groups, never_pruned = {}, []
    by_id = {}
    for entry in catalog.list_root(root):
        if entry.status != catalog.COMPLETE:
            never_pruned.append(_row(entry, reason="incomplete (%s): never pruned" % entry.form))
            continue
        try:
            manifest = open_backup(entry.path).header().manifest
            created = parse_time(manifest["createdAt"])
        except (DrkitError, ValueError) as exc:
            never_pruned.append(_row(entry, reason="its header cannot be read, so it is never pruned: %s" % exc))
            continue
        backup = by_id.get(manifest["id"])
        if backup is None:
            key = group_key(manifest)
            backup = by_id[manifest["id"]] = Backup(manifest["id"], manifest["name"], created, key)
            groups.setdefault(key, []).append(backup)
        backup.entries.append(entry)
        backup.failed = backup.failed or entry.failed_verification() is not None
    kept, removed = [], []
    for key in sorted(groups, key=lambda k: tuple(str(v) for v in k)):
        for backup in _decide_group(policy, groups[key]):
            for entry in backup.entries:
                if backup.reasons:
                    kept.append(_row(entry, backup))
                    continue
                # No rule keeps it: a pin does while a reader holds it (a drill, a copy); it counts for no rule.
                pinned = entry.pinned_by()
                if pinned:
                    kept.append(dict(_row(entry, backup), reasons=["%s: never pruned while pinned" % pinned]))
                else:
                    removed.append((_row(entry, backup), entry))
    return kept, removed, never_pruned, len(groups)
