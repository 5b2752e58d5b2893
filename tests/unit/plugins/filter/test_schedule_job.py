# -*- coding: utf-8 -*-
"""What the schedule role installs for a job: its job file's steps, its calendar in systemd's and cron's forms."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.drkit.backup.plugins.filter.schedule_job import cron_form, schedule_job

SETTINGS = {"state_dir": "/var/lib/drkit", "retention": {"daily": 7, "weekly": 4}, "command": "/opt/drkit/bin/drkit-backup",
            "job_dir": "/etc/drkit/jobs", "log_dir": "/var/log/drkit"}
BACKUP = {"provider": "files", "provider_options": {"paths": ["/etc/app"]}, "dest": "/srv/backups"}


@pytest.mark.parametrize("calendar, cron", [
    ("daily", "0 0 * * *"), ("weekly", "0 0 * * 1"), ("*-*-* 02:30:00", "30 2 * * *"), ("*-*-* 2:05", "5 2 * * *"),
    ("Sun *-*-* 03:00:00", "0 3 * * 0"), ("Mon,Fri *-*-* 23:59", "59 23 * * 1,5"),
    ("*-*-01 02:00:00", None), ("Sun *-*-* 25:00", None), ("Funday *-*-* 03:00", None), ("*:0/15", None)])
def test_a_calendar_has_a_cron_form_only_where_it_says_the_same(calendar, cron):
    assert cron_form(calendar) == cron


def test_a_backup_job_backs_up_then_prunes_by_the_roles_gfs_retention():
    job = schedule_job({"name": "nightly", "calendar": "*-*-* 02:30:00", "randomized_delay": 600, "backup": BACKUP},
                       SETTINGS)
    assert job["file"] == {"schema_version": 1, "job": "nightly", "kind": "backup", "state_dir": "/var/lib/drkit",
                           "steps": [{"module": "backup", "args": dict(BACKUP, state_dir="/var/lib/drkit")},
                                     {"module": "backup_prune", "args": {"path": "/srv/backups", "keep_daily": 7,
                                                                         "keep_weekly": 4,
                                                                         "state_dir": "/var/lib/drkit"}}]}
    assert (job["unit"], job["job_file"], job["cron"]) == ("drkit-backup-nightly", "/etc/drkit/jobs/nightly.json",
                                                           "30 2 * * *")
    assert job["command"] == "/opt/drkit/bin/drkit-backup run /etc/drkit/jobs/nightly.json"
    assert job["cron_command"] == job["command"] + " --log /var/log/drkit/nightly.log --random-delay 600"
    assert job["description"] == "drkit.backup job nightly: backup (files) then prune"


def test_a_jobs_own_retention_replaces_the_roles_and_within_is_a_duration():
    job = schedule_job({"name": "tidy", "kind": "prune", "calendar": "hourly", "dest": "/srv/backups",
                        "retention": {"last": 3, "within": "2d"}}, SETTINGS)
    assert job["file"]["steps"] == [{"module": "backup_prune", "args": {"path": "/srv/backups", "keep_last": 3,
                                                                        "keep_within": "2d",
                                                                        "state_dir": "/var/lib/drkit"}}]
    # -1 keeps one per period without limit, as backup_prune takes it.
    forever = schedule_job({"name": "n", "kind": "prune", "calendar": "daily", "retention": {"yearly": -1}}, SETTINGS)
    assert forever["file"]["steps"][0]["args"]["keep_yearly"] == -1
    no_prune = schedule_job({"name": "n", "calendar": "daily", "backup": BACKUP, "retention": {}}, SETTINGS)
    assert [step["module"] for step in no_prune["file"]["steps"]] == ["backup"]


def test_a_drill_job_runs_a_playbook():
    job = schedule_job({"name": "weekly-drill", "kind": "drill", "calendar": "Sun *-*-* 04:00:00",
                        "playbook": "/srv/drkit/drill.yml", "inventory": "/srv/drkit/inventory"}, SETTINGS)
    assert job["file"]["steps"] == [{"playbook": "/srv/drkit/drill.yml", "inventory": "/srv/drkit/inventory"}]


def test_an_absent_job_needs_only_its_name():
    assert schedule_job({"name": "old", "state": "absent"}, SETTINGS) == {
        "name": "old", "state": "absent", "unit": "drkit-backup-old", "job_file": "/etc/drkit/jobs/old.json"}


@pytest.mark.parametrize("job, message", [
    ({"name": "a.b", "calendar": "daily", "backup": BACKUP}, "job a.b: name must be"),
    ({"name": "n", "backup": BACKUP}, "job n: calendar is required"),
    ({"name": "n", "calendar": "daily"}, "job n: a backup job needs backup"),
    ({"name": "n", "calendar": "daily", "backup": BACKUP, "retention": {"dailly": 7}},
     "job n: retention has dailly; it takes last, hourly"),
    ({"name": "n", "calendar": "daily", "backup": BACKUP, "retention": {"daily": "7"}},
     "job n: retention daily must be a whole number"),
    ({"name": "n", "calendar": "daily", "backup": BACKUP, "retention": {"yearly": -2}},
     "job n: retention yearly must be a whole number, 0 or more (or -1 for no limit), not -2"),
    ({"name": "n", "calendar": "daily", "kind": "prune", "retention": {}}, "job n: a prune job needs retention"),
    ({"name": "n", "calendar": "daily", "kind": "drill", "playbook": "drill.yml"}, "job n: a drill job runs a playbook"),
    ({"name": "n", "calendar": "daily", "backup": BACKUP, "oncalendar": "x"}, "job n: unknown field oncalendar"),
])
def test_a_wrong_job_is_refused_naming_the_job_and_the_field(job, message):
    with pytest.raises(AnsibleFilterError, match="drkit_backup_schedule_jobs, job ") as caught:
        schedule_job(job, SETTINGS)
    assert message in str(caught.value)


def test_a_path_cron_would_cut_is_refused():
    with pytest.raises(AnsibleFilterError, match="job n: cron reads % in a command as a new line"):
        schedule_job({"name": "n", "calendar": "daily", "backup": BACKUP}, dict(SETTINGS, log_dir="/var/log/50%"))
