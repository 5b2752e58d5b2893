# -*- coding: utf-8 -*-
"""The parsers of untrusted input fed generated and mutated input: the header, key files, single-file
backups and stored parts. Only the collection's own clean errors may come out, never a traceback."""

from __future__ import annotations

import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError
from ansible_collections.drkit.backup.plugins.module_utils.common.workers import worker_pool
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import ChunkCodec, PartReader
from ansible_collections.drkit.backup.plugins.module_utils.format.header import Header
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.format.verify import verify_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.pack import pack_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                max_size=5), max_leaves=20)


def examples(fast):
    return 150 if fast else 1500


def only_clean_errors(tally, function, *args):
    tally["fuzz inputs run"] += 1
    try:
        function(*args)
    except DrkitError:
        pass
    except Exception:  # noqa: BLE001 - this is what the test looks for
        tally["fuzz tracebacks"] += 1
        raise


@pytest.fixture(scope="module")
def samples(tmp_path_factory, keystore_module):
    base = tmp_path_factory.mktemp("fuzz")
    (base / "data").mkdir()
    (base / "data" / "users.ldif").write_bytes(b"dn: uid=alice\nuid: alice\n" * 50)
    made = create_backup(keystore_module, "files", {"paths": [str(base / "data")]},
                         dest=str(base / "backups"))
    packed = pack_backup(made["path"], str(base / "packed"))["path"]
    key_file = base / "key.drkitkey"
    key_file.write_bytes(keys.key_file_bytes(keystore_module.keys()[0], "fuzzing password"))
    with open(os.path.join(made["path"], "header.json"), "rb") as handle:
        header = handle.read()
    with open(packed, "rb") as handle:
        packed_bytes = handle.read()
    return {"header": header, "packed": packed_bytes, "name": os.path.basename(packed), "key": key_file.read_bytes(),
            "base": base}


def mutate(data: bytes, edits):
    """Applies (position, operation, byte) edits: replace, insert or delete."""
    data = bytearray(data)
    for position, operation, value in edits:
        if not data:
            break
        position %= len(data)
        if operation == 0:
            data[position] = value
        elif operation == 1:
            data.insert(position, value)
        else:
            del data[position]
    return bytes(data)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 2), st.integers(0, 255)), min_size=1, max_size=8)


def test_header_parser(samples, tally, fast):
    doc = json.loads(samples["header"])

    @settings(max_examples=examples(fast), deadline=None, suppress_health_check=list(HealthCheck))
    @given(edits=EDITS, value=JSON, path=st.lists(st.sampled_from(sorted(doc) + sorted(doc["manifest"])), max_size=2),
           raw=st.binary(max_size=300))
    def check(edits, value, path, raw):
        only_clean_errors(tally, Header.parse, mutate(samples["header"], edits), "fuzzed header")
        only_clean_errors(tally, Header.parse, raw, "fuzzed header")
        changed = json.loads(samples["header"])
        target = changed
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) and isinstance(target.get(key), dict) else target
        if path and isinstance(target, dict):
            target[path[-1]] = value
        only_clean_errors(tally, Header.parse, canonjson.dumps(changed), "fuzzed header")

    check()


def test_key_file_parser(samples, tally, fast, tmp_path):
    path = tmp_path / "fuzzed.drkitkey"

    def inspect_and_open(data):
        path.write_bytes(data)
        keys.inspect_key_file(str(path))
        keys.read_key_file(str(path), "fuzzing password")

    @settings(max_examples=examples(fast) // 3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(edits=EDITS, value=JSON, field=st.sampled_from(sorted(json.loads(samples["key"]))))
    def check(edits, value, field):
        only_clean_errors(tally, inspect_and_open, mutate(samples["key"], edits))
        doc = json.loads(samples["key"])
        doc[field] = value
        only_clean_errors(tally, inspect_and_open, canonjson.dumps(doc))

    check()


def test_single_file_parser(samples, keystore_module, tally, fast, tmp_path):
    path = tmp_path / samples["name"]

    def open_and_verify(data):
        path.write_bytes(data)
        with worker_pool() as pool:
            source = open_backup(str(path))
            header, problems = verify_backup(source, pool, Unlocker(keystore_module), full=True)
        if not problems:
            raise AssertionError("a changed single-file backup verified")

    @settings(max_examples=examples(fast) // 3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(edits=EDITS)
    def check(edits):
        data = mutate(samples["packed"], edits)
        if data != samples["packed"]:
            only_clean_errors(tally, open_and_verify, data)

    check()


def test_stored_part_reader(tally, fast):
    @settings(max_examples=examples(fast), deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=st.binary(max_size=2000), keyed=st.booleans())
    def check(raw, keyed):
        def read():
            with worker_pool() as pool:
                codec = ChunkCodec(b"k" * 32 if keyed else None, 4096, 3)
                PartReader(io.BytesIO(b"DRKPART1" + raw), codec, pool, "fuzzed part").drain()
        only_clean_errors(tally, read)

    check()
