# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A restore staged beside its targets, then committed in one short step.

While the backup is decrypted and verified (one pass), what will change is
prepared next to each target (new file contents as ``.<name>.drkit-restore``,
missing directories) and every step still to take is written to a journal in
the host's state directory. Only once the whole backup has verified are the
steps taken: renames, links, device nodes, then owners, modes, times and
extended attributes (directories last, deepest first). A backup that fails
verification is discarded: the prepared files and directories are removed
and nothing else was touched.

The journal also makes an interrupted restore recoverable: killed while
staging, the next run discards what was prepared; killed while committing (a
marker says so), it finishes the commit, whose every step can be taken again.

A step of the commit that fails (a directory where a file goes, a full disk)
ends the commit there: what was prepared and not used is removed, the journal
is set aside as ``restore.failed-<time>.journal`` with a record of what was and
was not put in place (``.json``), and the error says so. A failed commit is
never retried: the host's other operations (starting services, a rollback)
go on.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import RestoreError
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import fsync_path, remove_quietly
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import rfc3339, utc_now

JOURNAL = "restore.journal"
COMMITTING = "restore.committing"
FAILED_PREFIX = "restore.failed-"
TEMP_SUFFIX = ".drkit-restore"
# How many paths of each kind a failed commit's record lists (the journal beside it has them all).
PATHS_KEPT = 50


def temp_path(dest: str) -> str:
    return os.path.join(os.path.dirname(dest), ".%s%s" % (os.path.basename(dest), TEMP_SUFFIX))


class Staging:
    """The journal of one restore, in ``state_dir``."""

    def __init__(self, state_dir: str, backup=None):
        self.state_dir = state_dir
        self.backup = backup  # the backup restored, named in the journal and in a failed commit's record
        self.journal = os.path.join(state_dir, JOURNAL)
        self.marker = os.path.join(state_dir, COMMITTING)
        self.steps = 0
        self.last_path = None  # the target being prepared (a full disk's message names it)
        self._out = None
        self._known_dirs = set()  # directories seen to exist: one stat each per restore, not per file

    # --- recording (while the backup is read) ------------------------------------

    def _record(self, step):
        if self._out is None:
            fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._out = os.fdopen(fd, "w")
            self._out.write(json.dumps({"op": "begin", "backup": self.backup}) + "\n")
        self._out.write(json.dumps(step, sort_keys=True) + "\n")
        if step["op"] in ("created", "rename"):
            # The caller creates a directory or a temporary file next: the line must reach the file first,
            # or a run killed now leaves a file that no journal line lets the next run remove.
            self._out.flush()
            self.last_path = step.get("dest") or step.get("path")
        if step["op"] != "created":
            self.steps += 1
        faults.checkpoint("restore.stage")

    def make_dirs(self, path: str):
        """Creates the missing directories up to ``path``, remembered so that a discard removes them."""
        if path in self._known_dirs:
            return
        missing = []
        while path and not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for directory in reversed(missing):
            self._record({"op": "created", "path": directory})
            os.mkdir(directory, 0o700)
        self._known_dirs.add(path)
        self._known_dirs.update(missing)

    def rename(self, tmp: str, dest: str):
        self._record({"op": "rename", "tmp": tmp, "dest": dest})

    def link(self, target: str, dest: str):
        self._record({"op": "link", "target": target, "dest": dest})

    def remove(self, dest: str):
        """``dest`` (a whole tree, if a directory) goes at the commit: what a rollback takes away."""
        self._record({"op": "remove", "dest": dest})

    def mknod(self, dest: str, mode: int, device: int):
        self._record({"op": "mknod", "dest": dest, "mode": mode, "device": device})

    def meta(self, dest: str, is_dir: bool, is_link: bool, owner=None, mode=None, mtime=None, xattrs=None,
             prepared=False):
        """Owner, mode, time, extended attributes for ``dest``; ``prepared``: the new file or link waiting at
        ``temp_path(dest)`` takes them now (the rename keeps them), so the commit has less to do."""
        encoded = {name: base64.b64encode(value).decode() for name, value in (xattrs or {}).items()}
        step = {"op": "meta", "dest": dest, "dir": is_dir, "link": is_link, "owner": owner, "mode": mode,
                "mtime": mtime, "xattrs": encoded}
        if prepared:
            step["dest"] = temp_path(dest)
            _apply_meta(step)
        else:
            self._record(step)

    def close(self):
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            self._out = None

    # --- taking the steps --------------------------------------------------------------

    def _steps(self):
        """The recorded steps, one at a time: a journal of a large tree is never held whole in memory."""
        if not os.path.exists(self.journal):
            return
        with open(self.journal) as handle:
            for line in handle:
                if line.endswith("\n"):  # a last line cut short by a crash was never acted on
                    step = json.loads(line)
                    if step["op"] == "begin":
                        self.backup = self.backup or step.get("backup")
                    else:
                        yield step

    def commit(self):
        """Takes every recorded step; each can be taken again (a commit resumed after a crash).

        A step that fails ends the commit: the journal is set aside and :class:`RestoreError` says what was and
        was not put in place.
        """
        self.close()
        fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT, 0o600)
        os.fsync(fd)
        os.close(fd)
        fsync_path(os.path.dirname(self.marker))
        faults.checkpoint("restore.marker")
        directories, taken = [], []
        step = None
        try:
            for step in self._steps():
                if step["op"] == "meta" and step["dir"]:
                    directories.append(step)
                elif step["op"] != "created":
                    _take(step)
                    taken.append(step)
                    faults.checkpoint("restore.commit")
            for step in reversed(directories):  # contents first: adding them changed the directories' times
                _take(step)
        except OSError as exc:
            raise self._set_aside(step, exc, taken)
        self.finish()

    def _set_aside(self, failed, exc, taken) -> RestoreError:
        """Ends a failed commit: removes what was prepared and not used, keeps the journal and a record."""
        done = [step["dest"] for step in taken if step["op"] != "meta"]
        done_set = set(done)
        left = []
        for step in self._steps():
            if step["op"] == "rename" and os.path.lexists(step["tmp"]):
                remove_quietly(step["tmp"])  # prepared, never put in place
            if step["op"] in ("rename", "link", "mknod") and step["dest"] not in done_set:
                left.append(step["dest"])
        stamp = utc_now().strftime("%Y-%m-%dT%H-%M-%S.%fZ")
        kept = os.path.join(self.state_dir, "%s%s.journal" % (FAILED_PREFIX, stamp))
        os.rename(self.journal, kept)
        record = {"backup": self.backup, "at": rfc3339(utc_now()), "journal": kept, "failed_at": failed["dest"],
                  "error": exc.strerror or str(exc), "put_in_place": len(done), "not_put_in_place": len(left),
                  "paths_put_in_place": done[:PATHS_KEPT], "paths_not_put_in_place": left[:PATHS_KEPT]}
        with open(os.path.join(self.state_dir, "%s%s.json" % (FAILED_PREFIX, stamp)), "w") as out:
            json.dump(record, out, sort_keys=True)
        remove_quietly(self.marker)
        return RestoreError(
            "the restore of backup %s failed while putting its files in place, at %s: %s. %d path(s) were put in "
            "place and %d were not%s; what was prepared and not used was removed, and the journal was set aside "
            "for inspection as %s. Fix the cause and restore again, or roll back to the safety copy"
            % (self.backup or "(unknown)", failed["dest"], exc.strerror or exc, len(done), len(left),
               " (the first not: %s)" % ", ".join(left[:3]) if left else "", kept))

    @staticmethod
    def failed(state_dir) -> list:
        """The records of commits that failed and were set aside, oldest first."""
        records = []
        if not os.path.isdir(state_dir):
            return records
        for name in sorted(os.listdir(state_dir)):
            if name.startswith(FAILED_PREFIX) and name.endswith(".json"):
                try:
                    with open(os.path.join(state_dir, name)) as handle:
                        records.append(json.load(handle))
                except (OSError, ValueError):
                    records.append({"record": os.path.join(state_dir, name), "error": "unreadable"})
        return records

    def discard(self):
        """Removes what was prepared (temporary files, directories created) and forgets the journal."""
        self.close()
        created = []
        for step in self._steps():
            if step["op"] == "rename" and os.path.lexists(step["tmp"]):
                os.unlink(step["tmp"])
            elif step["op"] == "created":
                created.append(step["path"])
        for path in reversed(created):
            try:
                os.rmdir(path)
            except OSError:
                pass  # not empty: something else put a file there
        self.finish()

    def finish(self):
        for path in (self.journal, self.marker):
            if os.path.exists(path):
                os.unlink(path)
                faults.checkpoint("restore.finish")

    def recover(self):
        """Deals with a restore a killed run left behind; returns what was done, as a sentence, or None."""
        if not os.path.exists(self.journal):
            if os.path.exists(self.marker):
                os.unlink(self.marker)
            return None
        if os.path.exists(self.marker):
            try:
                self.commit()
            except RestoreError as exc:
                return ("a restore interrupted while it put its verified files in place could not be finished and "
                        "was set aside: %s" % exc)
            return ("a restore interrupted while it put its verified files in place was finished before this "
                    "one started")
        self.discard()
        return "a restore interrupted before it changed anything was cleaned up (its prepared files removed)"


def _take(step):
    op = step["op"]
    if op == "rename":
        try:
            os.rename(step["tmp"], step["dest"])
        except FileNotFoundError:
            pass  # taken already, by the commit that a crash interrupted
    elif op == "link":
        dest = step["dest"]
        if not (os.path.lexists(dest) and os.path.samefile(step["target"], dest)):
            tmp = temp_path(dest)
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.link(step["target"], tmp)
            os.rename(tmp, dest)
    elif op == "mknod":
        dest = step["dest"]
        try:
            current = os.lstat(dest)
        except FileNotFoundError:
            current = None
        if current is None or stat.S_IFMT(current.st_mode) != stat.S_IFMT(step["mode"]) or \
                current.st_rdev != step["device"]:
            if current is not None:
                os.unlink(dest)
            os.mknod(dest, step["mode"], step["device"])
    elif op == "remove":
        dest = step["dest"]
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        elif os.path.lexists(dest):
            os.unlink(dest)
    elif op == "meta":
        _apply_meta(step)


def _apply_meta(step):
    dest = step["dest"]
    if step["owner"] is not None:
        os.lchown(dest, *step["owner"])
    if step["link"]:
        return
    if step["mode"] is not None:
        os.chmod(dest, step["mode"])
    for name, value in step["xattrs"].items():
        os.setxattr(dest, name, base64.b64decode(value), follow_symlinks=False)
    if step["mtime"] is not None:
        os.utime(dest, (step["mtime"], step["mtime"]))
