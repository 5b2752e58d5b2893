# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``files`` provider: paths given by the user, one part per path.

Each part is a POSIX (pax) tar whose member names are relative to ``/``,
keeping owner, mode, times and extended attributes (as ``SCHILY.xattr.*``,
which GNU tar reads too). A restore writes under ``target_root`` (default
``/``), replaces only what differs, deletes nothing (unless ``remove_extra``,
which a rollback asks for), and reports no change when everything already matches.
"""

from __future__ import annotations

import functools
import grp
import hashlib
import os
import pwd
import re
import stat
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import IntegrityError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import COPY_BYTES
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import TEMP_SUFFIX, temp_path
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import PartSpec, PartsProvider
from ansible_collections.drkit.backup.plugins.module_utils.providers.files.options import OPTIONS

XATTR = "SCHILY.xattr."
MTIME_SLACK = 1e-3


def part_names(paths) -> list:
    """A stable, valid part name for each path: ``/etc/ipa`` -> ``etc_ipa.tar``."""
    names = []
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", path.strip("/")) or "root"
        base = base.lstrip("._-") or "root"
        if len(base) > 80:  # keep the end of a long path: it says what the part is
            base = base[-70:].lstrip("._-") + "-" + hashlib.sha256(path.encode()).hexdigest()[:8]
        name, count = base + ".tar", 1
        while name in names:
            count += 1
            name = "%s-%d.tar" % (base, count)
        names.append(name)
    return names


def _safe_relative(name: str) -> str:
    """A member name as a path under the target root; refuses anything that could escape it."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\0" in name or ".." in parts:
        raise InvalidInput("the backup holds an unsafe path %r: refusing to restore it" % name)
    return os.path.normpath(name)


def _xattrs_of(path: str) -> dict:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    values = {}
    for attr in names:
        try:
            values[attr] = os.getxattr(path, attr, follow_symlinks=False)
        except OSError:
            continue
    return values


class FilesProvider(PartsProvider):
    """Files and directories given by the user, one tar part per path, restored under target_root."""

    name = "files"
    OPTIONS = OPTIONS
    supports = (("full", False), ("full", True))
    restore_from_header = ("services",)
    restore_counts = "paths"
    # The safety copy holds the backup's paths as they are now under target_root; it goes back to where it was
    # taken from.
    safety_copy = "present_paths"
    # remove_extra: what the failed restore added under the paths goes too.
    rollback_options = {"target_root": "/", "remove_extra": True}
    # A drill re-reads the backup against the restored files: each one there, with the backup's bytes.
    drill_check_name = "files"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        self.target_root = os.path.abspath(self.option("target_root") or "/")
        self._is_root = os.geteuid() == 0
        self._inside = set()
        self._content = {}

    # --- backup --------------------------------------------------------------

    def _paths(self) -> list:
        paths = self.options.get("paths")
        if not paths or not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
            raise InvalidInput("provider files needs provider_options.paths, a list of files and directories")
        normal = []
        for path in paths:
            if not os.path.isabs(path) or ".." in path.split("/"):
                raise InvalidInput("path %r must be absolute and must not contain '..'" % path)
            path = os.path.normpath(path)
            if not os.path.lexists(path):
                raise InvalidInput("path %s does not exist: nothing was backed up" % path)
            normal.append(path)
        _refuse_links_backed_up_twice(normal)
        return normal

    def nothing_to_save(self):
        paths = self.options.get("paths")
        if isinstance(paths, list) and not any(isinstance(path, str) and path and os.path.lexists(path)
                                               for path in paths):
            return "no path to back up exists on this host (%s)" % (", ".join(map(str, paths)) if paths else "none given")
        return ""

    def check_backup(self, backup_type, online):
        if backup_type == "data":
            raise InvalidInput("provider files takes full backups only: type data is for products "
                               "that separate data from configuration")
        super().check_backup(backup_type, online)
        self._paths()

    def services(self) -> list:
        services = self.option("services") or []
        if not isinstance(services, list) or not all(isinstance(s, str) and s for s in services):
            raise InvalidInput("provider_options.services must be a list of service names")
        return services

    def parts(self, backup_type):
        paths = self._paths()
        return [PartSpec(name, "tar", source=path) for name, path in zip(part_names(paths), paths)]

    def describe(self):
        return {"paths": self._paths(), "services": self.services()}

    def estimate_size(self, backup_type):
        """The size of every regular file under the paths, plus a tar header per entry."""
        total = 0
        for path in self._paths():
            for top, dirs, files in os.walk(path) if os.path.isdir(path) and not os.path.islink(path) else [
                    (os.path.dirname(path), [], [os.path.basename(path)])]:
                total += len(dirs) * 1024
                for name in files:
                    try:
                        info = os.lstat(os.path.join(top, name))
                    except OSError:
                        continue
                    total += 1536 + (info.st_size if stat.S_ISREG(info.st_mode) else 0)
        return total

    @staticmethod
    def _record_xattrs(tarinfo):
        values = _xattrs_of("/" + tarinfo.name)
        for attr, value in values.items():
            tarinfo.pax_headers[XATTR + attr] = value.decode("utf-8", "surrogateescape")
        return tarinfo

    def capture(self, part, out):
        path = part.extra["source"]
        counts = self._content[path] = _empty_counts()
        # Not tarfile's stream mode: its buffer is copied on every write. ``out`` tells
        # its position, which is all the plain mode needs, and file data goes in 1 MiB reads.
        with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BYTES) as tar:

            def member(tarinfo):
                tar.members.clear()  # tarfile keeps every member written: memory would grow with the file count
                # A second name of a hard-linked file is a file too; its bytes were counted with the first.
                _count(counts, tarinfo.isreg() or tarinfo.islnk(), tarinfo.isdir(), tarinfo.issym(),
                       tarinfo.size if tarinfo.isreg() else 0)
                return self._record_xattrs(tarinfo)

            tar.add(path, arcname=path.lstrip("/") or ".", recursive=True, filter=member)

    def content_summary(self):
        """Per path: regular files, directories, links and the bytes of the regular files, as captured."""
        return {"paths": {path: dict(counts) for path, counts in sorted(self._content.items())}} \
            if self._content else {}

    def count(self, summary=None):
        """The same counts of what is under target_root now, for the paths of ``summary`` (a header's)."""
        paths = sorted((summary or {}).get("paths") or {}) or self._paths()
        counted = {}
        for path in paths:
            counts = counted[path] = _empty_counts()
            where = os.path.join(self.target_root, path.lstrip("/")) if self.target_root != "/" else path
            if not os.path.lexists(where):
                continue
            if os.path.islink(where) or not os.path.isdir(where):
                info = os.lstat(where)
                _count(counts, stat.S_ISREG(info.st_mode), False, stat.S_ISLNK(info.st_mode), info.st_size)
                continue
            _count(counts, False, True, False, 0)
            seen = set()  # hard links: the bytes of a file with several names count once, as tar stores them
            for top, dirs, files in os.walk(where):
                for name in dirs + files:
                    info = os.lstat(os.path.join(top, name))
                    size = info.st_size
                    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                        size = 0 if (info.st_dev, info.st_ino) in seen else size
                        seen.add((info.st_dev, info.st_ino))
                    _count(counts, stat.S_ISREG(info.st_mode), stat.S_ISDIR(info.st_mode),
                           stat.S_ISLNK(info.st_mode), size)
        return {"paths": counted}

    # --- drills --------------------------------------------------------------

    def scratch_options(self, scratch_dir, header):
        """Every path of the backup goes under ``scratch_dir``/root, and no service is stopped. The scratch
        directory must be apart from the backup's paths: inside one, the drill would write into live data; holding
        one, its teardown would remove live data."""
        scratch = os.path.realpath(scratch_dir)
        for path in _backup_paths(header):
            live = os.path.realpath(path)
            if scratch == live or _under(scratch, live) or _under(live, scratch):
                raise InvalidInput("the drill's scratch directory %s and the backup's path %s overlap: the drill "
                                   "would write into live data or remove it; choose a scratch directory apart from "
                                   "every path the backup holds" % (scratch_dir, path))
        return {"target_root": os.path.join(scratch, "root"), "services": []}

    def health(self, header):
        """The backup's paths are all there under target_root."""
        return ["%s is missing from the restored files" % path
                for path in _backup_paths(header)
                if not os.path.lexists(os.path.join(self.target_root, path.lstrip("/")))]

    # --- restore -------------------------------------------------------------

    def check_restore(self, header):
        problems = []
        if os.path.exists(self.target_root) and not os.path.isdir(self.target_root):
            problems.append("target_root %s is not a directory" % self.target_root)
        return problems

    def plan_part(self, part, reader) -> list:
        """The paths restoring ``part`` would change, reading its plaintext once."""
        return self._walk(reader, None)

    def stage_part(self, part, reader, staging) -> list:
        """Prepares ``part`` beside its targets and records the steps that ``staging.commit()`` takes."""
        return self._walk(reader, staging)

    def _walk(self, reader, staging) -> list:
        changes = []
        # With remove_extra, every path the part holds, and the directories whose extra entries go (the names
        # are held in memory: a rollback's safety copy is the size of the backup's paths).
        held = set() if self.option("remove_extra") else None
        directories = []
        try:
            with tarfile.open(fileobj=reader, mode="r|", format=tarfile.PAX_FORMAT) as tar:
                while True:
                    member = tar.next()
                    if member is None:
                        break
                    tar.members.clear()  # tarfile keeps every member read: memory would grow with the file count
                    rel = _safe_relative(member.name)
                    dest = self.target_root if rel == "." else os.path.join(self.target_root, rel)
                    if self._member(tar, member, dest, staging):
                        changes.append(dest)
                    if held is not None:
                        held.add(dest)
                        if member.isdir():
                            directories.append(dest)
        except tarfile.TarError as exc:
            raise IntegrityError("a part of the backup is not a valid tar (%s): it is damaged" % exc)
        if held is not None:
            changes.extend(self._extra(directories, held, staging))
        return changes

    @staticmethod
    def _extra(directories, held, staging) -> list:
        """What is in the part's directories now and not in the part (not the restore's own prepared files)."""
        extra = []
        for directory in directories:
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                continue  # made by this restore: nothing else is in it
            for name in sorted(names):
                path = os.path.join(directory, name)
                if path in held or name.endswith(TEMP_SUFFIX) and name.startswith(".") and \
                        os.path.join(directory, name[1:-len(TEMP_SUFFIX)]) in held:
                    continue
                if staging is not None:
                    staging.remove(path)
                extra.append(path)
        return extra

    def _inside_root(self, dest: str):
        directory = os.path.dirname(dest)
        if directory in self._inside:
            return
        parent = os.path.realpath(directory)
        root = os.path.realpath(self.target_root)
        if root != "/" and parent != root and not parent.startswith(root + "/"):
            raise InvalidInput("restoring %s would write outside target_root %s (through a symbolic link): "
                               "refusing" % (dest, self.target_root))
        self._inside.add(directory)  # the restore only adds real directories: a checked one stays inside

    def _member(self, tar, member, dest, staging) -> bool:
        """Whether ``member`` changes ``dest``; with ``staging``, prepares and records the change."""
        try:
            current = os.lstat(dest)
        except FileNotFoundError:
            current = None
        if current is not None and not member.isdir() and stat.S_ISDIR(current.st_mode):
            raise InvalidInput("cannot restore %s: a directory is in its place and restore deletes "
                               "nothing; move it away and run again" % dest)
        if staging is not None and dest != self.target_root:
            self._inside_root(dest)
            staging.make_dirs(os.path.dirname(dest))
        if member.isdir():
            replaced = self._dir(dest, current, staging)
        elif member.isreg():
            replaced = self._file(tar, member, dest, current, staging)
        elif member.issym():
            replaced = self._symlink(member, dest, current, staging)
        elif member.islnk():
            return self._hardlink(member, dest, current, staging)
        else:
            replaced = self._special(member, dest, current, staging)
        # A new object takes all of the member's metadata; one that stays takes what differs.
        return self._metadata(member, dest, None if replaced else current, staging) or replaced

    @staticmethod
    def _dir(dest, current, staging) -> bool:
        if current is not None and stat.S_ISDIR(current.st_mode):
            return False
        if current is not None:
            raise InvalidInput("cannot restore directory %s: a file is in its place and restore deletes "
                               "nothing; move it away and run again" % dest)
        if staging is not None:
            staging.make_dirs(dest)
        return True

    @staticmethod
    def _file(tar, member, dest, current, staging) -> bool:
        source = tar.extractfile(member)
        same_size = current is not None and stat.S_ISREG(current.st_mode) and current.st_size == member.size
        compare = open(dest, "rb") if same_size else None
        out = None
        matched = 0
        try:
            while True:
                data = source.read(COPY_BYTES)
                if not data:
                    break
                if compare is not None:
                    if compare.read(len(data)) == data:
                        matched += len(data)
                        continue
                    compare.close()
                    compare = None
                if staging is None:
                    return True  # planning: the first difference settles it
                if out is None:
                    out = _temp_file(dest, staging)
                    if matched:
                        with open(dest, "rb") as prefix:
                            _copy(prefix, out, matched)
                out.write(data)
            if compare is not None:
                return False
            if staging is not None and out is None:  # an empty file where there was none
                out = _temp_file(dest, staging)
            return True
        finally:
            if compare is not None:
                compare.close()
            if out is not None:
                out.close()

    @staticmethod
    def _symlink(member, dest, current, staging) -> bool:
        if current is not None and stat.S_ISLNK(current.st_mode) and os.readlink(dest) == member.linkname:
            return False
        if staging is not None:
            tmp = temp_path(dest)
            if os.path.lexists(tmp):
                os.unlink(tmp)
            staging.rename(tmp, dest)
            os.symlink(member.linkname, tmp)
        return True

    def _hardlink(self, member, dest, current, staging) -> bool:
        target = os.path.join(self.target_root, _safe_relative(member.linkname))
        if current is not None and os.path.exists(target) and os.path.samefile(target, dest):
            return False
        if staging is not None:
            staging.link(target, dest)
        return True

    @staticmethod
    def _special(member, dest, current, staging) -> bool:
        if member.isfifo():
            kind = stat.S_IFIFO
        elif member.ischr():
            kind = stat.S_IFCHR
        elif member.isblk():
            kind = stat.S_IFBLK
        else:
            raise InvalidInput("the backup holds %s of a type this release cannot restore" % member.name)
        device = os.makedev(member.devmajor, member.devminor) if kind != stat.S_IFIFO else 0
        if current is not None and stat.S_IFMT(current.st_mode) == kind and (
                kind == stat.S_IFIFO or current.st_rdev == device):
            return False
        if staging is not None:
            staging.mknod(dest, kind | 0o600, device)
        return True

    # --- owner, mode, times, extended attributes -------------------------------

    def _owner(self, member):
        """The (uid, gid) to give, or None: only root can give files away, elsewhere owners stay as they are."""
        if not self._is_root:
            return None
        return _id_of("pwd", member.uname, member.uid), _id_of("grp", member.gname, member.gid)

    def _metadata(self, member, dest, current, staging) -> bool:
        """Whether ``dest`` (``current``: its lstat, None when it is new) needs other metadata; records it."""
        owner = self._owner(member)
        link = member.issym()
        wanted_xattrs = {} if link else {key[len(XATTR):]: value.encode("utf-8", "surrogateescape")
                                         for key, value in member.pax_headers.items() if key.startswith(XATTR)}
        if current is None:
            # New: everything is applied (a new directory's time too, once its contents are in).
            mode, mtime, xattrs = (None, None, {}) if link else (member.mode, member.mtime, wanted_xattrs)
        else:
            if owner is not None and (current.st_uid, current.st_gid) == owner:
                owner = None
            mode = member.mode if not link and stat.S_IMODE(current.st_mode) != member.mode else None
            mtime = member.mtime if not link and not member.isdir() and \
                abs(current.st_mtime - member.mtime) > MTIME_SLACK else None
            have = _xattrs_of(dest) if wanted_xattrs else {}
            xattrs = {name: value for name, value in wanted_xattrs.items() if have.get(name) != value}
            if owner is None and mode is None and mtime is None and not xattrs:
                return False
        if staging is not None:
            staging.meta(dest, member.isdir(), link, owner=list(owner) if owner else None, mode=mode, mtime=mtime,
                         xattrs=xattrs, prepared=current is None and (member.isreg() or link))
        return current is not None


def _backup_paths(header) -> list:
    """The paths a backup holds, as its manifest records them."""
    return (header.manifest.get("provider") or {}).get("paths") or []


def _under(path: str, top: str) -> bool:
    return path.startswith(top.rstrip("/") + "/")


def _refuse_links_backed_up_twice(paths):
    """Refuses a path that goes through a symbolic link another path backs up as a link: restored, the link and
    the directories under its name would be the same path (the restore would make a directory, then fail to put
    the link in its place)."""
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in ("", "/"):
            if os.path.islink(parent):
                covering = [other for other in paths if other == parent or parent.startswith(other.rstrip("/") + "/")]
                if covering:
                    raise InvalidInput(
                        "path %s goes through the symbolic link %s, which path %s backs up as a link: back up the "
                        "real location %s instead, or drop one of the two"
                        % (path, parent, covering[0], os.path.join(os.path.realpath(parent), os.path.relpath(
                            path, parent))))
            parent = os.path.dirname(parent)


# Names are looked up once per restore, not once per file (each lookup reads the user database).
@functools.lru_cache(maxsize=2048)
def _id_of(database, name, number):
    """The uid (database ``pwd``) or gid (``grp``) of ``name``; ``number`` when there is no such name."""
    try:
        return (pwd.getpwnam(name).pw_uid if database == "pwd" else grp.getgrnam(name).gr_gid) if name else number
    except KeyError:
        return number


def _temp_file(dest, staging):
    """A new, private file beside ``dest`` that the commit renames over it."""
    tmp = temp_path(dest)
    staging.rename(tmp, dest)  # recorded first: a crash right after leaves nothing unaccounted for
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # left by a run that was killed before its journal was written
        os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb", buffering=COPY_BYTES)


def _copy(src, out, count):
    while count > 0:
        data = src.read(min(count, COPY_BYTES))
        if not data:
            break
        out.write(data)
        count -= len(data)


def _empty_counts() -> dict:
    return {"files": 0, "directories": 0, "links": 0, "bytes": 0}


def _count(counts, regular, directory, link, size):
    if regular:
        counts["files"] += 1
        counts["bytes"] += size
    elif directory:
        counts["directories"] += 1
    elif link:
        counts["links"] += 1
