# -*- coding: utf-8 -*-
"""Format versions (DESIGN decisions 11 and 31): headers of a newer format minor are read, their added fields
ignored but kept; the same fields in a header of this release's minor are refused; a part codec this release
does not have is refused by name; a newer major is refused (test_format.py).

The fixtures are real backups made by the engine whose header is then written again as a newer drkit.backup
would write it: fields added, ``formatVersion`` raised, and the checksum, the MAC (under the backup's real data
key) and the signature made again over the new manifest.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    FormatError, IntegrityError, KeyNotFound)
from ansible_collections.drkit.backup.plugins.module_utils.format import header as header_mod
from ansible_collections.drkit.backup.plugins.module_utils.format.header import Header, mac_ok
from ansible_collections.drkit.backup.plugins.module_utils.format.names import FORMAT_VERSION
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.rekey import rekey, rekey_backups
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import crypto
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from ansible_collections.drkit.backup.plugins.module_utils.protection.signing import Signer
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers.files.provider import FilesProvider

NEWER = "1.7"
KMS_SLOT = {"type": "kms", "keyRef": "arn:aws:kms:eu-west-1:111122223333:key/future", "wrapped": "AAAA"}


def make_backup(tmp_path, keystore, data_tree, pki=None, encryption="key"):
    """A files backup of two parts (conf/ and blob.bin), signed when ``pki`` is given."""
    signing = {"signing_certificate": pki["site_signer"], "signing_key": pki["site_key"]} if pki else {}
    made = create_backup(keystore, "files", {"paths": [str(data_tree / "conf"), str(data_tree / "blob.bin")]},
                         dest=str(tmp_path / "b"), encryption=encryption, **signing)
    return made["path"]


def rewrite(path, keystore, version=NEWER, manifest=None, outside=None, pki=None):
    """Writes the header of the backup at ``path`` again in format ``version``, as a release of that format would.

    ``manifest(manifest)`` changes the manifest, then its checksum, MAC (the real data key) and signature (with
    ``pki``'s site signer) are made again over its canonical bytes; ``outside(doc)`` then changes the rest.
    Returns the header document written.
    """
    old = open_backup(path).header()
    data_key = Unlocker(keystore).data_key(old)
    doc = json.loads(old.to_bytes())
    doc["manifest"]["formatVersion"] = version
    if manifest is not None:
        manifest(doc["manifest"])
    raw = canonjson.dumps(doc["manifest"])
    doc["manifestSha256"] = hashlib.sha256(raw).hexdigest()
    if data_key is not None:
        doc["manifestMac"] = crypto.mac(header_mod._mac_key(data_key, doc["manifest"]["id"]), raw)
    if pki is not None:
        doc["signature"] = Signer(pki["site_signer"], pki["site_key"]).sign(raw)
    if outside is not None:
        outside(doc)
    with open(os.path.join(path, "header.json"), "wb") as out:
        out.write(canonjson.dumps(doc))
    return doc


def future_fields(doc):
    """What a newer minor might add outside the manifest: a top-level block, a slot field, a signature field."""
    doc["extension"] = {"replicas": ["dr-site-2"], "level": 3}
    doc["keySlots"][0]["hint"] = "offline vault 7"
    doc["signature"]["timestamp"] = "2031-05-01T00:00:00Z"


def future_manifest(manifest):
    manifest["retentionClass"] = "gold"
    manifest["parts"][0]["chunkIndex"] = [0, 1048576]


def restored(target, original):
    return os.path.join(str(target), str(original).lstrip("/"))


def test_a_newer_minor_header_is_read_at_every_verify_level(tmp_path, keystore, data_tree, pki):
    path = make_backup(tmp_path, keystore, data_tree, pki)
    rewrite(path, keystore, manifest=future_manifest, outside=future_fields, pki=pki)
    header = open_backup(path).header()
    assert mac_ok(header, Unlocker(keystore).data_key(header))  # the fixture is authentic
    for level in ("none", "checksum", "full"):
        info = backup_info(str(tmp_path / "b"), level, unlocker=Unlocker(keystore),
                           trusted_certificates=[pki["site_ca"]])
        item = info["backups"][0]
        assert item["status"] == "complete" and item.get("problems", []) == [], item
        assert info.get("verified", True)
        newer = item["header"]["newerFormat"]
        assert newer["formatVersion"] == NEWER and newer["readBy"] == FORMAT_VERSION
        assert newer["ignoredFields"] == ["extension", "keySlots[0].hint", "signature.timestamp"]
        assert item["header"]["retentionClass"] == "gold"  # manifest fields are shown: the MAC covers them
        assert len(info["warnings"]) == 1
        assert "format %s by a newer drkit.backup" % NEWER in info["warnings"][0]
        assert "extension" in info["warnings"][0] and "upgrade" in info["warnings"][0]


def test_fields_outside_the_manifest_of_a_newer_minor_are_covered_by_nothing(tmp_path, keystore, data_tree, pki):
    """Which is why they are ignored and never trusted: changing one goes unseen, changing the manifest does not."""
    path = make_backup(tmp_path, keystore, data_tree, pki)
    doc = rewrite(path, keystore, outside=future_fields, pki=pki)
    doc["extension"]["level"] = 0
    open(os.path.join(path, "header.json"), "wb").write(canonjson.dumps(doc))
    assert backup_info(path, "full", unlocker=Unlocker(keystore), trusted_certificates=[pki["site_ca"]])["verified"]
    doc["manifest"]["description"] = "forged"
    doc["manifestSha256"] = hashlib.sha256(canonjson.dumps(doc["manifest"])).hexdigest()
    open(os.path.join(path, "header.json"), "wb").write(canonjson.dumps(doc))
    info = backup_info(path, "full", unlocker=Unlocker(keystore))
    assert not info["verified"] and "signature does not verify" in info["problems"][0]
    del doc["signature"]
    open(os.path.join(path, "header.json"), "wb").write(canonjson.dumps(doc))
    info = backup_info(path, "full", unlocker=Unlocker(keystore))
    assert not info["verified"] and "does not authenticate" in info["problems"][0]


def test_a_forger_cannot_claim_a_newer_minor_without_the_key(tmp_path, keystore, data_tree):
    """Raising formatVersion changes the manifest: without the data key its MAC cannot follow."""
    path = make_backup(tmp_path, keystore, data_tree)
    doc = json.loads(open(os.path.join(path, "header.json"), "rb").read())
    doc["manifest"]["formatVersion"] = NEWER
    doc["manifestSha256"] = hashlib.sha256(canonjson.dumps(doc["manifest"])).hexdigest()
    doc["extension"] = {"trust": "me"}
    open(os.path.join(path, "header.json"), "wb").write(canonjson.dumps(doc))
    info = backup_info(path, "full", unlocker=Unlocker(keystore))
    assert not info["verified"] and "does not authenticate" in info["problems"][0]
    with pytest.raises(IntegrityError, match="does not authenticate"):
        restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(tmp_path / "t")})
    assert not (tmp_path / "t").exists()


ADDITIONS = {
    "a top-level field": (None, lambda doc: doc.update(extension={"x": 1}), "has unknown fields extension"),
    "a key slot field": (None, lambda doc: doc["keySlots"][0].update(hint="vault"), "a key slot is malformed"),
    "a signature field": (None, lambda doc: doc["signature"].update(timestamp="now"), "signature is malformed"),
    "a key slot type": (None, lambda doc: doc["keySlots"].append(dict(KMS_SLOT)), "a key slot is malformed"),
    "a part codec": (lambda manifest: manifest["parts"][1].update(codec="zstd-dict-v2"), None,
                     "names codec 'zstd-dict-v2', which format %s does not have" % FORMAT_VERSION),
}


@pytest.mark.parametrize("added", sorted(ADDITIONS))
def test_the_same_additions_in_this_releases_minor_are_refused(tmp_path, keystore, data_tree, pki, added):
    """A header claiming this release's format cannot hold what only a newer one may add: it was forged or damaged."""
    path = make_backup(tmp_path, keystore, data_tree, pki)
    manifest, outside, message = ADDITIONS[added]
    rewrite(path, keystore, version=FORMAT_VERSION, pki=pki)
    assert backup_info(path, "full", unlocker=Unlocker(keystore))["verified"]  # the rewrite alone is sound
    rewrite(path, keystore, version=FORMAT_VERSION, manifest=manifest, outside=outside, pki=pki)
    for level in ("none", "checksum", "full"):
        item = backup_info(path, level, unlocker=Unlocker(keystore))["backups"][0]
        assert item["status"] == "damaged" and message in item["problems"][0], item
        assert "changed or damaged" in item["problems"][0]
    with pytest.raises(FormatError, match="changed or damaged"):
        restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(tmp_path / "t")})


@pytest.mark.parametrize("added", sorted(ADDITIONS))
def test_the_same_additions_in_a_newer_minor_are_read(tmp_path, keystore, data_tree, pki, added):
    path = make_backup(tmp_path, keystore, data_tree, pki)
    manifest, outside = ADDITIONS[added][:2]
    rewrite(path, keystore, manifest=manifest, outside=outside, pki=pki)
    info = backup_info(path, "checksum", unlocker=Unlocker(keystore), trusted_certificates=[pki["site_ca"]])
    assert info["verified"], info["problems"]
    assert info["backups"][0]["header"]["newerFormat"]["formatVersion"] == NEWER


def test_an_older_minor_than_this_release_is_held_to_its_own_fields(tmp_path, keystore, data_tree, monkeypatch):
    """Were this release format 1.3, a 1.2 header with an added field would be refused, a 1.4 one read."""
    monkeypatch.setattr(header_mod, "THIS_VERSION", (1, 3))
    path = make_backup(tmp_path, keystore, data_tree)
    original = open(os.path.join(path, "header.json"), "rb").read()
    rewrite(path, keystore, version="1.2", outside=lambda doc: doc.update(extension={}))
    assert "has unknown fields extension" in backup_info(path)["backups"][0]["problems"][0]
    open(os.path.join(path, "header.json"), "wb").write(original)
    rewrite(path, keystore, version="1.4", outside=lambda doc: doc.update(extension={}))
    assert backup_info(path, "full", unlocker=Unlocker(keystore))["verified"]


def test_a_newer_minor_header_must_still_be_canonical(tmp_path, keystore, data_tree):
    path = make_backup(tmp_path, keystore, data_tree)
    doc = rewrite(path, keystore, outside=lambda doc: doc.update(extension={"b": 1, "a": 2}))
    for raw in (json.dumps(doc, indent=1).encode(), json.dumps(doc, sort_keys=False).encode(),
                canonjson.dumps(doc).replace(b'"a":2', b'"\\u0061":2')):
        open(os.path.join(path, "header.json"), "wb").write(raw)
        item = backup_info(path, "checksum")["backups"][0]
        assert item["status"] == "damaged" and "canonical" in item["problems"][0], item


@pytest.mark.parametrize("version", ["1", "1.x", "v1.0", "1.0.1", "1.-1", "", "1.\u0661"])
def test_a_format_version_that_is_not_major_minor_is_refused(tmp_path, keystore, data_tree, version):
    path = make_backup(tmp_path, keystore, data_tree)
    rewrite(path, keystore, version=version)
    problem = backup_info(path)["backups"][0]["problems"][0]
    assert "format version %r is not understood" % version in problem


def test_a_newer_minor_files_backup_restores(tmp_path, keystore, data_tree, pki):
    path = make_backup(tmp_path, keystore, data_tree, pki)
    rewrite(path, keystore, manifest=future_manifest, outside=future_fields, pki=pki)
    target = tmp_path / "t"
    result = restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(target)},
                            trusted_certificates=[pki["site_ca"]])
    assert result["changed"] and result["backup"]["newerFormat"]["formatVersion"] == NEWER
    for name in ("conf/app.conf", "blob.bin"):
        with open(restored(target, data_tree / name), "rb") as got, open(str(data_tree / name), "rb") as want:
            assert got.read() == want.read()


def test_rekey_keeps_what_a_newer_minor_added(tmp_path, keystore, data_tree, pki):
    old = keystore.keys()[0]
    new = keys.BackupKey.generate("new", "system", None)
    keystore.add(new)
    path = make_backup(tmp_path, keystore, data_tree, pki)
    written = rewrite(path, keystore, manifest=future_manifest, outside=future_fields, pki=pki)
    done = rekey_backups(Unlocker(keystore), str(tmp_path / "b"), [old.id, new.id])
    assert done["rekeyed"] == [path] and not done["warnings"]
    after = json.loads(open(os.path.join(path, "header.json"), "rb").read())
    assert after["keySlots"][0] == written["keySlots"][0]  # the kept slot keeps its added field
    assert after["keySlots"][1]["keyId"] == new.id and "hint" not in after["keySlots"][1]
    assert {field: after[field] for field in after if field != "keySlots"} == \
        {field: written[field] for field in written if field != "keySlots"}  # the rest, byte for byte
    assert open_backup(path).header().ignored == ["extension", "keySlots[0].hint", "signature.timestamp"]

    # Rotated to the new key alone, it still opens, verifies and restores.
    assert rekey_backups(Unlocker(keystore), path, [new.id])["rekeyed"] == [path]
    alone = keys.Keystore(str(tmp_path / "new-only"))
    alone.add(new)
    info = backup_info(path, "full", unlocker=Unlocker(alone), trusted_certificates=[pki["site_ca"]])
    assert info["verified"], info["problems"]
    assert info["backups"][0]["header"]["newerFormat"]["ignoredFields"] == ["extension", "signature.timestamp"]
    restore_backup(Unlocker(alone), path, provider_options={"target_root": str(tmp_path / "t")})


def test_rekey_of_a_single_file_backup_of_a_newer_minor(tmp_path, keystore, data_tree, pki):
    new = keys.BackupKey.generate("new", "system", None)
    keystore.add(new)
    path = make_backup(tmp_path, keystore, data_tree, pki)
    rewrite(path, keystore, outside=future_fields, pki=pki)
    packed = pack_backup(path, str(tmp_path / "out"))["path"]
    assert rekey_backups(Unlocker(keystore), packed, [new.id])["rekeyed"] == [packed]
    header = open_backup(packed).header()
    assert header.key_ids == [new.id] and header.doc["extension"] == {"replicas": ["dr-site-2"], "level": 3}


def test_a_key_slot_of_an_unknown_type_is_skipped(tmp_path, keystore, data_tree):
    path = make_backup(tmp_path, keystore, data_tree)
    rewrite(path, keystore, outside=lambda doc: doc["keySlots"].insert(0, dict(KMS_SLOT)))
    header = open_backup(path).header()
    assert header.unknown_slot_types == ["kms"] and "a key slot of type kms" in header.protection()["summary"]
    info = backup_info(path, "full", unlocker=Unlocker(keystore))
    assert info["verified"], info["problems"]
    assert info["backups"][0]["header"]["newerFormat"]["unknownSlotTypes"] == ["kms"]
    restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(tmp_path / "t")})

    empty = Unlocker(keys.Keystore(str(tmp_path / "empty")))
    with pytest.raises(KeyNotFound) as raised:
        empty.data_key(header)
    message = str(raised.value)
    assert "backup key %s, which is not in" % header.key_ids[0] in message
    assert "key slots of type kms, which this release of drkit.backup cannot open" in message
    assert "backup_key_upload" in message and "upgrade the drkit.backup collection" in message


def test_a_backup_only_a_slot_of_an_unknown_type_opens_names_it(tmp_path, keystore, data_tree):
    path = make_backup(tmp_path, keystore, data_tree)
    rewrite(path, keystore, outside=lambda doc: doc.update(keySlots=[dict(KMS_SLOT)]))
    info = backup_info(path, "full", unlocker=Unlocker(keystore))
    assert not info["verified"]
    assert info["problems"] == ["backup %s is encrypted with key slots of type kms, which this release of "
                                "drkit.backup cannot open: upgrade the drkit.backup collection (a newer release "
                                "wrote those slots), then try again" % os.path.basename(path)]
    assert backup_info(path, "checksum")["verified"]  # its stored bytes are still checked


def test_rekey_drops_a_slot_of_an_unknown_type_and_says_so(tmp_path, keystore, data_tree):
    path = make_backup(tmp_path, keystore, data_tree)
    rewrite(path, keystore, outside=lambda doc: doc["keySlots"].append(dict(KMS_SLOT)))
    key_ids = [key.id for key in keystore.keys()]
    planned = rekey_backups(Unlocker(keystore), path, key_ids, check_mode=True)
    assert planned["rekeyed"] == [path] and "would be removed" in planned["warnings"][0]
    assert open_backup(path).header().unknown_slot_types == ["kms"]
    done = rekey(Unlocker(keystore), path, key_ids)
    assert "slots of type kms" in done["warnings"][0] and "were removed" in done["warnings"][0]
    assert open_backup(path).header().unknown_slot_types == []
    assert backup_info(path, "full", unlocker=Unlocker(keystore))["verified"]


def test_a_part_in_an_unknown_codec_is_refused_by_name_before_anything_is_staged(
        tmp_path, keystore, data_tree, monkeypatch):
    handed = []
    for method in ("plan_part", "stage_part"):
        monkeypatch.setattr(FilesProvider, method, lambda self, part, *args: handed.append(part["name"]) or [])
    path = make_backup(tmp_path, keystore, data_tree)
    codec_part = open_backup(path).header().parts[1]["name"]
    rewrite(path, keystore, manifest=lambda manifest: manifest["parts"][1].update(codec="zstd-dict-v2"))
    expected = "part %s of backup %s uses codec zstd-dict-v2, made by a newer drkit.backup" % (
        codec_part, os.path.basename(path))

    listed = backup_info(path)
    assert listed["backups"][0]["header"]["newerFormat"]["unreadableParts"] == [codec_part]
    assert "cannot be restored" in listed["warnings"][0]
    assert backup_info(path, "checksum")["verified"]  # its stored bytes need no decoding
    full = backup_info(path, "full", unlocker=Unlocker(keystore))
    assert not full["verified"] and len(full["problems"]) == 1
    assert expected in full["problems"][0] and "upgrade the drkit.backup collection" in full["problems"][0]

    target = tmp_path / "t"
    for check_mode in (True, False):
        with pytest.raises(IntegrityError) as raised:
            restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(target)},
                           check_mode=check_mode)
        assert expected in str(raised.value)
        assert check_mode or "nothing was restored" in str(raised.value)
        assert not target.exists() and handed == []  # not even the part it could read was staged or planned
    # Its other part alone is refused too: the backup cannot be verified whole.
    first = open_backup(path).header().parts[0]["name"]
    with pytest.raises(IntegrityError, match="uses codec zstd-dict-v2"):
        restore_backup(Unlocker(keystore), path, provider_options={"target_root": str(target)}, parts=[first])
    assert not target.exists() and handed == []


def test_a_codec_of_the_wrong_type_is_refused(tmp_path, keystore, data_tree):
    path = make_backup(tmp_path, keystore, data_tree)
    rewrite(path, keystore, manifest=lambda manifest: manifest["parts"][0].update(codec=2))
    assert "field 'codec' is missing or of the wrong type" in backup_info(path)["backups"][0]["problems"][0]


def test_an_unencrypted_newer_minor_backup_is_read(tmp_path, keystore, data_tree):
    path = make_backup(tmp_path, keystore, data_tree, encryption="none")
    rewrite(path, keystore, manifest=future_manifest, outside=lambda doc: doc.update(extension={}))
    assert backup_info(path, "full")["verified"]
    header = Header.parse(open(os.path.join(path, "header.json"), "rb").read(), "test")
    assert header.newer_minor and header.ignored == ["extension"]
