# -*- coding: utf-8 -*-
"""The files provider through whole backups and restores on the real file system."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.format.header import new_manifest
from ansible_collections.drkit.backup.plugins.module_utils.format.names import check_part_name
from ansible_collections.drkit.backup.plugins.module_utils.format.writer import BackupWriter
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.files import provider as files


def restore(keystore, backup, target, check_mode=False, **kwargs):
    return restore_backup(Unlocker(keystore), backup, provider_options={"target_root": str(target)},
                          check_mode=check_mode, **kwargs)


def restored_path(target, original):
    return os.path.join(str(target), str(original).lstrip("/"))


def test_part_names_are_stable_and_valid():
    names = files.part_names(["/etc/ipa", "/etc/ipa/", "/", "/var/lib/a b", "/x" * 100])
    assert names[:4] == ["etc_ipa.tar", "etc_ipa-2.tar", "root.tar", "var_lib_a_b.tar"]
    for name in names:
        check_part_name(name)


def test_restore_round_trip_keeps_content_and_metadata(tmp_path, keystore, data_tree, backup_dir):
    os.setxattr(str(data_tree / "blob.bin"), "user.drkit", b"\xff\x00binary")
    backup = create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(tmp_path / "b2"))
    target = tmp_path / "target"
    result = restore(keystore, backup["path"], target)
    assert result["changed"]
    for name in ("conf/app.conf", "blob.bin", "empty"):
        original, copy = data_tree / name, restored_path(target, data_tree / name)
        assert open(copy, "rb").read() == original.read_bytes()
        assert stat.S_IMODE(os.stat(copy).st_mode) == stat.S_IMODE(os.stat(str(original)).st_mode)
        assert abs(os.stat(copy).st_mtime - os.stat(str(original)).st_mtime) < 1e-3
    assert os.readlink(restored_path(target, data_tree / "link")) == "conf/app.conf"
    assert os.getxattr(restored_path(target, data_tree / "blob.bin"), "user.drkit") == b"\xff\x00binary"


def test_check_mode_plans_and_changes_nothing(tmp_path, keystore, data_tree, backup_dir):
    target = tmp_path / "target"
    plan = restore(keystore, backup_dir, target, check_mode=True)
    assert plan["changed"] and plan["restored_parts"][0]["changed"] >= 5
    assert not target.exists()


def test_second_restore_changes_nothing(tmp_path, keystore, data_tree, backup_dir):
    target = tmp_path / "target"
    assert restore(keystore, backup_dir, target)["changed"]
    again = restore(keystore, backup_dir, target)
    assert not again["changed"] and again["restored_parts"][0]["changed"] == 0
    assert not restore(keystore, backup_dir, target, check_mode=True)["changed"]


def test_restore_replaces_only_what_differs_and_deletes_nothing(tmp_path, keystore, data_tree, backup_dir):
    target = tmp_path / "target"
    restore(keystore, backup_dir, target)
    conf = restored_path(target, data_tree / "conf/app.conf")
    blob = restored_path(target, data_tree / "blob.bin")
    with open(conf, "r+b") as handle:  # same size, one byte different
        handle.seek(100)
        handle.write(b"#")
    os.chmod(blob, 0o600)
    extra = restored_path(target, data_tree / "extra.txt")
    open(extra, "w").write("not in the backup")
    blob_inode = os.stat(blob).st_ino
    result = restore(keystore, backup_dir, target)
    assert sorted(result["restored_parts"][0]["changes"]) == sorted([conf, blob])
    assert open(conf, "rb").read() == (data_tree / "conf/app.conf").read_bytes()
    assert os.stat(blob).st_ino == blob_inode  # only its mode was put back
    assert os.path.exists(extra)


def test_remove_extra_takes_away_what_the_backup_does_not_hold(tmp_path, keystore, data_tree, backup_dir):
    """A rollback to a safety copy (issue 13): what the failed restore added under the paths goes too."""
    target = tmp_path / "target"
    restore(keystore, backup_dir, target)
    added = [restored_path(target, data_tree / "extra.txt"), restored_path(target, data_tree / "conf/new")]
    open(added[0], "w").write("added by a failed restore")
    os.makedirs(os.path.join(added[1], "deeper"))
    options = {"target_root": str(target), "remove_extra": True}
    planned = restore_backup(Unlocker(keystore), backup_dir, provider_options=options, check_mode=True)
    assert sorted(planned["restored_parts"][0]["changes"]) == sorted(added) and all(map(os.path.lexists, added))
    done = restore_backup(Unlocker(keystore), backup_dir, provider_options=options)
    assert sorted(done["restored_parts"][0]["changes"]) == sorted(added)
    assert not any(map(os.path.lexists, added))
    assert open(restored_path(target, data_tree / "conf/app.conf"), "rb").read() == \
        (data_tree / "conf/app.conf").read_bytes()
    assert not restore(keystore, backup_dir, target)["changed"]


def test_restore_over_the_original_paths(tmp_path, keystore, data_tree, backup_dir):
    """The default target_root is /: the files come back where they were."""
    (data_tree / "conf/app.conf").unlink()
    (data_tree / "blob.bin").write_bytes(b"overwritten")
    result = restore_backup(Unlocker(keystore), backup_dir)
    assert result["changed"]
    assert (data_tree / "conf/app.conf").exists() and (data_tree / "blob.bin").stat().st_size > 3 * 1024 * 1024


def test_unknown_part_and_other_provider_are_refused(tmp_path, keystore, backup_dir):
    with pytest.raises(InvalidInput, match="has no part 'nope'"):
        restore(keystore, backup_dir, tmp_path / "t", parts=["nope"])
    with pytest.raises(InvalidInput, match="taken by provider files"):
        restore_backup(Unlocker(keystore), backup_dir, provider="freeipa")


def test_unsafe_member_names_are_refused():
    for name in ("../etc/passwd", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(InvalidInput, match="unsafe path"):
            files._safe_relative(name)


def test_crafted_tar_cannot_escape_target_root(tmp_path, keystore, pool):
    """A backup whose tar climbs out with '..' is refused while planning, before anything is written."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    manifest = new_manifest(name="files-full-2026-01-01-00-00-00", product="files", type="full",
                            online=False, scope="system", createdAt="2026-01-01T00:00:00.000000Z")
    root = tmp_path / "crafted"
    root.mkdir()
    with BackupWriter(str(root), manifest, None, [], pool) as writer:
        with writer.part("evil.tar", "tar") as out:
            out.write(raw.getvalue())
        path = writer.commit()
    with pytest.raises(InvalidInput, match="unsafe path"):
        restore(keystore, path, tmp_path / "target")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "target").exists()


def test_missing_path_fails_before_anything_is_written(tmp_path, keystore):
    with pytest.raises(InvalidInput, match="does not exist"):
        create_backup(keystore, "files", {"paths": ["/nonexistent/drkit"]}, dest=str(tmp_path / "b"))
    assert not (tmp_path / "b").exists()


def test_data_type_and_relative_paths_are_refused(tmp_path, keystore, data_tree):
    with pytest.raises(InvalidInput, match="full backups only"):
        create_backup(keystore, "files", {"paths": [str(data_tree)]}, backup_type="data",
                      dest=str(tmp_path / "b"))
    with pytest.raises(InvalidInput, match="must be absolute"):
        create_backup(keystore, "files", {"paths": ["relative/path"]}, dest=str(tmp_path / "b"))


def test_a_path_through_a_link_that_is_backed_up_too_is_refused(tmp_path, keystore):
    """Restored to a fresh target, the link and the directories under its name would collide (issue 13, item 1)."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "f").write_text("x")
    os.symlink(str(tmp_path / "real"), str(tmp_path / "link"))
    for paths in ([tmp_path / "link", tmp_path / "link" / "sub"], [tmp_path, tmp_path / "link" / "sub"]):
        with pytest.raises(InvalidInput, match="goes through the symbolic link %s" % (tmp_path / "link")):
            create_backup(keystore, "files", {"paths": [str(p) for p in paths]}, dest=str(tmp_path / "b"))
    # Through a link that is not itself backed up, the path is simply backed up where it is named.
    made = create_backup(keystore, "files", {"paths": [str(tmp_path / "link" / "sub")]}, dest=str(tmp_path / "b"))
    restored = restore_backup(Unlocker(keystore), made["path"], provider_options={"target_root": str(tmp_path / "t")})
    assert restored["changed"]
    assert (tmp_path / "t" / str(tmp_path / "link" / "sub" / "f").lstrip("/")).read_text() == "x"
