# -*- coding: utf-8 -*-
"""Crashes: a module process killed with SIGKILL at each named crash point (``faults.checkpoint``) of
capture, compression, encryption, part and header writing, the final rename, the seal stage, packing and
unpacking, services stopped and started, and restore (staging, journal, commit).

After each kill, as the next runs would see it:

- backup, pack, unpack: ``backup_info`` (the module) lists no partial backup as complete, every earlier
  backup verifies ``full``, the host's status names the killed run; the next run clears the stale lock
  record and what the killed backup left half-written (its partial, its unfinished capture) and succeeds,
  and what it writes verifies;
- services (real processes): one that the killed run left stopped is reported by ``backup_info`` and
  started by the next run (``backup_services``, as the roles run it; the backup role itself in
  test_role_starts_what_a_killed_run_left_stopped);
- rotation (``backup_rekey`` with ``rotate_data_key``, a directory and a single file): the backup at its path is
  the old one or the new one, whole (it verifies ``full`` and holds the same data), except killed between the two
  renames of a directory, where it is missing until the next run; the next ``backup_rekey`` run finishes or undoes
  what the killed one left and leaves exactly the new backup, which the old key no longer opens, and nothing else;
- restore: the next operation that takes the host's lock (``backup_services`` when services are down, then
  the next backup, which must not read files half restored) finishes the interrupted restore or undoes it:
  the live files are then exactly the state before the restore or the restored one, never a mix, and no
  temporary file is left; the restore run again succeeds.

Counted: faults injected, survived, data lost (an earlier backup that no longer verifies, or live files
left mixed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import open_part_reader
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import JOURNAL, TEMP_SUFFIX
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.delete import delete_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

from procs import COLLECTIONS, ROOT, Services, run_module

MIB = 1024 * 1024
SERVICE = "dirsrv-test"

# (crash point, scenario, in the quick subset). ``name@N``: the N-th time the point is reached.
POINTS = [
    ("lock.taken", "online", False),
    ("capture.part@2", "online", False),
    ("writer.partial", "online", False),
    ("stream.compress@2", "online", False),
    ("stream.encrypt@3", "online", True),
    ("stream.write@5", "online", False),
    ("writer.part@2", "online", False),
    ("writer.header", "online", True),
    ("writer.rename", "online", False),
    ("writer.renamed", "online", False),
    ("services.stopped", "offline", False),
    ("capture.raw@2", "offline", True),
    ("seal.part@2", "offline", False),
    ("services.started", "offline", False),
    ("capture.record", "capture", False),
    ("seal.part@1", "seal", False),
    ("pack.part@1", "pack", False),
    ("pack.rename", "pack", True),
    ("unpack.rename", "unpack", False),
    ("lock.taken", "restore", False),
    ("restore.stage@4", "restore", False),
    ("restore.verified", "restore", False),
    ("services.stopped", "restore", False),
    ("restore.marker", "restore", False),
    ("restore.commit@2", "restore", True),
    ("restore.finish", "restore", False),
    ("lock.taken", "rotate", False),
    ("stream.encrypt@3", "rotate", False),
    ("writer.part@2", "rotate", False),
    ("writer.rename", "rotate", False),
    ("rotate.verified", "rotate", False),
    ("rotate.aside", "rotate", True),
    ("rotate.swapped", "rotate", False),
    ("rotate.verified", "rotate-file", False),
    ("pack.rename", "rotate-file", False),
    ("rotate.swapped", "rotate-file", True),
]
# Points where the killed run has its services down.
SERVICES_DOWN = {("services.stopped", "offline"), ("capture.raw@2", "offline"), ("services.stopped", "restore"),
                 ("restore.marker", "restore"), ("restore.commit@2", "restore"), ("restore.finish", "restore")}
# Points after which the interrupted restore is finished (the commit had begun), not undone.
RESTORE_FINISHED = {"restore.marker", "restore.commit@2", "restore.finish"}
# The point where a rotated directory is missing from its root until the next run (between its two renames).
ROTATION_MISSING = {("rotate.aside", "rotate")}


def fill(directory, files):
    for rel, content, mode in files:
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(content)
        os.chmod(path, mode)


def snapshot(top) -> dict:
    """Every path under ``top``: type, mode, and for files content digest and mtime (directory times vary)."""
    found = {}
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, top)
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                found[rel] = ("file", stat.S_IMODE(info.st_mode), digest, int(info.st_mtime))
            elif stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            else:
                found[rel] = ("dir", stat.S_IMODE(info.st_mode))
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory, keystore_module):
    base = tmp_path_factory.mktemp("crashes")
    data = base / "data"
    fill(str(data), [("conf/app.conf", b"realm = EXAMPLE.TEST\n" * 300, 0o640),
                     ("db/data.mdb", os.urandom(int(1.5 * MIB)), 0o600),
                     ("ldif/all.ldif", b"dn: uid=u,cn=users,dc=example\nuid: u\n\n" * 40000, 0o600)])
    dest = base / "backups"
    setup_state = str(base / "setup-state")
    earlier = create_backup(keystore_module, "files", {"paths": [str(data / "conf")]}, dest=str(dest),
                            state_dir=setup_state)
    earlier_file = pack_backup(earlier["path"], str(dest))["path"]

    # The restore: files in their state before (old) and the backup of their state after (new).
    source = base / "source"
    new_files = [("big.bin", os.urandom(int(2.5 * MIB)), 0o600), ("a.txt", b"new a\n" * 1000, 0o644),
                 ("b.txt", b"same b\n", 0o644), ("sub/c.txt", b"new c\n", 0o644), ("sub/new.txt", b"added\n", 0o600)]
    fill(str(source), new_files)
    restore_source = create_backup(keystore_module, "files", {"paths": [str(source)]},
                                   dest=str(base / "restore-backups"), state_dir=setup_state)["path"]
    old = base / "old" / str(source).lstrip("/")
    fill(str(old), [("big.bin", os.urandom(int(2.5 * MIB)), 0o600), ("a.txt", b"old a\n", 0o644),
                    ("b.txt", b"same b\n", 0o644), ("sub/c.txt", b"old c\n", 0o600)])
    shutil.copystat(str(source / "b.txt"), str(old / "b.txt"))
    reference = base / "reference"
    shutil.copytree(str(base / "old"), str(reference), symlinks=True)
    restore_backup(Unlocker(keystore_module), restore_source,
                   provider_options={"target_root": str(reference)}, state_dir=setup_state)
    # The backup whose data key is rotated, as a directory and as a single file, with the digests of its parts' data.
    rotate_root = str(base / "rotate-source")
    rotate_dir = create_backup(keystore_module, "files",
                               {"paths": [str(data / name) for name in ("conf", "db", "ldif")]},
                               dest=rotate_root, state_dir=setup_state)["path"]
    rotate_key = keys.BackupKey.generate("rotated", "system", None)
    keystore_module.add(rotate_key)
    old_only = keys.Keystore(str(base / "old-key-only"))
    old_only.add(keystore_module.default_key("system", None))
    services = Services(base / "services")
    services.start(SERVICE)
    world = {"base": base, "data": data, "dest": str(dest), "earlier": [earlier["path"], earlier_file],
             "keystore": keystore_module.path, "state": str(base / "state"), "services": services,
             "restore_backup": restore_source, "old": base / "old",
             "old_snapshot": snapshot(str(base / "old")), "new_snapshot": snapshot(str(reference)),
             "work": str(base / "work"), "unlocker": Unlocker(keystore_module),
             "rotate_source": [rotate_dir, pack_backup(rotate_dir, rotate_root)["path"]],
             "rotate_key": rotate_key, "old_key": old_only.keys()[0], "old_only": Unlocker(old_only)}
    world["rotate_data"] = plaintexts(rotate_dir, world["unlocker"])
    assert world["old_snapshot"] != world["new_snapshot"]
    yield world
    services.cleanup()


def backup_args(w, scenario):
    args = {"provider": "files", "dest": w["dest"], "keystore": w["keystore"], "state_dir": w["state"],
            "provider_options": {"paths": [str(w["data"] / n) for n in ("conf", "db", "ldif")]}}
    if scenario == "online":
        args["online"] = True
    else:
        args["provider_options"]["services"] = [SERVICE]
        args.update(w["services"].commands())
        if scenario == "capture":
            args["stage"] = "capture"
    return args


def check_listing(w, root, point, problems, lost):
    """``backup_info`` (the module) on ``root`` and on the earlier backups: nothing partial shown complete."""
    info = run_module("backup_info", {"path": root, "verify": "full", "keystore": w["keystore"],
                                      "state_dir": w["state"]}, w["work"])
    if not info.ok:
        problems.append("backup_info failed after %s: %r" % (point, info))
        return None
    for item in info.json["backups"]:
        if item["status"] == "complete" and not item.get("verified"):
            problems.append("after %s, %s is listed complete and does not verify: %s"
                            % (point, item["path"], item.get("problems")))
    listed = {item["path"]: item for item in info.json["backups"]}
    for path in w["earlier"]:
        if root == w["dest"] and (path not in listed or not listed[path].get("verified")):
            lost.append("after %s, earlier backup %s no longer verifies" % (point, path))
    if info.json["operation"] is not None or not info.json["interrupted"]:
        problems.append("after %s, the status does not name the killed run: operation %s, interrupted %s"
                        % (point, info.json["operation"], info.json["interrupted"]))
    return info.json


def next_runs_start_services(w, point, problems):
    """What the roles run after a failed or killed step: backup_services, which starts what was left down."""
    started = run_module("backup_services", {"state": "started", "state_dir": w["state"],
                                             **w["services"].commands()}, w["work"])
    if not started.ok:
        problems.append("backup_services failed after %s: %r" % (point, started))
    elif not w["services"].running(SERVICE):
        problems.append("after %s, backup_services did not start %s" % (point, SERVICE))


def crash_backup(w, point, scenario, problems, lost):
    args = backup_args(w, scenario)
    killed = run_module("backup", args, w["work"], crash_at=point)
    if not killed.killed:
        problems.append("crash point %s was never reached: %r" % (point, killed))
        return
    info = check_listing(w, w["dest"], point, problems, lost)
    if info is not None and (point, scenario) in SERVICES_DOWN:
        if info["services_stopped"] != [SERVICE] or w["services"].running(SERVICE):
            problems.append("after %s, %s should be down and reported: services_stopped %s, running %s"
                            % (point, SERVICE, info["services_stopped"], w["services"].running(SERVICE)))
    if scenario != "online":
        next_runs_start_services(w, point, problems)
    again = run_module("backup", dict(args, stage="all"), w["work"])
    if not again.ok:
        problems.append("the backup after %s failed: %r" % (point, again))
        return
    left = [b["path"] for b in backup_info(w["dest"])["backups"] if b["status"] != "complete"]
    if left:
        problems.append("after %s and the next runs, what the killed run left is still there: %s" % (point, left))
    status = backup_info(again.json["path"], "full", w["unlocker"], state_dir=w["state"])
    if not status["verified"] or status["interrupted"] or status["services_stopped"]:
        problems.append("after %s, the next backup or the status is wrong: %s" % (point, status))
    if not w["services"].running(SERVICE):
        problems.append("after %s and the next backup, %s is not running" % (point, SERVICE))
    delete_backup(w["dest"], os.path.basename(again.json["path"]), state_dir=w["state"])


def crash_seal(w, point, scenario, problems, lost):
    """``stage: seal`` killed: sealing the same capture again works (the partial it left is not in the way)."""
    captured = run_module("backup", backup_args(w, "capture"), w["work"])
    if not captured.ok:
        problems.append("the capture before %s failed: %r" % (point, captured))
        return
    seal = {"stage": "seal", "capture": captured.json["capture"], "dest": w["dest"], "state_dir": w["state"]}
    if not run_module("backup", seal, w["work"], crash_at=point).killed:
        problems.append("crash point %s was never reached" % point)
        return
    check_listing(w, w["dest"], point, problems, lost)
    again = run_module("backup", seal, w["work"])
    if not again.ok or not backup_info(again.json["path"], "full", w["unlocker"])["verified"]:
        problems.append("sealing the capture again after %s failed: %r" % (point, again))
        return
    left = [b["path"] for b in backup_info(w["dest"])["backups"] if b["status"] != "complete"]
    if left:
        problems.append("after %s and sealing again, something was left: %s" % (point, left))
    delete_backup(w["dest"], os.path.basename(again.json["path"]), state_dir=w["state"])


def crash_pack(w, point, scenario, problems, lost):
    if scenario == "pack":
        args, out = {"src": w["earlier"][0], "dest": os.path.join(str(w["base"]), "outbox")}, "outbox"
    else:
        args, out = {"src": w["earlier"][1], "dest": os.path.join(str(w["base"]), "unpacked")}, "unpacked"
    out = os.path.join(str(w["base"]), out)
    killed = run_module("backup_pack", args, w["work"], crash_at=point)
    if not killed.killed:
        problems.append("crash point %s was never reached: %r" % (point, killed))
        return
    if os.path.isdir(out):
        listed = backup_info(out, "full", w["unlocker"])
        if [item for item in listed["backups"] if item["status"] == "complete"]:
            problems.append("after %s, %s holds a backup listed complete: %s" % (point, out, listed["backups"]))
    for path in w["earlier"]:
        if not backup_info(path, "full", w["unlocker"])["verified"]:
            lost.append("after %s, %s no longer verifies" % (point, path))
    again = run_module("backup_pack", args, w["work"])
    if not again.ok or not backup_info(again.json["path"], "full", w["unlocker"])["verified"]:
        problems.append("the %s after %s failed or does not verify: %r" % (scenario, point, again))
        return
    (os.unlink if os.path.isfile(again.json["path"]) else shutil.rmtree)(again.json["path"])


def crash_restore(w, point, scenario, problems, lost):
    target = os.path.join(str(w["base"]), "target")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(str(w["old"]), target, symlinks=True)
    args = {"backup": w["restore_backup"], "keystore": w["keystore"], "state_dir": w["state"],
            "provider_options": {"target_root": target, "services": [SERVICE]}}
    args.update(w["services"].commands())
    killed = run_module("restore", args, w["work"], crash_at=point)
    if not killed.killed:
        problems.append("crash point %s was never reached: %r" % (point, killed))
        return
    info = run_module("backup_info", {"path": os.path.dirname(w["restore_backup"]), "state_dir": w["state"],
                                      "keystore": w["keystore"]}, w["work"])
    record = (info.json or {}).get("interrupted") or {}
    if record.get("operation") != "restore":
        problems.append("after %s, backup_info does not name the interrupted restore: %r" % (point, info))
    if (point, scenario) in SERVICES_DOWN and (info.json or {}).get("services_stopped") != [SERVICE]:
        problems.append("after %s, backup_info does not report %s stopped: %r" % (point, SERVICE, info))
    next_runs_start_services(w, point, problems)  # with services to start, it takes the lock
    # The next nightly backup takes the lock, so it finishes or undoes the restore before it reads the files.
    nightly = run_module("backup", {"provider": "files", "online": True, "dest": os.path.join(str(w["base"]), "nightly"),
                                    "keystore": w["keystore"], "state_dir": w["state"],
                                    "provider_options": {"paths": [target]}}, w["work"])
    if not nightly.ok:
        problems.append("the backup after %s failed: %r" % (point, nightly))
    now = snapshot(target)
    expected = w["new_snapshot"] if point in RESTORE_FINISHED else w["old_snapshot"]
    if now not in (w["old_snapshot"], w["new_snapshot"]):
        leftovers = sorted(path for path in now if path.endswith(TEMP_SUFFIX))
        lost.append("after %s and the next run, the live files are a mix of before and after the restore%s"
                    % (point, " (temporary files left: %s)" % leftovers if leftovers else ""))
    elif now != expected:
        problems.append("after %s the restore was %s, not %s" % (
            point, "finished" if now == w["new_snapshot"] else "undone",
            "finished" if point in RESTORE_FINISHED else "undone"))
    if os.path.exists(os.path.join(w["state"], JOURNAL)):
        problems.append("after %s and the next run, the restore journal is still there" % point)
    again = run_module("restore", args, w["work"])
    if not again.ok or snapshot(target) != w["new_snapshot"]:
        problems.append("the restore after %s failed or restored something else: %r" % (point, again))


def plaintexts(path, unlocker) -> dict:
    """The SHA-256 of each part's plaintext, read with the data key."""
    source = open_backup(path)
    header = source.header()
    data_key = unlocker.data_key(header)
    found = {}
    with worker_pool() as pool:
        for part in header.parts:
            handle, reader, _part = open_part_reader(source, header, data_key, part["name"], pool)
            digest = hashlib.sha256()
            with handle:
                while True:
                    chunk = reader.read_chunk()
                    if not chunk:
                        break
                    digest.update(chunk)
            found[part["name"]] = digest.hexdigest()
    return found


def rotation_state(w, path):
    """"old" or "new" when ``path`` is that backup, whole and holding the same data; else a sentence why not."""
    try:
        held = open_backup(path).header().key_ids
        status = backup_info(path, "full", w["unlocker"])
        same = plaintexts(path, w["unlocker"]) == w["rotate_data"]
    except DrkitError as exc:
        return str(exc)
    if not status["verified"] or not same:
        return "it does not verify or holds other data: %s" % status["problems"]
    which = {(w["old_key"].id,): "old", (w["rotate_key"].id,): "new"}
    return which.get(tuple(held), "it opens with %s" % held)


def crash_rotate(w, point, scenario, problems, lost):
    """``backup_rekey`` with ``rotate_data_key`` killed: the old backup or the new one, whole, then the new one."""
    root = os.path.join(str(w["base"]), "rotating")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    source = w["rotate_source"][1 if scenario == "rotate-file" else 0]
    target = os.path.join(root, os.path.basename(source))
    (shutil.copy2 if os.path.isfile(source) else shutil.copytree)(source, target)
    args = {"path": target, "key_ids": [w["rotate_key"].id], "rotate_data_key": True, "keystore": w["keystore"],
            "state_dir": w["state"]}
    killed = run_module("backup_rekey", args, w["work"], crash_at=point)
    if not killed.killed:
        problems.append("crash point %s was never reached: %r" % (point, killed))
        return
    if os.path.lexists(target):
        found = rotation_state(w, target)
        if found not in ("old", "new"):
            lost.append("after %s, %s is neither the old backup nor the new one, whole: %s" % (point, target, found))
    elif (point, scenario) not in ROTATION_MISSING:
        lost.append("after %s, %s is missing" % (point, target))
    listed = backup_info(root, state_dir=w["state"])
    shown = [item["path"] for item in listed["backups"] if item["status"] == "complete"]
    if shown not in ([target], []) or (not shown and os.path.lexists(target)):
        problems.append("after %s, the root lists as complete %s" % (point, shown))
    if (listed["interrupted"] or {}).get("operation") != "rekey":
        problems.append("after %s, the status does not name the killed rekey: %s" % (point, listed["interrupted"]))
    again = run_module("backup_rekey", args, w["work"])
    if not again.ok:
        problems.append("the rekey after %s failed: %r" % (point, again))
        return
    if os.listdir(root) != [os.path.basename(target)]:
        problems.append("after %s and the next run, %s holds %s" % (point, root, sorted(os.listdir(root))))
    found = rotation_state(w, target)
    if found != "new":
        lost.append("after %s and the next run, %s is not the rotated backup: %s" % (point, target, found))
    try:
        w["old_only"].data_key(open_backup(target).header())
        problems.append("after %s and the next run, the old key still opens %s" % (point, target))
    except DrkitError as exc:
        if "not in" not in str(exc):
            problems.append("after %s, the old key fails with an unclear message: %s" % (point, exc))


def run_points(world, tally, points):
    failures = []
    for point, scenario, _fast in points:
        problems, lost = [], []
        tally["faults injected"] += 1
        if scenario in ("online", "offline", "capture"):
            crash_backup(world, point, scenario, problems, lost)
        elif scenario == "seal":
            crash_seal(world, point, scenario, problems, lost)
        elif scenario in ("pack", "unpack"):
            crash_pack(world, point, scenario, problems, lost)
        elif scenario.startswith("rotate"):
            crash_rotate(world, point, scenario, problems, lost)
        else:
            crash_restore(world, point, scenario, problems, lost)
        if not world["services"].running(SERVICE):
            problems.append("after %s (%s) and the next run, %s is down" % (point, scenario, SERVICE))
            world["services"].start(SERVICE)
        tally["data lost"] += len(lost)
        if problems or lost:
            failures.extend("%s (%s): %s" % (point, scenario, p) for p in problems + lost)
        else:
            tally["faults survived"] += 1
    return failures


def point_names():
    return {point.partition("@")[0] for point, _scenario, _fast in POINTS}


def test_every_crash_point_is_survived(world, tally, fast):
    points = [p for p in POINTS if p[2] or not fast]
    assert len(point_names()) >= 20
    failures = run_points(world, tally, points)
    assert not failures, "\n".join(failures)


def test_every_crash_point_is_in_the_engine():
    """Each point the table names is a checkpoint in the engine, and each checkpoint is in the table."""
    source = os.path.join(ROOT, "plugins", "module_utils")
    found = set()
    for directory, _dirs, names in os.walk(source):
        for name in names:
            if name.endswith(".py") and name != "faults.py":
                with open(os.path.join(directory, name)) as handle:
                    text = handle.read()
                found.update(part.split('"')[0] for part in text.split('faults.checkpoint("')[1:])
    assert found == point_names(), found ^ point_names()
    assert faults.ENV == "DRKIT_BACKUP_CRASH_AT"


def test_role_starts_what_a_killed_run_left_stopped(world, tally, fast, tmp_path):
    """The backup role, run after a capture killed with the services down, starts them first and backs up."""
    if fast:
        pytest.skip("runs ansible-playbook: make reliability only")
    tally["faults injected"] += 1
    args = backup_args(world, "offline")
    assert run_module("backup", args, world["work"], crash_at="capture.raw@1").killed
    assert not world["services"].running(SERVICE)
    info = backup_info(world["dest"], state_dir=world["state"])
    assert info["services_stopped"] == [SERVICE], info
    playbook = tmp_path / "backup.yml"
    playbook.write_text("""- hosts: localhost
  gather_facts: false
  roles:
    - role: drkit.backup.backup
      vars:
        drkit_backup_provider: files
        drkit_backup_provider_options: %(options)s
        drkit_backup_dest: %(dest)s
        drkit_backup_state_dir: %(state)s
        drkit_backup_keystore: %(keystore)s
        drkit_backup_stop_command: "%(stop)s"
        drkit_backup_start_command: "%(start)s"
        drkit_backup_copy: none
""" % {"options": args["provider_options"], "dest": world["dest"], "state": world["state"],
       "keystore": world["keystore"], "stop": args["stop_command"],
       "start": args["start_command"]})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop(faults.ENV, None)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(playbook)],
                          env=env, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Start the services an interrupted run left stopped" in proc.stdout
    assert world["services"].running(SERVICE)
    status = backup_info(world["dest"], "full", world["unlocker"], state_dir=world["state"])
    assert status["verified"] and not status["services_stopped"] and not status["interrupted"], status
    tally["faults survived"] += 1
