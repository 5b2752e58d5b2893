# -*- coding: utf-8 -*-
"""The engine with a provider whose own tool captures and restores the whole backup at once."""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest

from ansible_collections.drkit.backup.plugins.module_utils import providers
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import NativeCapture, PartSpec, ToolProvider


class Toolish(ToolProvider):
    """Stands for any product whose tool writes several files at once and restores them at once."""

    name = "toolish"
    OPTIONS = {
        "out": {"type": "path", "verbs": ["backup", "restore"], "description": "Where the tool writes."},
        "lose": {"type": "bool", "verbs": ["backup"], "description": "The tool loses a file it wrote."},
    }
    supports = (("full", False),)
    outcome = {}

    def capture_whole(self, backup_type, online):
        out = self.options["out"]
        os.makedirs(out, exist_ok=True)
        for name, data in (("header", b"[tool]\n"), ("data.tar", os.urandom(300000))):
            with open(os.path.join(out, name), "wb") as handle:
                handle.write(data)
        parts = [(PartSpec(name, "raw"), os.path.join(out, name)) for name in ("header", "data.tar")]
        if self.options.get("lose"):
            os.unlink(os.path.join(out, "data.tar"))
        return NativeCapture(parts, {"productVersion": "9.9", "serverRoles": ["CA"]}, {"tool_said": "ok"},
                             lambda success: self.outcome.__setitem__("committed", success))

    @contextlib.contextmanager
    def restore_stage(self, header):
        stage = os.path.join(self.options["out"], "stage")
        os.makedirs(stage)
        try:
            yield stage
        finally:
            shutil.rmtree(stage)

    def restore_whole(self, header, stage_dir):
        self.outcome["staged"] = {name: open(os.path.join(stage_dir, name), "rb").read()
                                  for name in sorted(os.listdir(stage_dir))}
        return ["restored by the tool"]


@pytest.fixture
def toolish(monkeypatch):
    monkeypatch.setitem(providers.PROVIDERS, "toolish", Toolish)
    Toolish.outcome = {}
    return Toolish.outcome


def test_one_tool_run_becomes_parts_and_restores_staged(tmp_path, keystore, toolish):
    out = str(tmp_path / "native")
    result = create_backup(keystore, "toolish", {"out": out}, dest=str(tmp_path / "b"))
    assert toolish["committed"] is True and result["tool_said"] == "ok"
    assert result["backup"]["productVersion"] == "9.9" and result["backup"]["serverRoles"] == ["CA"]
    assert [p["name"] for p in result["backup"]["parts"]] == ["header", "data.tar"]
    original = {name: open(os.path.join(out, name), "rb").read() for name in ("data.tar", "header")}
    plan = restore_backup(Unlocker(keystore), result["path"], provider_options={"out": out}, check_mode=True)
    assert plan["changed"] and "staged" not in toolish
    done = restore_backup(Unlocker(keystore), result["path"], provider_options={"out": out})
    assert done["actions"] == ["restored by the tool"] and toolish["staged"] == original
    assert not os.path.exists(os.path.join(out, "stage"))
    with pytest.raises(InvalidInput, match="restores the whole backup"):
        restore_backup(Unlocker(keystore), result["path"], provider_options={"out": out}, parts=["header"])


def test_the_plan_says_when_the_tool_stops_the_services(tmp_path, keystore, toolish):
    plan = create_backup(keystore, "toolish", {"out": str(tmp_path / "native")}, dest=str(tmp_path / "b"),
                         check_mode=True)
    assert plan["services"] == [] and plan["stops_services"] and plan["tool_stops_services"]
    done = create_backup(keystore, "toolish", {"out": str(tmp_path / "native")}, dest=str(tmp_path / "b"))
    assert done["stops_services"] and done["tool_stops_services"]
    again = create_backup(keystore, "toolish", {"out": str(tmp_path / "native")}, dest=str(tmp_path / "b"),
                          max_age=3600, check_mode=True)
    assert again["path"] == done["path"] and again["stops_services"]


def test_a_failed_seal_keeps_the_tool_output_and_leaves_no_partial(tmp_path, keystore, toolish):
    with pytest.raises(CaptureError, match="the tool's own output was kept"):
        create_backup(keystore, "toolish", {"out": str(tmp_path / "native"), "lose": True},
                      dest=str(tmp_path / "b"))
    assert toolish["committed"] is False
    assert os.listdir(str(tmp_path / "b")) == []
