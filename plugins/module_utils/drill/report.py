# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A drill's three reports: one JSON document (schema 1), JUnit XML and a self-contained HTML page.

The input is one entry per backup group ("service"), as the drkit.backup.drill role gathers them:
``{group, host, rpo, rto, error, drill}`` where ``drill`` is drkit.backup.backup_drill's result. A service
passes exactly when it has no error, every check passed, its backup is no older than its RPO, and it was
healthy within its RTO. Everything here is pure: operations/drill_report.py writes the files.
"""

from __future__ import annotations

import html
import json
import re
import socket
from xml.sax.saxutils import quoteattr

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import (
    parse_duration, parse_time, rfc3339, utc_now)

SCHEMA_VERSION = 1
KIND = "drkit.backup.drill"


def build(services, title="Disaster-recovery drill", now=None) -> dict:
    """The JSON document (schema 1) of a drill of ``services``; failed services first."""
    if not isinstance(services, list) or not services:
        raise InvalidInput("a drill report needs at least one service (a backup group), none was given")
    rows = [_service(service, index) for index, service in enumerate(services)]
    rows.sort(key=lambda row: row["passed"])  # stable: failed first, each in the order given
    failures = [failure for row in rows for failure in row["failures"]]
    passed = sum(1 for row in rows if row["passed"])
    return {"schema_version": SCHEMA_VERSION, "kind": KIND, "title": title,
            "generated_at": rfc3339(now or utc_now()), "passed": not failures,
            "counts": {"services": len(rows), "passed": passed, "failed": len(rows) - passed},
            "services": rows, "failures": failures}


def _service(service, index) -> dict:
    if not isinstance(service, dict) or not str(service.get("group") or "").strip():
        raise InvalidInput("service %d of the drill has no group: %r" % (index + 1, service))
    group, host = str(service["group"]).strip(), str(service.get("host") or "")
    rpo = parse_duration(service.get("rpo"), "the RPO of %s" % group)
    rto = parse_duration(service.get("rto"), "the RTO of %s" % group)
    drill = service.get("drill") or {}
    if not isinstance(drill, dict):
        raise InvalidInput("the drill of %s is not the result of drkit.backup.backup_drill: %r" % (group, drill))
    error = service.get("error") or (None if drill else "the drill did not run")
    backup = drill.get("backup")
    created, started = (_time(drill, key, group) for key in ("created", "started_at"))
    age = round((started - created).total_seconds(), 3) if created and started else None
    healthy = _number(drill, "healthy_seconds", group)
    checks = [_check(check, group) for check in drill.get("checks") or []]
    who = "%s (%s%s)" % (group, host, ", backup %s" % backup if backup else "")
    failures = []
    if error:
        failures.append("%s: could not be drilled: %s" % (who, error))
    elif not checks:
        failures.append("%s: no check ran, so nothing shows that the backup restores" % who)
    for check in checks:
        if not check.get("passed"):
            failures.append("%s: check %s failed: %s" % (who, check["name"], check.get("message") or "no reason given"))
    rpo_ok = age is not None and age <= rpo
    if age is not None and not rpo_ok:
        failures.append("%s: missed its RPO: the newest verified backup is %s old, the RPO is %s"
                        % (who, duration(age), duration(rpo)))
    elif age is None and not error:
        # Never a pass by default: without the backup's time nothing shows the RPO was met.
        failures.append("%s: missed its RPO: the backup's age is unknown (the drill result has no created or "
                        "started_at)" % who)
    rto_ok = healthy is not None and healthy <= rto
    if healthy is not None and not rto_ok:
        failures.append("%s: missed its RTO: healthy after %s, the RTO is %s" % (who, duration(healthy), duration(rto)))
    elif healthy is None and not error and all(check.get("passed") for check in checks):
        failures.append("%s: missed its RTO: it never became healthy" % who)
    return {"group": group, "host": host, "provider": drill.get("provider"), "backup": backup,
            "created": drill.get("created"), "size": _number(drill, "size", group),
            "started_at": drill.get("started_at"), "passed": not failures,
            "rpo": {"target_seconds": rpo, "age_seconds": age, "passed": rpo_ok},
            "rto": {"target_seconds": rto, "restore_seconds": _number(drill, "restore_seconds", group),
                    "healthy_seconds": healthy, "passed": rto_ok},
            "checks": checks, "error": error, "failures": failures}


def _time(drill, key, group):
    if not drill.get(key):
        return None
    try:
        return parse_time(str(drill[key]))
    except ValueError:
        raise InvalidInput("the drill of %s has %s %r, not an RFC 3339 UTC time such as 2026-12-03T10:00:00.000000Z"
                           % (group, key, drill[key]))


def _number(record, key, group):
    value = record.get(key)
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0):
        return value
    raise InvalidInput("the drill of %s has %s %r, not a number (or null)" % (group, key, value))


def _check(check, group):
    if not isinstance(check, dict) or not str(check.get("name") or "").strip():
        raise InvalidInput("a check in the drill of %s has no name: %r" % (group, check))
    _number(check, "seconds", group)
    return check


def duration(seconds) -> str:
    """``30h 2m``, ``15m``, ``3.2s``, ``9d 4h``: what a person on call reads (hours up to four days, as RPOs are given)."""
    seconds = float(seconds)
    if seconds < 60:
        return ("%.1fs" % seconds).replace(".0s", "s")
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400) if whole >= 4 * 86400 else (0, whole)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [("%dd" % days) if days else "", ("%dh" % hours) if hours else "", ("%dm" % minutes) if minutes else "",
             ("%ds" % secs) if secs and not days else ""]
    return " ".join(part for part in parts if part)


def stats(report) -> dict:
    """What the role publishes with set_stats (DESIGN decision 32): the drills, by group."""
    return {"schema_version": SCHEMA_VERSION, "drills": {row["group"]: {
        "passed": row["passed"], "host": row["host"], "backup": row["backup"], "age_seconds": row["rpo"]["age_seconds"],
        "healthy_seconds": row["rto"]["healthy_seconds"], "failures": row["failures"]} for row in report["services"]}}


def to_json(report) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


# --- JUnit XML (the Apache Ant schema, tests/fixtures/junit/JUnit.xsd) ----------------------------------------

def to_junit(report) -> str:
    """One testsuite per service, one testcase per check plus ``rpo`` and ``rto``; a failure on each failed one."""
    hostname = socket.gethostname() or "localhost"
    suites = []
    for number, row in enumerate(report["services"]):
        cases = _cases(row)
        failed = sum(1 for case in cases if case[3] is not None)
        took = sum(case[2] for case in cases)
        # The schema's timestamp has no zone (all drkit times are UTC): when this service's drill started.
        stamp = (row["started_at"] or report["generated_at"])[:19]
        body = "".join(
            '    <testcase name=%s classname=%s time="%.3f">%s</testcase>\n'
            % (_attr(name), _attr("%s.%s" % (row["group"], row["host"] or "none")), seconds,
               "" if message is None else "<failure message=%s type=%s>%s</failure>"
               % (_attr(message), _attr(kind), html.escape(_xml(message), quote=False)))
            for name, kind, seconds, message in cases)
        suites.append('  <testsuite name=%s package="drkit.drill" id="%d" timestamp="%s" hostname=%s tests="%d" '
                      'failures="%d" errors="0" time="%.3f">\n    <properties>\n'
                      '      <property name="backup" value=%s/>\n    </properties>\n%s'
                      '    <system-out></system-out>\n    <system-err></system-err>\n  </testsuite>\n'
                      % (_attr(row["group"]), number, stamp, _attr(hostname), len(cases), failed, took,
                         _attr(row["backup"] or ""), body))
    return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n%s</testsuites>\n' % "".join(suites)


# Characters XML 1.0 cannot carry at all, not even escaped (a command's colour codes, a NUL in its output).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _attr(text) -> str:
    return quoteattr(_xml(text))


def _cases(row) -> list:
    """(name, kind, seconds, failure message or None) of each test case of a service."""
    if row["error"]:
        return [("drill", "drill", 0.0, row["failures"][0])]
    cases = [(check["name"], check.get("kind") or "check", float(check.get("seconds") or 0),
              None if check.get("passed") else str(check.get("message") or "no reason given"))
             for check in row["checks"]]
    if not cases:
        cases.append(("drill", "drill", 0.0, _only(row, "no check ran")))
    rpo, rto = row["rpo"], row["rto"]
    cases.append(("rpo", "rpo", 0.0, None if rpo["passed"] else _only(row, "missed its RPO")))
    cases.append(("rto", "rto", float(rto["healthy_seconds"] or 0), None if rto["passed"] else
                  _only(row, "missed its RTO") or "not healthy, so no time to recovery was measured"))
    return cases


def _only(row, words):
    return next((failure for failure in row["failures"] if words in failure), None)


# --- HTML (self-contained: inline CSS and SVG, no script, nothing fetched) ------------------------------------

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } .verdict { font-size: 1.2em; font-weight: bold; }
.verdict.failed { color: #b00020; } .verdict.passed { color: #1b5e20; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }
tr.failed td { background: #f4b0b0; } tr.passed td { background: #e3f2e3; }
.missed { color: #8b0000; font-weight: bold; }
ul.failures li { margin: 0.3em 0; } .bar.over { fill: #c62828; } .bar.within { fill: #2e7d32; }
.target { stroke: #222; stroke-width: 2; stroke-dasharray: 4 2; } svg text { font-size: 12px; }
"""


def to_html(report) -> str:
    esc = html.escape
    counts = report["counts"]
    verdict = ("all %d services passed" % counts["services"] if report["passed"]
               else "%d of %d services passed" % (counts["passed"], counts["services"]))
    rows = "".join(_html_row(row) for row in report["services"])
    failures = "".join("<li>%s</li>" % esc(failure) for failure in report["failures"])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title><style>%s</style>"
            "</head><body>\n<h1>%s</h1>\n<p class=\"verdict %s\">%s</p>\n<p>Generated %s.</p>\n"
            "%s<table>\n<thead><tr><th>Service</th><th>Host</th><th>Backup</th><th>Age / RPO</th>"
            "<th>Healthy after / RTO</th><th>Size</th><th>Checks</th></tr></thead>\n<tbody>\n%s</tbody></table>\n"
            "<h2>Recovery against the targets</h2>\n%s\n</body></html>\n"
            % (esc(report["title"]), STYLE, esc(report["title"]), "passed" if report["passed"] else "failed",
               esc(verdict), esc(report["generated_at"]),
               "<h2>What failed</h2>\n<ul class=\"failures\">%s</ul>\n" % failures if failures else "", rows,
               _chart(report["services"])))


def _html_row(row) -> str:
    esc = html.escape
    rpo, rto = row["rpo"], row["rto"]
    checks = ", ".join("&#10004; %s" % esc(str(check["name"])) if check.get("passed") else
                       '<span class="missed">&#10008; %s</span>' % esc(str(check["name"]))
                       for check in row["checks"]) or esc(row["error"] or "no check ran")
    return ('<tr class="%s" data-service=%s><td>%s</td><td>%s</td><td>%s</td><td%s>%s / %s</td><td%s>%s / %s</td>'
            "<td>%s</td><td>%s</td></tr>\n"
            % ("passed" if row["passed"] else "failed", quoteattr(row["group"]), esc(row["group"]), esc(row["host"]),
               esc(row["backup"] or "none"), _missed(rpo), _maybe(rpo["age_seconds"]), duration(rpo["target_seconds"]),
               _missed(rto), _maybe(rto["healthy_seconds"]), duration(rto["target_seconds"]), _size(row["size"]),
               checks))


def _missed(target) -> str:
    return "" if target["passed"] else ' class="missed"'


def _maybe(seconds):
    return "-" if seconds is None else duration(seconds)


def _size(size):
    if size is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return ("%d %s" % (size, unit)) if unit == "B" else ("%.1f %s" % (size, unit))
        size /= 1024.0
    return "-"  # not reached


def _chart(rows) -> str:
    """Per service two bars, age against RPO and time to healthy against RTO, the target a dashed line at 60%."""
    label, width, target_x, line = 150, 400, 240, 22
    height = line * 2 * len(rows) + 30
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" '
             'aria-label="RPO and RTO against their targets">' % (label + width + 20, height)]
    y = 10
    for row in rows:
        for kind, value, target in (("rpo", row["rpo"]["age_seconds"], row["rpo"]["target_seconds"]),
                                    ("rto", row["rto"]["healthy_seconds"], row["rto"]["target_seconds"])):
            ratio = (value / target) if value is not None and target else (0 if value is None else 2)
            length = min(ratio, width / float(target_x)) * target_x
            state = "over" if value is None or value > target else "within"
            parts.append('<text x="0" y="%d">%s %s</text>' % (y + 14, html.escape(row["group"]), kind.upper()))
            parts.append('<rect class="bar %s %s" data-service=%s x="%d" y="%d" width="%.1f" height="%d"/>'
                         % (kind, state, quoteattr(row["group"]), label, y + 2, max(length, 1.0), line - 6))
            parts.append('<text x="%d" y="%d">%s of %s</text>' % (label + min(length, width - 120) + 6, y + 14,
                                                                  _maybe(value), duration(target)))
            y += line
    parts.append('<line class="target" x1="%d" y1="0" x2="%d" y2="%d"/>' % (label + target_x, label + target_x, y))
    parts.append('<text x="%d" y="%d">target</text></svg>' % (label + target_x - 18, y + 14))
    return "".join(parts)
