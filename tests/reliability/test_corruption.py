# -*- coding: utf-8 -*-
"""Random single-byte changes, truncations and appended bytes across parts, headers and single-file
backups: every one is found by ``verify: full`` and refused by restore, which names the damaged part and
restores nothing."""

from __future__ import annotations

import os
import random
import shutil

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import PackedSource, open_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

KINDS = ("flip", "truncate", "append")


@pytest.fixture(scope="module")
def originals(tmp_path_factory, keystore_module):
    """One backup directory with three parts, and its single-file form."""
    base = tmp_path_factory.mktemp("corruption")
    data = base / "data"
    for name, content in (("conf", b"realm = EXAMPLE.TEST\n" * 200), ("db", os.urandom(3 * 1024 * 1024 + 5)),
                          ("ldif", b"dn: uid=u,cn=users\nuid: u\n\n" * 40000)):
        (data / name).mkdir(parents=True)
        (data / name / "content").write_bytes(content)
    made = create_backup(keystore_module, "files", {"paths": [str(data / n) for n in ("conf", "db", "ldif")]},
                         dest=str(base / "backups"))
    packed = pack_backup(made["path"], str(base / "packed"))["path"]
    return {"directory": made["path"], "file": packed, "base": base}


def damage(path, rng):
    """Damages ``path`` once, at random; returns (description, offset of a changed byte or None)."""
    data = bytearray(open(path, "rb").read())
    kind = rng.choice(KINDS)
    index = None
    if kind == "flip" or len(data) < 2:
        index = rng.randrange(len(data))
        data[index] ^= rng.randrange(1, 256)
        what = "byte %d changed" % index
    elif kind == "truncate":
        cut = rng.randrange(len(data))
        del data[cut:]
        what = "truncated to %d bytes" % cut
    else:
        data += os.urandom(rng.randrange(1, 2048))
        what = "bytes appended"
    with open(path, "wb") as out:
        out.write(data)
    return "%s: %s" % (os.path.basename(path), what), index


def part_at(packed, offset):
    """The part whose stored bytes hold ``offset`` in a single-file backup, or None."""
    source = PackedSource(packed)
    for name in source.stored_parts():
        handle, length = source.open_part(name)
        with handle:
            if handle.tell() <= offset < handle.tell() + length:
                return name
    return None


def targets(form, root):
    if form == "file":
        return [root]
    return [os.path.join(root, "header.json")] + sorted(
        os.path.join(root, "parts", name) for name in os.listdir(os.path.join(root, "parts")))


@pytest.mark.parametrize("form", ["directory", "file"])
def test_every_corruption_is_detected_and_nothing_is_restored(
        originals, keystore_module, tally, fast, form, tmp_path):
    rng = random.Random(20261123 + len(form))
    count = 50 if fast else 500
    unlocker = Unlocker(keystore_module)
    source = originals[form]
    for attempt in range(count):
        copy = str(tmp_path / ("copy-%d" % attempt) / os.path.basename(source))
        os.makedirs(os.path.dirname(copy))
        (shutil.copytree if form == "directory" else shutil.copy)(source, copy)
        victim = rng.choice(targets(form, copy))
        what, offset = damage(victim, rng)
        tally["corruptions made"] += 1

        info = backup_info(copy, "full", unlocker)
        assert not info["verified"], "verify full missed: %s" % what
        target = tmp_path / ("restore-%d" % attempt)
        with pytest.raises(DrkitError) as refused:
            restore_backup(unlocker, copy, provider_options={"target_root": str(target)})
        assert not target.exists(), "restore wrote something from a damaged backup (%s)" % what
        if form == "file":
            damaged_part = part_at(source, offset) if offset is not None else None
        else:
            damaged_part = os.path.basename(victim) if victim.startswith(os.path.join(copy, "parts")) else None
        if damaged_part:
            assert damaged_part in info["problems"][0] and damaged_part in str(refused.value), what
        tally["corruptions detected"] += 1
        shutil.rmtree(os.path.dirname(copy))
    assert open_backup(source)  # the original is untouched
