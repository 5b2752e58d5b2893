# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: schedule_job
short_description: What the drkit.backup.schedule role installs for one job
version_added: 0.1.0
description:
  - Checks one entry of C(drkit_backup_schedule_jobs) and returns the job file that C(drkit-backup) runs, the
    calendar in systemd's and in cron's form, and the commands the timer and the cron entry run.
  - GFS retention (C(hourly), C(daily), C(weekly), C(monthly), C(yearly), C(last), C(within)) becomes a
    M(drkit.backup.backup_prune) step after the backup, or the only step of a V(prune) job.
  - A wrong or missing field fails with a message naming the job and the field.
options:
  _input:
    description: The job (see the role's argument spec, C(drkit_backup_schedule_jobs)).
    type: dict
    required: true
  settings:
    description: The role's settings, C(state_dir), C(retention), C(command), C(job_dir) and C(log_dir).
    type: dict
    required: true
author:
  - drkit.backup maintainers (@drkit)
"""

EXAMPLES = r"""
- name: Show the job file of a nightly backup
  ansible.builtin.debug:
    msg: "{{ (job | drkit.backup.schedule_job(settings)).file }}"
  vars:
    job: {name: nightly, calendar: "*-*-* 02:30:00", backup: {provider: files, provider_options: {paths: [/etc]}}}
    settings: {state_dir: /var/lib/drkit, retention: {daily: 7}, command: /opt/drkit/bin/drkit-backup,
               job_dir: /etc/drkit/jobs, log_dir: /var/log/drkit}
"""

RETURN = r"""
_value:
  description: What the role installs for the job.
  type: dict
  contains:
    name:
      description: The job's name.
      type: str
    state:
      description: V(present) or V(absent).
      type: str
    unit:
      description: The name of its systemd units and of its cron file (C(drkit-backup-<name>)).
      type: str
    file:
      description: The job file (schema 1), with the job's secrets.
      type: dict
    job_file:
      description: Where the job file goes.
      type: str
    calendar:
      description: systemd's C(OnCalendar).
      type: str
    cron:
      description: The five fields of its cron entry, or null when the calendar has no cron form and C(cron) was
        not given.
      type: str
    randomized_delay:
      description: Seconds of random delay before each run.
      type: int
    description:
      description: A sentence that says what the job does.
      type: str
    command:
      description: What the timer runs.
      type: str
    cron_command:
      description: What the cron entry runs (its output to a log file in C(log_dir), its random delay its own).
      type: str
"""

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.drkit.backup.plugins.module_utils.scheduled import JOB_NAME, SCHEMA_VERSION
from ansible_collections.drkit.backup.plugins.module_utils.store.catalog import DEFAULT_ROOT
from ansible_collections.drkit.backup.plugins.module_utils.store.retention import RULES, UNLIMITED

KINDS = ("backup", "prune", "drill")
FIELDS = ("name", "state", "kind", "calendar", "cron", "randomized_delay", "backup", "retention", "dest",
          "playbook", "inventory", "ansible_playbook")
RETENTION = RULES + ("within",)  # backup_prune's keep_<rule>
SHORTHANDS = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 1", "monthly": "0 0 1 * *",
              "yearly": "0 0 1 1 *"}
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
# [Weekday[,Weekday...] ]*-*-* HH:MM[:00], the calendars that have a cron form besides the shorthands.
SIMPLE_CALENDAR = re.compile(r"^(?:(?P<days>[A-Z][a-z]{2}(?:,[A-Z][a-z]{2})*) )?\*-\*-\* "
                             r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::00)?$")


def _fail(job, message):
    raise AnsibleFilterError("drkit_backup_schedule_jobs, job %s: %s" % (job.get("name", "(no name)"), message))


def cron_form(calendar: str):
    """The five cron fields of a systemd calendar, or None when it has no simple cron form."""
    if calendar in SHORTHANDS:
        return SHORTHANDS[calendar]
    match = SIMPLE_CALENDAR.match(calendar)
    if not match or int(match["hour"]) > 23 or int(match["minute"]) > 59:
        return None
    days = "*"
    if match["days"]:
        if any(day not in WEEKDAYS for day in match["days"].split(",")):
            return None
        days = ",".join(str(WEEKDAYS.index(day)) for day in match["days"].split(","))
    return "%d %d * * %s" % (int(match["minute"]), int(match["hour"]), days)


def _prune_args(job, retention, dest, state_dir) -> dict:
    unknown = sorted(set(retention) - set(RETENTION))
    if unknown:
        _fail(job, "retention has %s; it takes %s" % (", ".join(unknown), ", ".join(RETENTION)))
    args = {"path": dest, "state_dir": state_dir}
    for rule, value in retention.items():
        if rule == "within":
            args["keep_within"] = str(value)
        elif not isinstance(value, int) or isinstance(value, bool) or value < UNLIMITED:
            _fail(job, "retention %s must be a whole number, 0 or more (or -1 for no limit), not %r" % (rule, value))
        else:
            args["keep_" + rule] = value
    return args


def _steps(job, kind, settings) -> list:
    state_dir = settings["state_dir"]
    retention = job.get("retention", settings.get("retention") or {})
    if not isinstance(retention, dict):
        _fail(job, "retention is a dict such as {daily: 7, weekly: 4}")
    if kind == "drill":
        if not isinstance(job.get("playbook"), str) or not job["playbook"].startswith("/"):
            _fail(job, "a drill job runs a playbook on this controller: give playbook (an absolute path) and "
                       "inventory")
        step = {"playbook": job["playbook"]}
        for field in ("inventory", "ansible_playbook"):
            if job.get(field):
                step[field] = job[field]
        return [step]
    steps = []
    backup = job.get("backup")
    if kind == "backup":
        if not isinstance(backup, dict) or not backup.get("provider"):
            _fail(job, "a backup job needs backup, the options of drkit.backup.backup, with provider")
        steps.append({"module": "backup", "args": dict(backup, state_dir=state_dir)})
    dest = job.get("dest") or (backup or {}).get("dest") or DEFAULT_ROOT
    if retention:
        steps.append({"module": "backup_prune", "args": _prune_args(job, retention, dest, state_dir)})
    elif kind == "prune":
        _fail(job, "a prune job needs retention (here or in drkit_backup_schedule_retention)")
    return steps


def schedule_job(job, settings):
    if not isinstance(job, dict):
        raise AnsibleFilterError("drkit_backup_schedule_jobs: each job is a dict, not %r" % (job,))
    unknown = sorted(set(job) - set(FIELDS))
    if unknown:
        _fail(job, "unknown field %s; a job has %s" % (", ".join(unknown), ", ".join(FIELDS)))
    name = job.get("name")
    if not isinstance(name, str) or not JOB_NAME.match(name):
        _fail(job, "name must be up to 64 letters, digits, '_' and '-'")
    state = job.get("state", "present")
    kind = job.get("kind", "backup")
    if state not in ("present", "absent"):
        _fail(job, "state is present or absent")
    if kind not in KINDS:
        _fail(job, "kind is one of %s" % ", ".join(KINDS))
    unit = "drkit-backup-" + name
    job_file = "%s/%s.json" % (settings["job_dir"], name)
    answer = {"name": name, "state": state, "unit": unit, "job_file": job_file}
    if state == "absent":
        return answer
    calendar = job.get("calendar")
    if not isinstance(calendar, str) or not calendar.strip():
        _fail(job, "calendar is required: systemd's OnCalendar (daily, weekly, '*-*-* 02:30:00', "
                   "'Sun *-*-* 03:00:00')")
    delay = job.get("randomized_delay", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        _fail(job, "randomized_delay is a number of seconds")
    steps = _steps(job, kind, settings)
    command = "%s run %s" % (settings["command"], job_file)
    log_file = "%s/%s.log" % (settings["log_dir"], name)
    what = " then ".join(
        "backup (%s)" % step["args"]["provider"] if step.get("module") == "backup"
        else "prune" if step.get("module") == "backup_prune" else "playbook %s" % step["playbook"]
        for step in steps)
    answer.update(
        file={"schema_version": SCHEMA_VERSION, "job": name, "kind": kind, "state_dir": settings["state_dir"],
              "steps": steps},
        calendar=calendar, cron=job.get("cron") or cron_form(calendar), randomized_delay=delay,
        description="drkit.backup job %s: %s" % (name, what), command=command,
        cron_command="%s --log %s%s" % (command, log_file, " --random-delay %d" % delay if delay else ""))
    if "%" in answer["cron_command"]:
        _fail(job, "cron reads % in a command as a new line: no path of the job may hold one")
    return answer


class FilterModule:
    def filters(self):
        return {"schedule_job": schedule_job}
