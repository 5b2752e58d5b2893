# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``kanidmd``'s offline database commands, checked by what they wrote, and its backup files read.

Kanidm's server/daemon/src/opt.rs and main.rs, server/core/src/lib.rs (backup_server_core, restore_server_core)
and server/lib/src/be/mod.rs:

- ``kanidmd database backup|restore|verify|reindex|vacuum -c server.toml`` (``kanidmd backup ...`` before
  1.1.0-alpha.9, PR #872); ``kanidmd version`` prints ``kanidmd <release>``;
- kanidmd exits 0 when it did not back up: the target exists ("... already exists, will not overwrite it."), the
  backend cannot open, the file cannot be created; and 0 when a restore's file cannot be opened. So a backup is
  judged by the file it wrote (present, non-empty, a backup of this release's series) and a restore by its
  "Restore Success" line, never by the exit code alone;
- the backup is JSON (DbBackup: ``version`` "major.minor", ``entries`` [{"ent": {"V3": {"attrs": ...}}}] ...),
  gzip-compressed unless [online_backup].compression says none, and a restore takes a file as gzip only when its
  name ends in ``.gz``; a restore refuses another series (DB0001MismatchedRestoreVersion).
"""

from __future__ import annotations

import gzip
import json
import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError

VERSION = re.compile(r"kanidmd\s+v?(\d+\.\d+\.\d+\S*)")
GZIP_MAGIC = b"\x1f\x8b"
# Entries that are deleted, kept for replication: not part of what a restored server shows.
GONE = ("tombstone", "recycled")


class KanidmError(DrkitError):
    """kanidmd failed, or said nothing of what it should have done."""


def release_tuple(version: str) -> tuple:
    """(major, minor, patch, pre-release number or a large one for a final release) of "1.1.0-alpha.8"."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:-[A-Za-z]+\.?(\d+))?", version or "")
    if not match:
        raise KanidmError("kanidmd's release %r is not major.minor.patch" % version)
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), int(pre) if pre is not None else 1 << 30


def series(version: str) -> str:
    """The version series a backup records and a restore must match (KANIDM_PKG_SERIES, "major.minor")."""
    return "%d.%d" % release_tuple(version)[:2]


class Kanidmd:
    """The kanidmd program, run with ``-c server.toml``."""

    def __init__(self, program: str, config_path: str):
        self.program = program
        self.config_path = config_path
        self._version = None

    def version(self) -> str:
        if self._version is None:
            for args in (["version"], ["--version"]):
                result = process.run([self.program] + args, what="kanidmd %s" % args[0], timeout=60, check=False,
                                     error=KanidmError, missing="install kanidmd, or give its path "
                                                                "(provider_options.kanidmd)")
                match = VERSION.search(result.output)
                if result.code == 0 and match:
                    self._version = match.group(1)
                    break
            else:
                raise KanidmError("kanidmd did not say its release (kanidmd version, kanidmd --version): %s"
                                  % result.tail())
        return self._version

    def _database(self, command: str) -> list:
        # The database commands moved under "database" in 1.1.0-alpha.9.
        old = release_tuple(self.version()) < (1, 1, 0, 9)
        return [self.program, command] if old else [self.program, "database", command]

    def _run(self, command, *args, timeout=3600):
        argv = self._database(command) + ["-c", self.config_path] + list(args)
        return process.run(argv, what="kanidmd database %s" % command, timeout=timeout, check=False,
                           error=KanidmError)

    def backup(self, path: str) -> dict:
        """kanidmd database backup into ``path`` (which must not exist); what the file holds (:func:`read`)."""
        result = self._run("backup", path)
        if result.code != 0:
            raise KanidmError("kanidmd database backup failed (exit %d): %s" % (result.code, _errors(result)))
        if "will not overwrite" in result.output:
            raise KanidmError("kanidmd database backup exited 0 and wrote nothing: %s" % _errors(result))
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise KanidmError("kanidmd database backup exited 0 and wrote no backup file (%s): %s"
                              % (path, _errors(result)))
        return read(path)

    def restore(self, path: str) -> str:
        """kanidmd database restore from ``path`` (it wipes the database, loads the file and reindexes)."""
        result = self._run("restore", path)
        if result.code != 0:
            raise KanidmError("kanidmd database restore failed (exit %d): %s" % (result.code, _errors(result)))
        if not re.search(r"Restore Success", result.output):
            # Its exit-0 failures come before the load commits (backend, File::open) or after it (the reindex).
            raise KanidmError("kanidmd database restore exited 0 and did not say it restored: %s; the database is "
                              "as it was, or loaded and not reindexed: restore again once the cause is fixed"
                              % _errors(result))
        return "restored kanidmd's database (kanidmd database restore, which reindexes)"

    def verify(self) -> str:
        result = self._run("verify")
        if result.code != 0:
            raise KanidmError("kanidmd database verify found the restored database inconsistent (exit %d): %s"
                              % (result.code, _errors(result, 6)))
        if "Verification passed" not in result.output:  # its setup errors exit 0
            raise KanidmError("kanidmd database verify exited 0 and did not say it passed: %s" % _errors(result))
        return "kanidmd database verify found no error"

    def vacuum(self) -> str:
        result = self._run("vacuum")
        if result.code != 0:
            raise KanidmError("kanidmd database vacuum failed (exit %d): %s" % (result.code, _errors(result)))
        return "vacuumed kanidmd's database (kanidmd database vacuum)"


def _errors(result, lines=4) -> str:
    """The error lines of kanidmd's log, else its last lines."""
    found = [line.strip() for line in result.output.splitlines() if re.search(r"(?i)\berror\b|🚨", line)]
    return " / ".join(found[-lines:]) if found else result.tail(lines)


def is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def read(path: str) -> dict:
    """What a kanidmd backup file holds: its series, whether it is compressed, and its live persons, groups and
    entries (those not deleted). Raises :class:`KanidmError` when it is no backup."""
    compressed = is_gzip(path)
    try:
        with (gzip.open(path, "rt", encoding="utf-8") if compressed else open(path, encoding="utf-8")) as handle:
            data = json.load(handle)
    except (OSError, EOFError, ValueError) as exc:
        raise KanidmError("%s is not a kanidmd backup (%s JSON that cannot be read: %s)"
                          % (os.path.basename(path), "gzip-compressed" if compressed else "plain", exc))
    entries = data.get("entries") if isinstance(data, dict) else data  # DbBackup V1 is the list alone
    if not isinstance(entries, list):
        raise KanidmError("%s is not a kanidmd backup: it holds no entries" % os.path.basename(path))
    counts = {"entries": 0, "persons": 0, "groups": 0}
    for entry in entries:
        classes = _classes(entry)
        if any(name in classes for name in GONE):
            continue
        counts["entries"] += 1
        counts["persons"] += "person" in classes
        counts["groups"] += "group" in classes
    version = data.get("version") if isinstance(data, dict) else None
    return {"series": version, "compressed": compressed, "counts": counts}


def _classes(entry) -> list:
    """The class values of a DbEntry ({"ent": {"V3": {"attrs": {"class": {"I8": [...]}}}}})."""
    try:
        versions = entry["ent"]
        attrs = next(iter(versions.values()))["attrs"]
        value = attrs.get("class") or {}
        return list(next(iter(value.values()))) if isinstance(value, dict) and value else []
    except (KeyError, TypeError, AttributeError, StopIteration):
        return []
