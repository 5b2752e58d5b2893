# -*- coding: utf-8 -*-
"""backup_rekey: rewriting the slots revokes nothing (and says so); rotate_data_key re-encrypts every part under a
new data key, streaming, verified before it is swapped in, and a run killed half-way is finished or undone."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tracemalloc

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    IntegrityError, InvalidInput, KeyNotFound, OperationInProgress, PartialFailure)
from ansible_collections.drkit.backup.plugins.module_utils.format import sources, writer as writer_module
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import PartWriter
from ansible_collections.drkit.backup.plugins.module_utils.format.header import mac_ok, new_header, new_manifest
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import open_part_reader
from ansible_collections.drkit.backup.plugins.module_utils.format.writer import BackupWriter
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir
from ansible_collections.drkit.backup.plugins.module_utils.operations import rotation
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.rekey import rekey, rekey_backups
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Protection, Unlocker, hsm_factory

MIB = 1024 * 1024
LINE = b"dn: uid=someone,cn=users,cn=accounts,dc=example,dc=test\n"


def backup(keystore, data_tree, dest, **kwargs):
    return create_backup(keystore, "files", {"paths": [str(data_tree)]}, dest=str(dest), **kwargs)["path"]


def next_key(keystore, name="next"):
    key = keys.BackupKey.generate(name, "system", None)
    keystore.add(key)
    return key


def only(directory, *held, **unlocker_options):
    """An unlocker whose keystore holds ``held`` alone."""
    store = keys.Keystore(str(directory))
    for key in held:
        store.add(key)
    return Unlocker(store, **unlocker_options)


def rotate(keystore, path, key_ids, **kwargs):
    return rekey_backups(Unlocker(keystore, hsm=kwargs.pop("unlock_hsm", None)), str(path), key_ids,
                         rotate_data_key=True, **kwargs)


def tree(top) -> dict:
    found = {}
    for directory, dirs, files in os.walk(str(top)):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                found[os.path.relpath(path, str(top))] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    found[os.path.relpath(path, str(top))] = (hashlib.sha256(handle.read()).hexdigest(),
                                                              stat.S_IMODE(info.st_mode))
    return found


def restored_tree(unlocker, path, target, data_tree):
    restore_backup(unlocker, str(path), provider_options={"target_root": str(target)})
    return tree(os.path.join(str(target), str(data_tree).lstrip("/")))


def opens(unlocker, path):
    """True, or the message of the error that says why ``unlocker`` does not open the backup."""
    try:
        unlocker.data_key(open_backup(str(path)).header())
        return True
    except (KeyNotFound, IntegrityError, InvalidInput) as exc:
        return str(exc)


def stored_bytes(top) -> dict:
    found = {}
    for directory, _dirs, files in os.walk(str(top)):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                found[os.path.relpath(os.path.join(directory, name), str(top))] = handle.read()
    return found


# --- rewriting the slots: not revocation, and the result says so -----------------------------------

def test_rewriting_the_slots_revokes_nothing_and_says_so(tmp_path, keystore, data_tree):
    old = keystore.keys()[0]
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    offsite = tmp_path / "offsite" / os.path.basename(made)
    shutil.copytree(made, str(offsite))  # a copy taken before the rekey (another host, an offsite store)

    done = rekey(Unlocker(keystore), made, [new.id])
    assert done["rekeyed"] == [made] and done["revoked"] is False
    assert "data key" in done["note"] and "still opens every copy" in done["note"] and "rotate_data_key" in done["note"]
    # What the note says: the removed key opens the older copy, and that copy's data key opens the parts here.
    old_only = only(tmp_path / "old-only", old)
    old_data_key = old_only.data_key(open_backup(str(offsite)).header())
    assert opens(old_only, made) is not True
    assert mac_ok(open_backup(made).header(), old_data_key)


# --- rotate_data_key ---------------------------------------------------------------------------------

def test_rotation_re_encrypts_every_part_and_the_removed_key_no_longer_opens(tmp_path, keystore, data_tree, pool):
    old = keystore.keys()[0]
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    before = open_backup(made).header()
    old_data_key = Unlocker(keystore).data_key(before)
    parts_before = stored_bytes(os.path.join(made, "parts"))

    done = rotate(keystore, made, [new.id])
    assert done["changed"] and done["revoked"] is True and done["rekeyed"] == [made] and not done["not_rekeyed"]
    assert "no longer opens" in done["note"] and "Copies made before this run" in done["note"]
    assert [item["path"] for item in done["reencrypted"]] == [made]
    assert done["reencrypted"][0]["parts"] == [part["name"] for part in before.parts]
    assert sorted(os.listdir(str(tmp_path / "b"))) == [os.path.basename(made)]  # nothing left beside it

    after = open_backup(made).header()
    assert after.key_ids == [new.id] and after.id == before.id and after.name == before.name
    assert after.doc["manifestMac"] != before.doc["manifestMac"]
    for field in set(before.manifest) | set(after.manifest):
        if field != "parts":
            assert after.manifest.get(field) == before.manifest.get(field), field
    for was, now in zip(before.parts, after.parts):
        assert {k: v for k, v in now.items() if k not in ("storedSize", "storedSha256")} == \
            {k: v for k, v in was.items() if k not in ("storedSize", "storedSha256")}
        assert now["storedSha256"] != was["storedSha256"]
    parts_after = stored_bytes(os.path.join(made, "parts"))
    assert parts_after.keys() == parts_before.keys()
    assert all(parts_after[name] != parts_before[name] for name in parts_before)

    # The removed key fails plainly; even its old data key opens nothing now.
    message = opens(only(tmp_path / "old-only", old), made)
    assert "backup key %s, which is not in" % new.id in message and "backup_key_upload" in message
    assert not mac_ok(after, old_data_key)
    handle, reader, _part = open_part_reader(open_backup(made), after, old_data_key, after.parts[0]["name"], pool)
    with handle, pytest.raises(IntegrityError, match="does not authenticate"):
        reader.drain()
    # The new key opens it, and a restore gives back the same files.
    new_only = only(tmp_path / "new-only", new)
    assert backup_info(made, "full", new_only)["verified"]
    assert restored_tree(new_only, made, tmp_path / "t", data_tree) == tree(data_tree)
    # A rotation is an action: run again, it makes yet another data key.
    assert rotate(keystore, made, [new.id])["changed"]
    assert restored_tree(new_only, made, tmp_path / "t2", data_tree) == tree(data_tree)


def test_rotation_in_check_mode_reports_and_writes_nothing(tmp_path, keystore, data_tree):
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    header = open_backup(made).header()
    before = stored_bytes(tmp_path / "b")
    planned = rotate(keystore, tmp_path / "b", [new.id], check_mode=True)
    assert stored_bytes(tmp_path / "b") == before
    assert planned["changed"] and planned["rekeyed"] == [made] and planned["revoked"] is False
    assert planned["reencrypted"] == [{"path": made, "parts": [part["name"] for part in header.parts],
                                       "size": sum(part["size"] for part in header.parts),
                                       "stored_size": sum(part["storedSize"] for part in header.parts),
                                       "signature": "none"}]
    assert "check mode" in planned["note"]


def test_rotation_of_a_single_file_backup(tmp_path, keystore, data_tree):
    old = keystore.keys()[0]
    new = next_key(keystore)
    packed = pack_backup(backup(keystore, data_tree, tmp_path / "b"), str(tmp_path / "out"))["path"]
    done = rotate(keystore, packed, [new.id])
    assert done["revoked"] and done["rekeyed"] == [packed]
    assert os.listdir(str(tmp_path / "out")) == [os.path.basename(packed)]
    assert open_backup(packed).header().key_ids == [new.id]
    assert "not in" in opens(only(tmp_path / "old-only", old), packed)
    assert restored_tree(only(tmp_path / "new-only", new), packed, tmp_path / "t", data_tree) == tree(data_tree)


def test_rotation_to_an_escrow_recipient_held_elsewhere(tmp_path, keystore, data_tree, gnupg_home):
    """The new slots are verified with what this host holds, or, for a GnuPG key held elsewhere, with the new key."""
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    assert rotate(keystore, made, [], gpg_home=gnupg_home, gpg_recipients=["backup@example.test"])["revoked"]
    protection = open_backup(made).header().protection()
    assert protection["backupKeys"] == [] and len(protection["gpgRecipients"]) == 1
    assert restored_tree(only(tmp_path / "none", gpg_home=gnupg_home), made, tmp_path / "t", data_tree) == \
        tree(data_tree)
    # Opened through its GnuPG slot (this unlocker has the secret key), rotated to a backup key and the recipient.
    done = rekey_backups(Unlocker(keystore, gpg_home=gnupg_home), made, [new.id], gpg_home=gnupg_home,
                         gpg_recipients=["backup@example.test"], rotate_data_key=True)
    assert done["revoked"], done["not_rekeyed"]
    assert open_backup(made).header().key_ids == [new.id]


def streamed_backup(keystore, dest, pool, size, chunk_size):
    """A backup whose one part is ``size`` bytes in chunks of ``chunk_size`` (half random, half text)."""
    manifest = new_manifest(name="files-full-2026-01-01-00-00-00", product="files", type="full", online=True,
                            scope="system", domain=None, createdAt="2026-01-01T00:00:00Z", tiedToHSM=False, hsm=None)
    data_key, slots = Protection(keys=keystore.keys()).new_data_key(manifest["id"])
    os.makedirs(str(dest))
    with BackupWriter(str(dest), manifest, data_key, slots, pool, chunk_size=chunk_size) as out:
        with out.part("big.bin", "file") as part:
            for _block in range(size // (2 * MIB)):
                part.write(os.urandom(MIB))
                part.write((LINE * (MIB // len(LINE) + 1))[:MIB])
        return out.commit()


def test_rotation_streams_a_part_of_many_chunks(tmp_path, keystore, pool, monkeypatch):
    chunk, size = 4096, 8 * MIB
    made = streamed_backup(keystore, tmp_path / "b", pool, size, chunk)
    largest = {"write": 0, "buffer": 0, "writes": 0}

    class Watched(PartWriter):
        def write(self, data):
            largest.update(write=max(largest["write"], len(data)), writes=largest["writes"] + 1)
            written = super().write(data)
            largest["buffer"] = max(largest["buffer"], len(self._buf))
            return written

    monkeypatch.setattr(writer_module, "PartWriter", Watched)
    # Reading header.json asks for its 16 MiB limit at once: untouched pages, yet tracemalloc counts them.
    monkeypatch.setattr(sources, "MAX_HEADER_BYTES", 64 * 1024)
    new = next_key(keystore)
    tracemalloc.start()
    try:
        done = rotate(keystore, made, [new.id])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done["revoked"] and done["reencrypted"][0]["size"] == size
    # The part went through chunk by chunk: 2048 writes of one chunk, never more than one chunk waiting.
    assert largest == {"write": chunk, "buffer": chunk, "writes": size // chunk}
    # The 1 MiB buffer of the stored file and a few chunks in flight, never the part.
    assert peak < size // 4, "rotating an %d MiB part held %d KiB" % (size // MIB, peak // 1024)
    header = open_backup(made).header()
    assert header.manifest["encryption"]["chunkSize"] == chunk
    assert backup_info(made, "full", only(tmp_path / "new-only", new))["verified"]


def test_a_signature_is_dropped_with_a_warning_or_made_again(tmp_path, keystore, data_tree, pki):
    new = next_key(keystore)
    signing = {"signing_certificate": pki["site_signer"], "signing_key": pki["site_key"]}
    made = backup(keystore, data_tree, tmp_path / "b", **signing)
    again = str(tmp_path / "c" / os.path.basename(made))
    shutil.copytree(made, again)

    dropped = rotate(keystore, made, [new.id])
    assert dropped["reencrypted"][0]["signature"] == "dropped"
    assert "was signed by CN=site backup signer" in dropped["warnings"][0] and "signing_key" in dropped["warnings"][0]
    assert not open_backup(made).header().protection()["signed"]
    assert "is not signed" in backup_info(made, "checksum", trusted_certificates=[pki["site_ca"]])["problems"][0]

    signed = rotate(keystore, again, [new.id], **signing)
    assert signed["reencrypted"][0]["signature"] == "signed" and not signed["warnings"]
    assert backup_info(again, "checksum", trusted_certificates=[pki["site_ca"]])["verified"]
    with pytest.raises(InvalidInput, match="only rotate_data_key"):
        rekey_backups(Unlocker(keystore), again, [new.id], **signing)


def test_a_task_with_a_failure_still_says_what_was_rotated_and_its_warnings(tmp_path, keystore, data_tree, pki):
    new = next_key(keystore)
    signed = backup(keystore, data_tree, tmp_path / "b", signing_certificate=pki["site_signer"],
                    signing_key=pki["site_key"])
    plain = backup(keystore, data_tree, tmp_path / "b", encryption="none")
    with pytest.raises(PartialFailure) as failure:
        rekey(Unlocker(keystore), str(tmp_path / "b"), [new.id], rotate_data_key=True)
    assert "%s: backup" % plain in str(failure.value) and "is not encrypted" in str(failure.value)
    assert "Also: backup %s was signed by CN=site backup signer" % os.path.basename(signed) in str(failure.value)
    result = failure.value.result
    assert [item["path"] for item in result["reencrypted"]] == [signed] and result["revoked"] is False
    assert "warnings" not in result and "msg" not in result  # fail_json takes msg apart, and warnings no more
    assert "those in not_rekeyed keep their old data key" in result["note"]


def test_hsm_tied_backup_rotates_only_with_the_token(tmp_path, keystore, data_tree, softhsm):
    old = keystore.keys()[0]
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b", tied_to_hsm=True, hsm=softhsm)
    refused = rotate(keystore, made, [new.id])
    assert "tied to HSM key root on token drkit" in refused["not_rekeyed"][0]["msg"] and "give hsm" in \
        refused["not_rekeyed"][0]["msg"]
    assert open_backup(made).header().key_ids == [old.id]
    token = {"module": softhsm["module"], "pin": softhsm["pin"]}
    done = rotate(keystore, made, [new.id], hsm=token, unlock_hsm=hsm_factory(token))
    assert done["revoked"] and open_backup(made).header().manifest["tiedToHSM"]
    assert "tied to HSM" in opens(only(tmp_path / "new-no-hsm", new), made)  # a slot alone still opens nothing
    assert "not in" in opens(only(tmp_path / "old", old, hsm=hsm_factory(token)), made)
    assert restored_tree(only(tmp_path / "new", new, hsm=hsm_factory(token)), made, tmp_path / "t", data_tree) == \
        tree(data_tree)


def test_what_cannot_be_rotated_fails_plainly_and_changes_nothing(tmp_path, keystore, data_tree, monkeypatch):
    fin = keys.BackupKey.generate("fin", "domain", "finance")
    keystore.add(fin)
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    plain = backup(keystore, data_tree, tmp_path / "plain", encryption="none")
    before = {"b": stored_bytes(tmp_path / "b"), "plain": stored_bytes(tmp_path / "plain")}
    assert "no way to open it" in rotate(keystore, made, [])["not_rekeyed"][0]["msg"]
    assert "cannot encrypt a system backup" in rotate(keystore, made, [fin.id])["not_rekeyed"][0]["msg"]
    assert "not encrypted" in rotate(keystore, plain, [new.id])["not_rekeyed"][0]["msg"]
    monkeypatch.setattr(rotation.shutil, "disk_usage", lambda _path: shutil._ntuple_diskusage(1, 1, 1))
    full = rotate(keystore, made, [new.id])["not_rekeyed"][0]["msg"]
    assert "has 0.0 MiB free" in full and "nothing was written and the backup is unchanged" in full
    monkeypatch.undo()
    assert {"b": stored_bytes(tmp_path / "b"), "plain": stored_bytes(tmp_path / "plain")} == before
    # A part damaged on disk: found while re-encrypting, and the backup stays as it was.
    part = os.path.join(made, "parts", os.listdir(os.path.join(made, "parts"))[0])
    with open(part, "r+b") as handle:
        handle.seek(40)
        byte = handle.read(1)
        handle.seek(40)
        handle.write(bytes([byte[0] ^ 1]))
    before = stored_bytes(tmp_path / "b")
    damaged = rotate(keystore, made, [new.id])
    assert "does not authenticate" in damaged["not_rekeyed"][0]["msg"] and not damaged["revoked"]
    assert stored_bytes(tmp_path / "b") == before


def test_a_backup_of_a_newer_minor_format_is_not_rewritten(tmp_path, keystore, data_tree):
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    header = open_backup(made).header()
    manifest = dict(header.manifest, formatVersion="1.7")
    newer = new_header(manifest, Unlocker(keystore).data_key(header), header.slots)
    with open(os.path.join(made, "header.json"), "wb") as out:
        out.write(newer.to_bytes())
    failed = rotate(keystore, made, [new.id])["not_rekeyed"][0]["msg"]
    assert "format 1.7 by a newer drkit.backup" in failed and "upgrade" in failed


def test_rotation_holds_the_host_lock(tmp_path, keystore, data_tree, state_dir):
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    with StateDir(state_dir).locked("a restore"):
        with pytest.raises(OperationInProgress, match="another drkit.backup operation is running"):
            rotate(keystore, made, [new.id])
        with pytest.raises(OperationInProgress):
            rotate(keystore, made, [new.id], check_mode=True)


# --- a run killed half-way: the next run finishes or undoes it ---------------------------------------------

def half_swapped(tmp_path, keystore, data_tree, new):
    """The state a run killed between its two renames leaves: old aside, new (verified) in the work directory."""
    made = backup(keystore, data_tree, tmp_path / "b")
    elsewhere = str(tmp_path / "elsewhere" / os.path.basename(made))
    shutil.copytree(made, elsewhere)
    rotate(keystore, elsewhere, [new.id])
    work = rotation.work_dir(made)
    os.mkdir(work)
    os.rename(made, os.path.join(work, rotation.OLD))
    os.rename(elsewhere, os.path.join(work, os.path.basename(made)))
    return made, work


@pytest.mark.parametrize("given", ["backup", "root"])
def test_a_run_killed_between_the_renames_is_finished_by_the_next(tmp_path, keystore, data_tree, given):
    old = keystore.keys()[0]
    new = next_key(keystore)
    made, work = half_swapped(tmp_path, keystore, data_tree, new)
    path = made if given == "backup" else str(tmp_path / "b")
    planned = rekey_backups(Unlocker(keystore), path, [new.id], check_mode=True)
    assert planned["changed"] and "verified before the swap began, would be put in place" in planned["recovered"][0]
    assert not os.path.exists(made) and os.path.isdir(work)

    done = rekey_backups(Unlocker(keystore), path, [new.id])
    assert "was killed before it finished: the re-encrypted backup, verified before the swap began, was put in place" \
        in done["recovered"][0]
    assert done["recovered"][0] in done["warnings"]
    assert done["unchanged"] == [made]  # already opens with exactly the new key
    assert os.listdir(str(tmp_path / "b")) == [os.path.basename(made)]
    assert "not in" in opens(only(tmp_path / "old-only", old), made)
    assert restored_tree(only(tmp_path / "new-only", new), made, tmp_path / "t", data_tree) == tree(data_tree)


def test_what_a_run_killed_before_or_after_the_swap_left_is_removed(tmp_path, keystore, data_tree):
    old = keystore.keys()[0]
    new = next_key(keystore)
    made, work = half_swapped(tmp_path, keystore, data_tree, new)
    os.rename(os.path.join(work, os.path.basename(made)), made)  # killed after the swap: the old one is still aside
    assert "the backup in place is whole" in rekey_backups(Unlocker(keystore), made, [new.id])["recovered"][0]
    assert not os.path.exists(work) and opens(only(tmp_path / "n", new), made) is True

    # Killed while building: a half-written new backup beside the old one, which stays.
    os.makedirs(os.path.join(work, ".%s.partial" % os.path.basename(made), "parts"))
    before = stored_bytes(made)
    done = rekey_backups(Unlocker(keystore), str(tmp_path / "b"), [new.id])
    assert "the backup in place is whole" in done["recovered"][0] and done["unchanged"] == [made]
    assert not os.path.exists(work) and stored_bytes(made) == before
    assert "not in" in opens(only(tmp_path / "o", old), made)


def test_a_failure_during_the_swap_leaves_a_whole_backup(tmp_path, keystore, data_tree, monkeypatch):
    new = next_key(keystore)
    made = backup(keystore, data_tree, tmp_path / "b")
    real = faults.checkpoint

    def fail_at(name):
        if name == "rotate.aside":
            raise RuntimeError("the disk went away")
        real(name)

    monkeypatch.setattr(faults, "checkpoint", fail_at)
    with pytest.raises(RuntimeError):
        rotate(keystore, made, [new.id])
    assert os.listdir(str(tmp_path / "b")) == [os.path.basename(made)]
    assert open_backup(made).header().key_ids == [new.id]  # the verified new one was put in place
    assert backup_info(made, "full", only(tmp_path / "n", new))["verified"]
