# -*- coding: utf-8 -*-
"""The release rule a backup carries (restorableTo, DESIGN decision 22)."""

from __future__ import annotations

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.release import problem, restorable_to


@pytest.mark.parametrize("rule, params, target, fits", [
    ("any", {}, "1.0", True),
    ("exact", {}, "4.12.2", True),
    ("exact", {}, "4.12.2.0", True),
    ("exact", {}, "4.12.3", False),
    ("same_series", {}, "4.12.9-1.el9", True),
    ("same_series", {}, "4.11.2", False),
    ("same_series", {}, "4.13.0", False),
    ("same_series", {"components": 1}, "4.13.0", True),
    ("same_or_newer", {}, "4.12.2", True),
    ("same_or_newer", {}, "5.0", True),
    ("same_or_newer", {}, "4.12.1", False),
    ("window", {"component": 1, "newer": 3}, "4.15.0", True),
    ("window", {"component": 1, "newer": 3}, "4.16.0", False),
    ("window", {"component": 1, "newer": 3}, "5.12.2", False),
    ("window", {"component": 1, "newer": 3}, "4.11.9", False),
])
def test_each_rule_decides_by_the_releases(rule, params, target, fits):
    found = problem(restorable_to(rule, "4.12.2", **params), target, "IdM")
    assert (found == "") is fits
    if not fits:
        assert "made by IdM 4.12.2" in found and "this host runs IdM %s" % target in found


def test_what_cannot_be_decided_is_said():
    assert problem(None, "1.0", "x") == ""  # a header of an older drkit.backup
    assert problem(restorable_to("exact", None), "1.0", "x") == ""  # the making release was not known
    assert "could not be read" in problem(restorable_to("exact", "1.0"), None, "x")
    assert "cannot be compared" in problem(restorable_to("exact", "1.0"), "rolling", "x")
    assert "does not know" in problem({"rule": "lunar", "version": "1.0"}, "1.0", "x")
    with pytest.raises(InvalidInput, match="unknown release rule"):
        restorable_to("lunar", "1.0")
