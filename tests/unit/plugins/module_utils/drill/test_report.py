# -*- coding: utf-8 -*-
"""A drill's reports: the verdict, JUnit XML validated by xmllint against the kept schema, and the HTML page as
headless Chromium renders it (its DOM and a screenshot kept as a test artifact)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.drill import report
from ansible_collections.drkit.backup.plugins.module_utils.operations.drill_report import write_reports

from conftest import require  # tests/unit/conftest.py: skips when a tool is missing, fails under CI=true

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 5))
SCHEMA = os.path.join(ROOT, "tests", "fixtures", "junit", "JUnit.xsd")
ARTIFACTS = os.path.join(ROOT, "tests", "output", "artifacts")


def check(name, passed=True, kind=None, message="passed"):
    return {"name": name, "kind": kind or name, "passed": passed, "seconds": 0.25, "message": message}


def drill(backup, created="2026-12-03T02:00:00.000000Z", healthy=4.5, checks=None):
    return {"backup": backup, "path": "/b/" + backup, "provider": "files", "created": created, "size": 3 * 1024 * 1024,
            "started_at": "2026-12-03T10:00:00.000000Z", "finished_at": "2026-12-03T10:00:06.000000Z",
            "scratch": "/var/tmp/drkit-drill/x", "restore_seconds": 3.0, "healthy_seconds": healthy,
            "checks": checks if checks is not None else [check("verify"), check("restore"), check("health"),
                                                         check("files", kind="provider"), check("content")],
            "passed": all(step["passed"] for step in checks or []), "torn_down": True}


def sample():
    """cluster_a passes; cluster_b fails its content check; idm-prod misses its RPO (a backup 30 hours old)."""
    content = check("content", False, message="paths /srv files: the backup holds 3, the restored instance 2")
    return [
        {"group": "cluster_a", "host": "idm2", "rpo": "26h", "rto": "15m", "drill": drill("files-full-a")},
        {"group": "cluster_b", "host": "idm4", "rpo": "26h", "rto": "15m",
         "drill": drill("files-full-b", checks=[check("verify"), check("restore"), check("health"), content])},
        {"group": "idm-prod", "host": "ipa3", "rpo": "26h", "rto": 900,
         "drill": drill("freeipa-full-c", created="2026-12-02T04:00:00.000000Z")},
    ]


def test_the_verdict_names_service_host_backup_and_check_failed_first():
    document = report.build(sample())
    assert document["schema_version"] == 1 and document["kind"] == "drkit.backup.drill" and not document["passed"]
    assert [row["group"] for row in document["services"]] == ["cluster_b", "idm-prod", "cluster_a"]
    assert document["counts"] == {"services": 3, "passed": 1, "failed": 2}
    assert document["failures"] == [
        "cluster_b (idm4, backup files-full-b): check content failed: paths /srv files: the backup holds 3, "
        "the restored instance 2",
        "idm-prod (ipa3, backup freeipa-full-c): missed its RPO: the newest verified backup is 30h old, the RPO is 26h"]
    passed = document["services"][2]
    assert passed["rpo"] == {"target_seconds": 93600, "age_seconds": 28800.0, "passed": True}
    assert passed["rto"]["passed"] and passed["rto"]["healthy_seconds"] == 4.5
    stats = report.stats(document)
    assert stats["schema_version"] == 1 and stats["drills"]["cluster_a"]["passed"]
    assert not stats["drills"]["idm-prod"]["passed"] and stats["drills"]["idm-prod"]["age_seconds"] == 108000.0


def test_rto_never_healthy_and_errors_fail():
    slow = {"group": "g", "host": "h", "rpo": "26h", "rto": "1m", "drill": drill("b", healthy=125.0)}
    assert report.build([slow])["failures"] == ["g (h, backup b): missed its RTO: healthy after 2m 5s, the RTO is 1m"]
    sick = {"group": "g", "host": "h", "rpo": "26h", "rto": "1m",
            "drill": drill("b", healthy=None, checks=[check("verify"), check("restore"),
                                                      check("health", False, message="not healthy after 30 s")])}
    assert report.build([sick])["failures"] == ["g (h, backup b): check health failed: not healthy after 30 s"]
    never = {"group": "g", "host": "h", "rpo": "26h", "rto": "1m", "drill": drill("b", healthy=None)}
    assert report.build([never])["failures"] == ["g (h, backup b): missed its RTO: it never became healthy"]
    none = {"group": "g", "host": "h", "rpo": "26h", "rto": "1m", "error": "no verified backup in /b on h"}
    document = report.build([none])
    assert document["failures"] == ["g (h): could not be drilled: no verified backup in /b on h"]
    assert not document["passed"] and document["counts"] == {"services": 1, "passed": 0, "failed": 1}


def test_a_drill_that_shows_nothing_never_passes():
    """No backup time (so no RPO measured), or no check at all: a failure, never a pass by default."""
    undated = dict(drill("b"), created=None)
    row = report.build([{"group": "g", "host": "h", "rpo": "26h", "rto": "1m", "drill": undated}])["services"][0]
    assert not row["passed"] and not row["rpo"]["passed"] and row["failures"] == [
        "g (h, backup b): missed its RPO: the backup's age is unknown (the drill result has no created or started_at)"]
    unchecked = {"group": "g", "host": "h", "rpo": "26h", "rto": "1m", "drill": drill("b", checks=[])}
    row = report.build([unchecked])["services"][0]
    assert not row["passed"] and row["failures"] == [
        "g (h, backup b): no check ran, so nothing shows that the backup restores"]


@pytest.mark.parametrize("bad, reason", [
    ([], "at least one service"),
    ([{"host": "h"}], "service 1 of the drill has no group"),
    ([{"group": "  ", "rpo": 1, "rto": 1}], "has no group"),
    ([{"group": "g", "rpo": "soon", "rto": 1}], "RPO of g 'soon' is not a duration"),
    ([{"group": "g", "rpo": "26h", "rto": None}], "RTO of g None is not a duration"),
    ([{"group": "g", "rpo": 1, "rto": 1, "drill": "passed"}], "not the result of drkit.backup.backup_drill"),
    ([{"group": "g", "rpo": 1, "rto": 1, "drill": dict(drill("b"), created="yesterday")}],
     "created 'yesterday', not an RFC 3339 UTC time"),
    ([{"group": "g", "rpo": 1, "rto": 1, "drill": dict(drill("b"), healthy_seconds="fast")}],
     "healthy_seconds 'fast', not a number"),
    ([{"group": "g", "rpo": 1, "rto": 1, "drill": drill("b", checks=[{"passed": True}])}], "a check .* has no name"),
])
def test_malformed_input_is_refused_with_a_sentence(bad, reason):
    with pytest.raises(InvalidInput, match=reason):
        report.build(bad)


def test_the_files_are_written_once_and_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "reports"
    planned = write_reports(sample(), str(dest), check_mode=True)
    assert planned["changed"] and not dest.exists()
    written = write_reports(sample(), str(dest), basename="nightly")
    assert written["changed"] and sorted(os.listdir(str(dest))) == ["nightly.html", "nightly.json", "nightly.junit.xml"]
    assert json.loads((dest / "nightly.json").read_text())["failures"] == written["failures"]
    with pytest.raises(InvalidInput, match="plain file name"):
        write_reports(sample(), str(dest), basename="../x")


def test_the_same_drill_written_again_changes_nothing(tmp_path):
    """Check mode, real, check mode again (predicts no change), real again (changes nothing); a new drill changes."""
    dest = str(tmp_path)
    assert write_reports(sample(), dest, check_mode=True)["changed"]
    first = write_reports(sample(), dest)
    stamps = {path: os.stat(path).st_mtime_ns for path in first["paths"].values()}
    assert not write_reports(sample(), dest, check_mode=True)["changed"]
    again = write_reports(sample(), dest)
    assert not again["changed"] and again["report"] == first["report"]
    assert {path: os.stat(path).st_mtime_ns for path in first["paths"].values()} == stamps
    newer = sample()
    newer[1]["drill"]["checks"][-1] = check("content")
    assert write_reports(newer, dest, check_mode=True)["changed"]
    assert {path: os.stat(path).st_mtime_ns for path in first["paths"].values()} == stamps
    written = write_reports(newer, dest)
    assert written["changed"] and written["report"]["counts"]["passed"] == 2
    assert json.loads(open(written["paths"]["json"]).read()) == written["report"]


def test_the_junit_file_validates_against_the_schema(tmp_path):
    require("xmllint")
    paths = write_reports(sample(), str(tmp_path))["paths"]
    checked = subprocess.run(["xmllint", "--noout", "--schema", SCHEMA, paths["junit"]], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stderr
    xml = open(paths["junit"]).read()
    suites = re.findall(r'<testsuite name="([^"]+)"[^>]* tests="(\d+)" failures="(\d+)"', xml)
    assert suites == [("cluster_b", "6", "1"), ("idm-prod", "7", "1"), ("cluster_a", "7", "0")]
    assert '<testcase name="rpo" classname="idm-prod.ipa3"' in xml and "missed its RPO" in xml


def test_junit_of_awkward_text_still_validates(tmp_path):
    """Quotes, markup and control characters (a command's colour codes) in names, kinds and messages; a service
    that could not be drilled; one with no check at all."""
    require("xmllint")
    odd = check('say "<hi>" & go', False, kind='command "x"', message="\x1b[31mred\x1b[0m <b>&</b> \x00 end")
    services = [
        {"group": "g&<1>", "host": 'h"1', "rpo": 60, "rto": 60, "drill": drill("b", checks=[odd])},
        {"group": "g2", "host": "h2", "rpo": 60, "rto": 60, "error": "no backup <at all> & nothing to drill"},
        {"group": "g3", "host": "h3", "rpo": "26h", "rto": "1m", "drill": drill("b3", checks=[])},
    ]
    paths = write_reports(services, str(tmp_path))["paths"]
    checked = subprocess.run(["xmllint", "--noout", "--schema", SCHEMA, paths["junit"]], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stderr + open(paths["junit"]).read()
    xml = open(paths["junit"]).read()
    suites = re.findall(r'<testsuite name="([^"]+)"[^>]* tests="(\d+)" failures="(\d+)"', xml)
    assert suites == [("g&amp;&lt;1&gt;", "3", "2"), ("g2", "1", "1"), ("g3", "3", "1")]
    assert """type='command "x"'""" in xml and "\ufffd[31mred" in xml and "\x1b" not in xml


def test_the_html_page_renders_in_headless_chromium(tmp_path):
    require("chromium")
    paths = write_reports(sample(), str(tmp_path))["paths"]
    page = open(paths["html"]).read()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in page
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=%s" % (tmp_path / "profile")]
    dom = subprocess.run(base + ["--dump-dom", "file://" + paths["html"]], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    rows = re.findall(r'<tr class="(failed|passed)" data-service="([^"]+)">', dom)
    assert rows == [("failed", "cluster_b"), ("failed", "idm-prod"), ("passed", "cluster_a")]
    bars = re.findall(r'<rect class="bar (rpo|rto) (over|within)" data-service="([^"]+)"', dom)
    assert sorted(bars) == sorted([("rpo", "within", "cluster_b"), ("rto", "within", "cluster_b"),
                                   ("rpo", "over", "idm-prod"), ("rto", "within", "idm-prod"),
                                   ("rpo", "within", "cluster_a"), ("rto", "within", "cluster_a")])
    assert "1 of 3 services passed" in dom and "missed its RPO" in dom
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "drill-report.png")
    subprocess.run(base + ["--hide-scrollbars", "--window-size=1200,900", "--screenshot=%s" % shot,
                           "file://" + paths["html"]], capture_output=True, timeout=60, check=True)
    pixels = png_pixels(shot)
    assert "tr.failed td { background: #f4b0b0; }" in report.STYLE
    assert (0xF4, 0xB0, 0xB0) in pixels, "the failed rows' red background is not on the screenshot"
    assert (0xC6, 0x28, 0x28) in pixels, "the bar over its target is not red on the screenshot"
    assert shutil.which("chromium")


def png_pixels(path) -> set:
    """The RGB colours of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _compression, _filter, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * step
    previous, colours, offset = bytearray(stride), set(), 0
    for _row in range(height):
        kind, line = raw[offset], bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        for index in range(stride):
            left = line[index - step] if index >= step else 0
            up, corner = previous[index], previous[index - step] if index >= step else 0
            if kind == 1:
                line[index] = (line[index] + left) & 0xFF
            elif kind == 2:
                line[index] = (line[index] + up) & 0xFF
            elif kind == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[index] = (line[index] + near[2]) & 0xFF
        colours.update(tuple(line[index:index + 3]) for index in range(0, stride, step))
        previous = line
    return colours


def test_the_html_page_escapes_every_text():
    hostile = check("<script>alert(1)</script>", False, message='"><img src=x onerror=alert(1)>')
    services = [{"group": "<b>g</b>", "host": "h&1", "rpo": 60, "rto": 60, "drill": drill("b<1>", checks=[hostile])}]
    page = report.to_html(report.build(services, title="<i>Drill</i>"))
    assert "<script" not in page and "<img" not in page and "<b>g" not in page and "<i>Drill" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and 'data-service="&lt;b&gt;g&lt;/b&gt;"' in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page and "h&amp;1" in page
