# -*- coding: utf-8 -*-
"""A full disk: the backup root, a single file's destination, an unpack root and a restore's target each on
a small tmpfs mounted by the test. Every module (run as a real process) fails with one clear message naming
the path, the space needed and the space free; nothing partial is left; earlier backups still verify and
the files a restore would have replaced are untouched."""

from __future__ import annotations

import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.host.staging import JOURNAL, TEMP_SUFFIX
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from procs import Services, run_module, tmpfs
from test_crashes import fill, snapshot

pytestmark = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"), reason="mounting a tmpfs needs root")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory, keystore_module):
    base = tmp_path_factory.mktemp("full-disk")
    fill(str(base / "small"), [("app.conf", b"realm = EXAMPLE.TEST\n" * 100, 0o600)])
    fill(str(base / "big"), [("random.bin", os.urandom(6 * MIB), 0o600)])
    big = create_backup(keystore_module, "files", {"paths": [str(base / "big")]},
                        dest=str(base / "backups"), state_dir=str(base / "state"))["path"]
    big_file = pack_backup(big, str(base / "backups"))["path"]
    services = Services(base / "services")
    services.start("svc")
    yield {"base": base, "keystore": keystore_module.path, "big": big, "big_file": big_file,
           "unlocker": Unlocker(keystore_module), "services": services, "work": str(base / "work")}
    services.cleanup()


def clear(msg, path):
    """The message names the path, the space needed and the space free."""
    return path in msg and "needs about" in msg and "MiB" in msg and "free" in msg and "Traceback" not in msg


def test_full_disk_gives_a_clear_error_and_leaves_nothing_partial(world, tally, tmp_path):
    base = world["base"]
    failures = []

    def case(name, check):
        tally["faults injected"] += 1
        problems = check()
        if problems:
            failures.extend("%s: %s" % (name, p) for p in problems)
        else:
            tally["faults survived"] += 1

    def backup(online, services=()):
        with tmpfs(tmp_path / "dest", "4m") as dest:
            earlier = run_module("backup", {"provider": "files", "dest": dest, "keystore": world["keystore"],
                                            "state_dir": str(base / "state"), "online": online,
                                            "provider_options": {"paths": [str(base / "small")]}}, world["work"])
            args = {"provider": "files", "dest": dest, "keystore": world["keystore"], "online": online,
                    "state_dir": str(base / "state"), "temp_dir": str(tmp_path / "temp"),
                    "provider_options": {"paths": [str(base / "big")], "services": list(services)}}
            args.update(world["services"].commands())
            result = run_module("backup", args, world["work"])
            problems = []
            if not earlier.ok:
                return ["the small backup failed: %r" % earlier]
            if result.ok or not clear(result.msg, dest) or "earlier backups are untouched" not in result.msg:
                problems.append("not a clear failure: %r" % result)
            if sorted(os.listdir(dest)) != [os.path.basename(earlier.json["path"])]:
                problems.append("something partial was left: %s" % os.listdir(dest))
            info = backup_info(dest, "full", world["unlocker"])
            if not info["verified"]:
                tally["data lost"] += 1
                problems.append("the earlier backup no longer verifies: %s" % info["problems"])
            if services and not world["services"].running("svc"):
                problems.append("the service was left stopped")
            return problems

    case("backup (online, streaming)", lambda: backup(True))
    case("backup (offline: capture, then seal into a full dest)", lambda: backup(False, ["svc"]))

    def capture_precheck():
        with tmpfs(tmp_path / "temp-small", "2m") as temp:
            args = {"provider": "files", "dest": str(tmp_path / "dest-large"), "keystore": world["keystore"],
                    "state_dir": str(base / "state"), "temp_dir": temp,
                    "provider_options": {"paths": [str(base / "big")], "services": ["svc"]}}
            args.update(world["services"].commands())
            log = os.path.join(world["services"].dir, "service.log")
            before = open(log).read()
            result = run_module("backup", args, world["work"])
            problems = []
            if result.ok or temp not in result.msg or "nothing was stopped or written" not in result.msg:
                problems.append("not a clear failure: %r" % result)
            if open(log).read() != before or os.listdir(temp):
                problems.append("a service was stopped or something was written")
            return problems

    case("capture (the temporary directory too small)", capture_precheck)

    def pack(src, mode):
        with tmpfs(tmp_path / "out", "4m") as out:
            result = run_module("backup_pack", {"src": src, "dest": out}, world["work"])
            problems = []
            if result.ok or not clear(result.msg, out):
                problems.append("not a clear failure: %r" % result)
            if os.listdir(out):
                problems.append("something partial was left: %s" % os.listdir(out))
            if not backup_info(src, "full", world["unlocker"])["verified"]:
                tally["data lost"] += 1
                problems.append("the %s source no longer verifies" % mode)
            return problems

    case("pack into a full outbox", lambda: pack(world["big"], "pack"))
    case("unpack into a full root", lambda: pack(world["big_file"], "unpack"))

    def restore():
        with tmpfs(tmp_path / "target", "4m") as target:
            fill(os.path.join(target, str(base / "big").lstrip("/")), [("random.bin", b"old contents\n", 0o600)])
            before = snapshot(target)
            state = str(base / "restore-state")
            result = run_module("restore", {"backup": world["big"], "keystore": world["keystore"], "state_dir": state,
                                            "provider_options": {"target_root": target}}, world["work"])
            problems = []
            if result.ok or not clear(result.msg, target) or "nothing was changed" not in result.msg:
                problems.append("not a clear failure: %r" % result)
            after = snapshot(target)
            if after != before:
                tally["data lost"] += 1
                problems.append("the live files changed: %s" % sorted(
                    path for path in set(after) | set(before) if after.get(path) != before.get(path)))
            if any(path.endswith(TEMP_SUFFIX) for path in after) or os.path.exists(os.path.join(state, JOURNAL)):
                problems.append("temporary files or the journal were left")
            return problems

    case("restore staging on a full disk", restore)
    assert not failures, "\n".join(failures)
