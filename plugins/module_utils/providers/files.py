# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``files`` provider: paths given by the user, one part per path.

Each part is a POSIX (pax) tar whose member names are relative to ``/``,
keeping owner, mode, times and extended attributes (as ``SCHILY.xattr.*``,
which GNU tar reads too). A restore writes under ``target_root`` (default
``/``), replaces only what differs, deletes nothing, and reports no change
when everything already matches.
"""

from __future__ import annotations

import hashlib
import grp
import os
import pwd
import re
import stat
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import PartSpec, Provider

XATTR = "SCHILY.xattr."
COPY_BYTES = 1 << 20
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


class FilesProvider(Provider):
    name = "files"
    supports = (("full", False), ("full", True))

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        self.target_root = os.path.abspath(self.options.get("target_root") or "/")
        self._is_root = os.geteuid() == 0

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
        return normal

    def check_backup(self, backup_type, online):
        if backup_type == "data":
            raise InvalidInput("provider files takes full backups only: type data is for products "
                               "that separate data from configuration")
        super().check_backup(backup_type, online)
        self._paths()

    def services(self) -> list:
        services = self.options.get("services") or []
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
        # Not tarfile's stream mode: its buffer is copied on every write. ``out`` tells
        # its position, which is all the plain mode needs, and file data goes in 1 MiB reads.
        with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BYTES) as tar:
            tar.add(path, arcname=path.lstrip("/") or ".", recursive=True, filter=self._record_xattrs)

    # --- restore -------------------------------------------------------------

    def check_restore(self, header):
        problems = []
        if os.path.exists(self.target_root) and not os.path.isdir(self.target_root):
            problems.append("target_root %s is not a directory" % self.target_root)
        return problems

    def restore_part(self, part, reader, check_mode):
        changes = []
        with tarfile.open(fileobj=reader, mode="r|", format=tarfile.PAX_FORMAT) as tar:
            for member in tar:
                rel = _safe_relative(member.name)
                dest = self.target_root if rel == "." else os.path.join(self.target_root, rel)
                if self._restore_member(tar, member, dest, check_mode):
                    changes.append(dest)
        return changes

    def _inside_root(self, dest: str):
        parent = os.path.realpath(os.path.dirname(dest))
        root = os.path.realpath(self.target_root)
        if root != "/" and parent != root and not parent.startswith(root + "/"):
            raise InvalidInput("restoring %s would write outside target_root %s (through a symbolic link): "
                               "refusing" % (dest, self.target_root))

    def _restore_member(self, tar, member, dest, check_mode) -> bool:
        try:
            current = os.lstat(dest)
        except FileNotFoundError:
            current = None
        if not check_mode and dest != self.target_root:
            self._inside_root(dest)
            parent = os.path.dirname(dest)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
        if member.isdir():
            changed = self._restore_dir(member, dest, current, check_mode)
        elif member.isreg():
            changed = self._restore_file(tar, member, dest, current, check_mode)
        elif member.issym():
            changed = self._restore_symlink(member, dest, current, check_mode)
        elif member.islnk():
            changed = self._restore_hardlink(member, dest, current, check_mode)
        else:
            changed = self._restore_special(member, dest, current, check_mode)
        if not member.issym() and not member.islnk():
            changed = self._restore_metadata(member, dest, check_mode, changed) or changed
        return changed

    def _restore_dir(self, member, dest, current, check_mode) -> bool:
        if current is not None and stat.S_ISDIR(current.st_mode):
            return False
        if current is not None:
            self._refuse_if_dir(dest, current)
        if not check_mode:
            if current is not None:
                os.unlink(dest)
            os.mkdir(dest, 0o700)
        return True

    @staticmethod
    def _refuse_if_dir(dest, current):
        if stat.S_ISDIR(current.st_mode):
            raise InvalidInput("cannot restore %s: a directory is in its place and restore deletes "
                               "nothing; move it away and run again" % dest)

    def _restore_file(self, tar, member, dest, current, check_mode) -> bool:
        source = tar.extractfile(member)
        same_size = current is not None and stat.S_ISREG(current.st_mode) and current.st_size == member.size
        if current is not None:
            self._refuse_if_dir(dest, current)
        compare = open(dest, "rb") if same_size else None
        tmp = out = None
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
                    if check_mode:
                        return True
                if check_mode:
                    return True
                if out is None:
                    tmp = os.path.join(os.path.dirname(dest), ".%s.drkit-restore" % os.path.basename(dest))
                    out = open(tmp, "wb")
                    os.fchmod(out.fileno(), 0o600)
                    if matched:
                        with open(dest, "rb") as prefix:
                            _copy(prefix, out, matched)
                out.write(data)
            if compare is not None:
                return False
            if check_mode:
                return True
            if out is None:  # an empty file where there was none, or a different empty one
                tmp = os.path.join(os.path.dirname(dest), ".%s.drkit-restore" % os.path.basename(dest))
                out = open(tmp, "wb")
            out.close()
            out = None
            os.rename(tmp, dest)
            tmp = None
            return True
        finally:
            if compare is not None:
                compare.close()
            if out is not None:
                out.close()
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)

    def _restore_symlink(self, member, dest, current, check_mode) -> bool:
        if current is not None and stat.S_ISLNK(current.st_mode) and os.readlink(dest) == member.linkname:
            return self._restore_owner(member, dest, check_mode)
        if current is not None:
            self._refuse_if_dir(dest, current)
        if not check_mode:
            if current is not None:
                os.unlink(dest)
            os.symlink(member.linkname, dest)
            self._restore_owner(member, dest, check_mode)
        return True

    def _restore_hardlink(self, member, dest, current, check_mode) -> bool:
        target = os.path.join(self.target_root, _safe_relative(member.linkname))
        if current is not None and os.path.exists(target) and os.path.samefile(target, dest):
            return False
        if current is not None:
            self._refuse_if_dir(dest, current)
        if not check_mode:
            if current is not None:
                os.unlink(dest)
            os.link(target, dest)
        return True

    def _restore_special(self, member, dest, current, check_mode) -> bool:
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
        if current is not None:
            self._refuse_if_dir(dest, current)
        if not check_mode:
            if current is not None:
                os.unlink(dest)
            os.mknod(dest, kind | 0o600, device)
        return True

    # --- owner, mode, times, extended attributes -------------------------------

    def _ids(self, member):
        try:
            uid = pwd.getpwnam(member.uname).pw_uid if member.uname else member.uid
        except KeyError:
            uid = member.uid
        try:
            gid = grp.getgrnam(member.gname).gr_gid if member.gname else member.gid
        except KeyError:
            gid = member.gid
        return uid, gid

    def _restore_owner(self, member, dest, check_mode) -> bool:
        # Only root can give files away; elsewhere ownership is left as it is.
        if not self._is_root:
            return False
        uid, gid = self._ids(member)
        current = os.lstat(dest)
        if (current.st_uid, current.st_gid) == (uid, gid):
            return False
        if not check_mode:
            os.lchown(dest, uid, gid)
        return True

    def _restore_metadata(self, member, dest, check_mode, created) -> bool:
        if check_mode and created:
            return True
        if not os.path.lexists(dest):
            return True
        changed = self._restore_owner(member, dest, check_mode)
        current = os.lstat(dest)
        if stat.S_IMODE(current.st_mode) != member.mode:
            changed = True
            if not check_mode:
                os.chmod(dest, member.mode)
        if not member.isdir() and abs(current.st_mtime - member.mtime) > MTIME_SLACK:
            changed = True
            if not check_mode:
                os.utime(dest, (member.mtime, member.mtime))
        elif member.isdir() and created and not check_mode:
            os.utime(dest, (member.mtime, member.mtime))
        wanted = {key[len(XATTR):]: value.encode("utf-8", "surrogateescape")
                  for key, value in member.pax_headers.items() if key.startswith(XATTR)}
        if wanted:
            have = _xattrs_of(dest)
            for attr, value in wanted.items():
                if have.get(attr) != value:
                    changed = True
                    if not check_mode:
                        os.setxattr(dest, attr, value, follow_symlinks=False)
        return changed


def _copy(src, out, count):
    while count > 0:
        data = src.read(min(count, COPY_BYTES))
        if not data:
            break
        out.write(data)
        count -= len(data)
