# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a drill's reports (drkit.backup.drill_report): JSON, JUnit XML and HTML side by side (drill/report.py)."""

from __future__ import annotations

import json
import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import parse_time
from ansible_collections.drkit.backup.plugins.module_utils.drill import report as drill_report

SUFFIXES = (("json", ".json"), ("junit", ".junit.xml"), ("html", ".html"))


def write_reports(services, dest, basename="drill", title="Disaster-recovery drill", check_mode=False) -> dict:
    """Writes ``<dest>/<basename>.json``, ``.junit.xml`` and ``.html``; returns the verdict, failures and stats.

    The same drill written again changes nothing: the reports are worked out once more with the time the files
    already there were generated, and when all three come out the same they stay as they are."""
    if not basename or "/" in basename or basename.startswith("."):
        raise InvalidInput("basename must be a plain file name without extension, not %r" % (basename,))
    title = title or "Disaster-recovery drill"
    paths = {kind: os.path.join(os.path.abspath(dest), basename + suffix) for kind, suffix in SUFFIXES}
    current = {kind: _read(path) for kind, path in paths.items()}
    document = None
    before = _generated_at(current["json"])
    if before is not None:
        document = drill_report.build(services, title, now=before)
        texts = _texts(document)
        if texts != current:
            document = None
    if document is None:
        document = drill_report.build(services, title)
        texts = _texts(document)
    changed = False
    for kind, path in paths.items():
        if texts[kind] == current[kind]:
            continue
        changed = True
        if not check_mode:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # 0644: a report holds no secret, and the on-call team reads it.
            write_atomic(path, texts[kind].encode("utf-8"), 0o644)
    return {"changed": changed, "paths": paths, "report": document, "passed": document["passed"],
            "failures": document["failures"], "stats": drill_report.stats(document)}


def _texts(document) -> dict:
    return {"json": drill_report.to_json(document), "junit": drill_report.to_junit(document),
            "html": drill_report.to_html(document)}


def _read(path):
    """The text of a report already there, or None (missing, unreadable or not UTF-8: then it is rewritten)."""
    try:
        with open(path, "rb") as current:
            return current.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _generated_at(text):
    """When the JSON report already there was generated, or None when there is none or it is not ours."""
    try:
        return parse_time(json.loads(text)["generated_at"])
    except (TypeError, ValueError, KeyError):
        return None
