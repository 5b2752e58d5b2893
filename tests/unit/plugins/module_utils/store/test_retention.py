# -*- coding: utf-8 -*-
"""Retention: restic's forget rules, UTC days and ISO weeks, groups, and what is never pruned."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import shutil

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time
from ansible_collections.drkit.backup.plugins.module_utils.operations import backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.prune import prune
from ansible_collections.drkit.backup.plugins.module_utils.store import retention

UTC = datetime.timezone.utc


def at(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def series(*times):
    return [retention.Backup(str(n), "b%02d" % n, at(t), "group") for n, t in enumerate(times)]


def kept(policy, backups):
    """{time: reasons} of the backups the policy keeps."""
    return {b.created.strftime("%Y-%m-%d %H:%M"): b.reasons for b in retention.decide(policy, backups) if b.reasons}


# --- the rules, on their own -----------------------------------------------------------

def test_keep_last():
    backups = series(*["2026-03-%02d 02:00" % day for day in range(1, 11)])
    assert sorted(kept(retention.Policy(last=3), backups)) == ["2026-03-08 02:00", "2026-03-09 02:00",
                                                               "2026-03-10 02:00"]
    assert kept(retention.Policy(last=3), backups)["2026-03-10 02:00"] == ["one of the last 3"]


def test_keep_daily_keeps_the_newest_of_each_day_and_skips_days_without_backups():
    backups = series("2026-03-01 01:00", "2026-03-01 23:00", "2026-03-02 08:00", "2026-03-05 08:00",
                     "2026-03-05 09:00", "2026-03-09 00:30")
    assert sorted(kept(retention.Policy(daily=3), backups)) == ["2026-03-02 08:00", "2026-03-05 09:00",
                                                                "2026-03-09 00:30"]
    assert kept(retention.Policy(daily=3), backups)["2026-03-05 09:00"] == ["newest of day 2026-03-05 (daily)"]


def test_days_are_utc_days():
    # 23:30 and 00:30 UTC are two days, whatever the local time zone says.
    backups = series("2026-03-01 23:30", "2026-03-02 00:30")
    assert len(kept(retention.Policy(daily=2), backups)) == 2
    assert list(kept(retention.Policy(daily=1), backups)) == ["2026-03-02 00:30"]


def test_weeks_are_iso_weeks_across_the_new_year():
    # Monday 2025-12-29 and Thursday 2026-01-01 are both in ISO week 2026-W01; Sunday 2025-12-28 is 2025-W52.
    backups = series("2025-12-28 12:00", "2025-12-29 12:00", "2026-01-01 12:00")
    result = kept(retention.Policy(weekly=2), backups)
    assert result == {"2026-01-01 12:00": ["newest of ISO week 2026-W01 (weekly)"],
                      "2025-12-28 12:00": ["newest of ISO week 2025-W52 (weekly)"]}


def test_hourly_monthly_yearly():
    backups = series("2024-06-01 10:00", "2025-01-15 10:00", "2025-12-31 10:00", "2026-02-01 10:10",
                     "2026-02-01 10:50", "2026-02-01 11:05")
    assert sorted(kept(retention.Policy(hourly=2), backups)) == ["2026-02-01 10:50", "2026-02-01 11:05"]
    assert sorted(kept(retention.Policy(monthly=3), backups)) == ["2025-01-15 10:00", "2025-12-31 10:00",
                                                                  "2026-02-01 11:05"]
    assert sorted(kept(retention.Policy(yearly=5), backups)) == ["2024-06-01 10:00", "2025-12-31 10:00",
                                                                 "2026-02-01 11:05"]


def test_keep_within_counts_from_the_newest_backup_not_from_now():
    backups = series("2020-01-01 00:00", "2020-01-02 00:00", "2020-01-02 11:59", "2020-01-03 00:00")
    result = kept(retention.Policy(within=36 * 3600), backups)
    assert sorted(result) == ["2020-01-02 00:00", "2020-01-02 11:59", "2020-01-03 00:00"]
    assert result["2020-01-02 00:00"] == ["within 36h of the newest (2020-01-03T00:00:00.000000Z)"]


def test_unlimited_counts():
    backups = series("2026-03-01 01:00", "2026-03-02 01:00", "2026-03-02 02:00", "2026-03-03 01:00")
    assert sorted(kept(retention.Policy(daily=-1), backups)) == ["2026-03-01 01:00", "2026-03-02 02:00",
                                                                 "2026-03-03 01:00"]
    assert len(kept(retention.Policy(last=-1), backups)) == 4


def test_rules_combine_and_each_gives_its_reason():
    backups = series("2026-01-10 02:00", "2026-02-10 02:00", "2026-03-09 02:00", "2026-03-10 02:00",
                     "2026-03-10 03:00")
    result = kept(retention.Policy(last=1, daily=2, monthly=2, yearly=1), backups)
    assert result["2026-03-10 03:00"] == ["one of the last 1", "newest of day 2026-03-10 (daily)",
                                          "newest of month 2026-03 (monthly)", "newest of year 2026 (yearly)"]
    assert result["2026-03-09 02:00"] == ["newest of day 2026-03-09 (daily)"]
    assert result["2026-02-10 02:00"] == ["newest of month 2026-02 (monthly)"]
    assert "2026-01-10 02:00" not in result and "2026-03-10 02:00" not in result


def test_a_bucket_counts_once_and_only_buckets_with_backups_count():
    # restic: the daily rule keeps the newest backup of the 2 newest days that have backups.
    backups = series(*["2026-03-10 %02d:00" % hour for hour in range(10)] + ["2026-02-01 00:00"])
    assert sorted(kept(retention.Policy(daily=2), backups)) == ["2026-02-01 00:00", "2026-03-10 09:00"]


# --- the oldest backup, when a count is left (restic 0.16+) -------------------------------

def test_keep_yearly_10_with_three_years_keeps_the_oldest_backup_too():
    # restic's "oldest yearly snapshot": 3 of 10 yearly counts are used when the oldest backup is reached, so it
    # stays (the history reaches back to the first backup) although 2024-12-01 is already 2024's newest.
    backups = series("2024-03-01 02:00", "2024-07-01 02:00", "2024-12-01 02:00", "2025-06-01 02:00",
                     "2025-12-01 02:00", "2026-01-05 02:00", "2026-02-01 02:00")
    assert kept(retention.Policy(yearly=10), backups) == {
        "2026-02-01 02:00": ["newest of year 2026 (yearly)"],
        "2025-12-01 02:00": ["newest of year 2025 (yearly)"],
        "2024-12-01 02:00": ["newest of year 2024 (yearly)"],
        "2024-03-01 02:00": ["oldest backup, kept because keep_yearly 10 was not used up (yearly)"]}


@pytest.mark.parametrize("rule, times", [
    ("hourly", ("2026-03-01 10:05", "2026-03-01 10:40", "2026-03-01 11:00")),
    ("daily", ("2026-03-01 01:00", "2026-03-01 02:00", "2026-03-02 01:00")),
    ("weekly", ("2026-03-02 01:00", "2026-03-04 01:00", "2026-03-09 01:00")),  # Monday, Wednesday of W10; W11
    ("monthly", ("2026-01-03 01:00", "2026-01-20 01:00", "2026-02-01 01:00")),
])
def test_each_bucket_rule_keeps_the_oldest_backup_while_its_count_is_not_used_up(rule, times):
    backups = series(*times)
    result = kept(retention.Policy(**{rule: 5}), backups)
    assert sorted(result) == [times[0], times[1], times[2]]
    assert result[times[0]] == ["oldest backup, kept because keep_%s 5 was not used up (%s)" % (rule, rule)]


def test_the_oldest_backup_goes_when_the_count_is_used_up():
    backups = series("2024-03-01 02:00", "2024-12-01 02:00", "2025-12-01 02:00", "2026-02-01 02:00")
    assert sorted(kept(retention.Policy(yearly=3), backups)) == ["2024-12-01 02:00", "2025-12-01 02:00",
                                                                 "2026-02-01 02:00"]


def test_an_unlimited_count_keeps_the_oldest_backup_too():
    backups = series("2026-03-01 01:00", "2026-03-01 02:00", "2026-03-02 01:00")
    result = kept(retention.Policy(monthly=-1, yearly=-1), backups)
    assert result["2026-03-01 01:00"] == ["oldest backup, kept because keep_monthly -1 has no limit (monthly)",
                                          "oldest backup, kept because keep_yearly -1 has no limit (yearly)"]
    assert "2026-03-01 02:00" not in result


def test_keep_last_and_keep_within_do_not_keep_the_oldest_backup():
    # keep_last gives each backup a bucket of its own and keep_within has no buckets: restic adds nothing there.
    backups = series("2026-03-01 01:00", "2026-03-02 01:00", "2026-03-03 01:00")
    assert sorted(kept(retention.Policy(last=2), backups)) == ["2026-03-02 01:00", "2026-03-03 01:00"]
    assert sorted(kept(retention.Policy(within=36 * 3600), backups)) == ["2026-03-02 01:00", "2026-03-03 01:00"]


def test_only_the_oldest_backup_of_the_group_is_kept_by_a_count_left():
    # An older backup in the same bucket as a newer one, but not the oldest of all, still goes.
    backups = series("2026-01-01 01:00", "2026-03-01 01:00", "2026-03-01 02:00", "2026-03-02 01:00")
    assert sorted(kept(retention.Policy(daily=10), backups)) == ["2026-01-01 01:00", "2026-03-01 02:00",
                                                                 "2026-03-02 01:00"]


RESTIC = json.loads((pathlib.Path(__file__).parent / "restic_forget_expectations.json").read_text())


def restic_match(reason):
    """One of drkit's reasons in the words of restic's KeepReason.Matches."""
    if reason.startswith("one of the last"):
        return "last snapshot"
    if reason.startswith("within "):
        return "within"
    rule = reason.rsplit("(", 1)[1].rstrip(")")
    return ("oldest %s snapshot" if reason.startswith("oldest backup") else "%s snapshot") % rule


@pytest.mark.parametrize("case", RESTIC["cases"], ids=[case["golden"] for case in RESTIC["cases"]])
def test_the_same_backups_and_reasons_as_restics_own_forget_tests(case):
    # restic's times are RFC 3339 with as many fractional digits as they need ("10:20:30Z", "10:20:30.1Z").
    snapshots = RESTIC["snapshots"]
    backups = [retention.Backup(str(n), "s%03d" % n, parse_time(t if "." in t else t.replace("Z", ".0Z")), "group")
               for n, t in enumerate(snapshots)]
    got = [[snapshots[int(b.id)], [restic_match(reason) for reason in b.reasons]]
           for b in retention.decide(retention.Policy(**case["policy"]), backups) if b.reasons]
    want = [[t, ["within" if match.startswith("within ") else match for match in matches]]
            for t, matches in case["keep"]]
    assert got == want


@pytest.mark.parametrize("bad", [dict(last=-2), dict(daily="3"), dict(weekly=True), dict(within=-5)])
def test_bad_counts_are_refused(bad):
    with pytest.raises(InvalidInput):
        retention.Policy(**bad)


def test_an_empty_policy_is_refused_rather_than_removing_everything():
    with pytest.raises(InvalidInput, match="give at least one of keep_last"):
        retention.Policy()


# --- on a real backup root --------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """Backups 'taken' at chosen times: the engine's clock, set by the test."""
    now = {"t": at("2026-03-01 00:00")}
    monkeypatch.setattr(backup, "utc_now", lambda: now["t"])
    return now


def take(keystore, root, clock, when, path, host=None):
    clock["t"] = at(when)
    return create_backup(keystore, "files", {"paths": [str(path)]}, dest=str(root),
                         source_host=host)["path"]


def names(rows):
    return sorted(os.path.basename(row["path"]) for row in rows)


def test_prune_groups_by_service_and_host_and_never_touches_another(tmp_path, keystore, data_tree, clock):
    root = tmp_path / "b"
    conf, empty = data_tree / "conf", data_tree / "empty"
    for day in (1, 2, 3):
        take(keystore, root, clock, "2026-03-%02d 02:00" % day, conf, host="idm1")
        take(keystore, root, clock, "2026-03-%02d 02:01" % day, empty, host="idm1")  # other provider options
        take(keystore, root, clock, "2026-03-%02d 02:02" % day, conf, host="idm2")  # other source host
    check = prune(str(root), retention.Policy(last=1), check_mode=True)
    assert check["changed"] and check["groups"] == 3 and len(check["removed"]) == 6 and len(check["kept"]) == 3
    assert len(os.listdir(str(root))) == 9  # check mode removed nothing
    done = prune(str(root), retention.Policy(last=1))
    assert names(done["removed"]) == names(check["removed"])
    assert names(done["kept"]) == sorted(os.listdir(str(root))) == [
        "files-full-2026-03-03-02-00-00", "files-full-2026-03-03-02-01-00", "files-full-2026-03-03-02-02-00"]
    assert len({row["group"] for row in done["kept"]}) == 3
    again = prune(str(root), retention.Policy(last=1))
    assert not again["changed"] and again["removed"] == []


def test_partials_captures_safety_copies_and_damaged_backups_are_never_pruned(tmp_path, keystore, data_tree, clock):
    root = tmp_path / "b"
    old = take(keystore, root, clock, "2026-03-01 02:00", data_tree / "conf")
    take(keystore, root, clock, "2026-03-02 02:00", data_tree / "conf")
    (root / ".files-full-2026-01-01-00-00-00.partial").mkdir()
    (root / ".files-full-2026-01-02-00-00-00.capture").mkdir()
    safety = take(keystore, root / ".safety", clock, "2026-01-03 02:00", data_tree / "conf")
    damaged = root / "files-full-2026-01-04-00-00-00"
    shutil.copytree(old, str(damaged))
    (damaged / "header.json").write_bytes(b"{}")
    result = prune(str(root), retention.Policy(last=1))
    assert names(result["removed"]) == ["files-full-2026-03-01-02-00-00"]
    assert sorted(row["name"] for row in result["never_pruned"]) == [
        "files-full-2026-01-01-00-00-00", "files-full-2026-01-02-00-00-00", "files-full-2026-01-04-00-00-00"]
    assert os.path.isdir(safety) and damaged.is_dir()
    assert (root / ".files-full-2026-01-01-00-00-00.partial").is_dir()


def test_copies_of_one_backup_share_its_fate(tmp_path, keystore, data_tree, clock):
    root = tmp_path / "b"
    old = take(keystore, root, clock, "2026-03-01 02:00", data_tree / "conf")
    new = take(keystore, root, clock, "2026-03-02 02:00", data_tree / "conf")
    gathered = root / "idm1.example.test"
    gathered.mkdir()
    for path in (old, new):
        pack_backup(path, str(gathered))
    result = prune(str(root), retention.Policy(last=1))
    assert sorted(os.path.relpath(row["path"], str(root)) for row in result["removed"]) == [
        "files-full-2026-03-01-02-00-00", "idm1.example.test/files-full-2026-03-01-02-00-00.drkit"]
    assert sorted(os.listdir(str(gathered))) == ["files-full-2026-03-02-02-00-00.drkit"]


def test_prune_of_a_missing_root_changes_nothing(tmp_path):
    result = prune(str(tmp_path / "nothing"), retention.Policy(last=1))
    assert not result["changed"] and result["kept"] == [] and result["groups"] == 0


def test_an_interrupted_removal_never_leaves_a_backup_looking_complete(tmp_path, keystore, data_tree, clock,
                                                                       monkeypatch):
    root = tmp_path / "b"
    old = take(keystore, root, clock, "2026-03-01 02:00", data_tree)
    take(keystore, root, clock, "2026-03-02 02:00", data_tree)

    def crash(path, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", crash)
    with pytest.raises(KeyboardInterrupt):
        prune(str(root), retention.Policy(last=1))
    monkeypatch.undo()
    listing = {b["name"]: b["status"] for b in backup_info(str(root))["backups"]}
    assert listing[os.path.basename(old)] == "incomplete"
