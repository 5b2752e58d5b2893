"""The running operation's progress in operation.json (host/state.py Operation.progress), as backup_info shows it
while an async backup or restore runs: throttled, with a total, a percentage and an ETA from the rate so far."""

import os

from ansible_collections.drkit.backup.plugins.module_utils.host import state as state_module
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def begin(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(state_module.time, "monotonic", clock)
    state = StateDir(str(tmp_path / "state"))
    (tmp_path / "state").mkdir(mode=0o700)
    return state, state.begin("backup", "files-full-2026-12-08-02-00-00", stage="all"), clock


def test_the_record_gets_the_part_the_bytes_the_percentage_and_an_eta_from_the_rate(tmp_path, monkeypatch):
    state, operation, clock = begin(tmp_path, monkeypatch)
    operation.bytes_total = 1000
    operation.progress("etc.tar", 0, 0)
    first = state.read_record(state_module.OPERATION)["progress"]
    assert first["part"] == "etc.tar" and first["bytes_done"] == 0 and first["bytes_total"] == 1000
    assert first["percent"] == 0.0 and first["eta_seconds"] is None  # no rate yet
    clock.now += 2
    operation.progress("etc.tar", 250, 0)
    second = state.read_record(state_module.OPERATION)["progress"]
    # 250 bytes in 2 s: the 750 left take 6 s more.
    assert second["bytes_done"] == 250 and second["percent"] == 25.0 and second["eta_seconds"] == 6.0
    assert second["stage"] == "all" and second["updated_at"] >= first["updated_at"]


def test_writes_come_at_most_once_a_second_except_at_a_parts_end(tmp_path, monkeypatch):
    state, operation, clock = begin(tmp_path, monkeypatch)
    operation.progress("a.tar", 10, 0)
    clock.now += 0.5
    operation.progress("a.tar", 20, 0)
    assert state.read_record(state_module.OPERATION)["progress"]["bytes_done"] == 10
    operation.progress("a.tar", 30, 1, True)
    assert state.read_record(state_module.OPERATION)["progress"]["parts_done"] == 1
    clock.now += 1.0
    operation.progress("b.tar", 40, 1)
    assert state.read_record(state_module.OPERATION)["progress"]["part"] == "b.tar"


def test_without_a_total_there_is_no_percentage_or_eta_and_past_it_none_is_negative(tmp_path, monkeypatch):
    state, operation, clock = begin(tmp_path, monkeypatch)
    operation.progress("dump.sql", 0, 0)
    clock.now += 1
    operation.progress("dump.sql", 500, 0)
    progress = state.read_record(state_module.OPERATION)["progress"]
    assert progress["bytes_total"] is None and progress["percent"] is None and progress["eta_seconds"] is None
    operation.bytes_total = 400  # an estimate the data outgrew
    clock.now += 1
    operation.progress("dump.sql", 600, 0)
    progress = state.read_record(state_module.OPERATION)["progress"]
    assert progress["percent"] == 100.0 and progress["eta_seconds"] == 0.0


def told(monkeypatch):
    """Every progress call an operation makes: (stage, part, bytes done, parts done, bytes total)."""
    calls = []
    real = state_module.Operation.progress

    def spy(self, part, bytes_done, parts_done, force=False):
        calls.append((self.record.get("stage"), part, bytes_done, parts_done, self.bytes_total))
        return real(self, part, bytes_done, parts_done, force)
    monkeypatch.setattr(state_module.Operation, "progress", spy)
    return calls


def test_a_backup_and_its_restore_tell_their_progress_up_to_the_whole_part(tmp_path, monkeypatch, keystore):
    data = tmp_path / "app"
    data.mkdir()
    (data / "blob").write_bytes(os.urandom(3 << 20))
    calls = told(monkeypatch)
    backup = create_backup(keystore, "files", {"paths": [str(data)]}, dest=str(tmp_path / "b"),
                           state_dir=str(tmp_path / "state"))
    size = backup["backup"]["parts"][0]["size"]
    # Each write of the tar stream, then the part's end: growing to the part's size, against the tree's estimate.
    assert [call[2] for call in calls] == sorted(call[2] for call in calls) and calls[-1][2] == size
    assert calls[-1][3] == 1 and {call[4] for call in calls} == {calls[0][4]} and calls[0][4] >= 3 << 20
    del calls[:]
    restore_backup(Unlocker(keystore), backup["path"], provider_options={"target_root": str(tmp_path / "r")},
                   state_dir=str(tmp_path / "state"))
    assert calls and all(call[0] == "stage" and call[4] == size for call in calls)
    assert [call[2] for call in calls] == sorted(call[2] for call in calls) and calls[-1][2:4] == (size, 1)
