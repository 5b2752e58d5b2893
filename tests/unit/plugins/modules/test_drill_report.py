# -*- coding: utf-8 -*-
"""The drill_report module run in this process: check mode writes nothing, its result is what RETURN documents,
bad input is one clear ``msg``."""

from __future__ import annotations

import contextlib
import io
import json
import os

import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.drkit.backup.plugins.modules import drill_report


def run_module(args, check_mode=False):
    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)), contextlib.redirect_stdout(out):
        try:
            drill_report.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def services():
    checks = [{"name": name, "kind": name, "passed": True, "seconds": 0.1, "message": "passed"}
              for name in ("verify", "restore", "health", "content")]
    drill = {"backup": "files-full-2026-12-03-02-00-00", "provider": "files", "created": "2026-12-03T02:00:00.000000Z",
             "size": 1024, "started_at": "2026-12-03T10:00:00.000000Z", "restore_seconds": 1.0,
             "healthy_seconds": 1.5, "checks": checks, "passed": True, "torn_down": True}
    return [{"group": "cluster_a", "host": "idm2", "rpo": "26h", "rto": "15m", "drill": drill},
            {"group": "cluster_c", "host": "idm5", "rpo": "26h", "rto": "15m", "error": "no verified backup on idm5"}]


def test_check_mode_then_real_then_again(tmp_path):
    dest = str(tmp_path / "reports")
    args = {"services": services(), "dest": dest, "basename": "nightly"}
    planned = run_module(args, check_mode=True)
    assert planned["changed"] and not os.path.exists(dest)
    written = run_module(args)
    assert written["changed"] and sorted(os.listdir(dest)) == ["nightly.html", "nightly.json", "nightly.junit.xml"]
    assert not written["passed"] and written["failures"] == [
        "cluster_c (idm5): could not be drilled: no verified backup on idm5"]
    assert written["stats"]["drills"]["cluster_a"]["passed"] and written["report"]["counts"]["failed"] == 1
    assert not run_module(args, check_mode=True)["changed"] and not run_module(args)["changed"]


def test_the_result_is_what_return_documents(tmp_path):
    result = run_module({"services": services(), "dest": str(tmp_path)})
    documented = set(yaml.safe_load(drill_report.RETURN))
    assert set(result) - {"changed", "invocation"} == documented
    report = yaml.safe_load(drill_report.RETURN)["report"]["description"]
    for key in result["report"]:  # every top-level key of the JSON document is named in its description
        assert "C(%s)" % key in " ".join(report), key


def test_bad_input_is_one_sentence(tmp_path):
    result = run_module({"services": [{"host": "idm2", "rpo": "26h", "rto": "15m"}], "dest": str(tmp_path)})
    assert result["failed"] and result["msg"].startswith("service 1 of the drill has no group")
    assert os.listdir(str(tmp_path)) == []
