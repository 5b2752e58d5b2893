# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a drill's reports (drkit.backup.drill_report): JSON, JUnit XML and HTML side by side (drill/report.py)."""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import write_atomic
from ansible_collections.drkit.backup.plugins.module_utils.drill import report as drill_report

SUFFIXES = (("json", ".json"), ("junit", ".junit.xml"), ("html", ".html"))


def write_reports(services, dest, basename="drill", title="Disaster-recovery drill", check_mode=False) -> dict:
    """Writes ``<dest>/<basename>.json``, ``.junit.xml`` and ``.html``; returns the verdict, failures and stats."""
    if not basename or "/" in basename or basename.startswith("."):
        raise InvalidInput("basename must be a plain file name without extension, not %r" % (basename,))
    document = drill_report.build(services, title or "Disaster-recovery drill")
    texts = {"json": drill_report.to_json(document), "junit": drill_report.to_junit(document),
             "html": drill_report.to_html(document)}
    paths = {kind: os.path.join(os.path.abspath(dest), basename + suffix) for kind, suffix in SUFFIXES}
    changed = False
    for kind, path in paths.items():
        data = texts[kind].encode("utf-8")
        try:
            with open(path, "rb") as current:
                same = current.read() == data
        except OSError:
            same = False
        changed = changed or not same
        if not same and not check_mode:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, data, 0o644)  # a report holds no secret: the on-call team reads it
    return {"changed": changed, "paths": paths, "report": document, "passed": document["passed"],
            "failures": document["failures"], "stats": drill_report.stats(document)}
