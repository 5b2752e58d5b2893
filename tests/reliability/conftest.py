# -*- coding: utf-8 -*-
"""The reliability suite: faults (crashes, full disks, interrupted transfers, concurrent runs), corruption,
fuzzing, bad input and secrets, counted.

Every test adds to one tally (``tally`` fixture); at the end the session prints the summary line and
writes it to tests/output/reliability.json. ``--fast`` (make test) runs the quick subset: fewer
corruptions and fuzz inputs; make reliability runs everything.
"""

from __future__ import annotations

import collections
import json
import os

import pytest

COUNTS = collections.Counter()
ORDER = ["faults injected", "faults survived", "data lost", "concurrent runs refused", "corruptions made", "corruptions detected",
         "fuzz inputs run", "fuzz tracebacks", "bad inputs tried", "bad inputs with a clear message",
         "process arguments checked", "secrets found"]


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true", help="the quick subset that make test runs")


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """The engine's default state directory is the test's own, never the host's /var/lib/drkit, which the
    integration targets use while this suite runs beside them (make test)."""
    from ansible_collections.drkit.backup.plugins.module_utils.host import state  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(state, "DEFAULT_STATE_DIR", str(tmp_path / "default-state"))


@pytest.fixture(scope="session")
def fast(request):
    return request.config.getoption("--fast")


@pytest.fixture(scope="session")
def tally():
    return COUNTS


def pytest_terminal_summary(terminalreporter):
    if not COUNTS:
        return
    line = "; ".join("%s %d" % (name, COUNTS[name]) for name in ORDER if name in COUNTS)
    terminalreporter.write_line("reliability: " + line)
    out = os.path.join(os.path.dirname(__file__), "..", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "reliability.json"), "w") as handle:
        json.dump(dict(COUNTS), handle, indent=1, sort_keys=True)


@pytest.fixture(scope="module")
def keystore_module(tmp_path_factory):
    from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
    store = keys.Keystore(str(tmp_path_factory.mktemp("keys")))
    key = keys.BackupKey.generate("main", "system", None)
    store.add(key)
    store.set_default(key, True)
    return store
