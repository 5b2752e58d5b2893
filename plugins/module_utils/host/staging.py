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
"""

from __future__ import annotations

import base64
import json
import os
import stat

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import fsync_path

JOURNAL = "restore.journal"
COMMITTING = "restore.committing"
TEMP_SUFFIX = ".drkit-restore"


def temp_path(dest: str) -> str:
    return os.path.join(os.path.dirname(dest), ".%s%s" % (os.path.basename(dest), TEMP_SUFFIX))


class Staging:
    """The journal of one restore, in ``state_dir``."""

    def __init__(self, state_dir: str):
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
                    yield json.loads(line)

    def commit(self):
        """Takes every recorded step; each can be taken again (a commit resumed after a crash)."""
        self.close()
        fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT, 0o600)
        os.fsync(fd)
        os.close(fd)
        fsync_path(os.path.dirname(self.marker))
        faults.checkpoint("restore.marker")
        directories = []
        for step in self._steps():
            if step["op"] == "meta" and step["dir"]:
                directories.append(step)
            elif step["op"] != "created":
                _take(step)
                faults.checkpoint("restore.commit")
        for step in reversed(directories):  # contents first: adding them changed the directories' times
            _take(step)
        self.finish()

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
            self.commit()
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
