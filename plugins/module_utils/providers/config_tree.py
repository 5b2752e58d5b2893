# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tar of files named relative to a top directory (or absolute), written to a stream and put back under
another top: the configuration of a product whose installation directory may differ on a replacement host.

Members under the top are named as they are relative to it; an absolute path outside it goes under ``/``
(``_absolute/etc/sysconfig/keycloak``). A restore writes each file that differs through a temporary file and a
rename, keeps mode and (as root) owner, and deletes nothing.
"""

from __future__ import annotations

import os
import secrets
import tarfile

ABSOLUTE = "_absolute/"


def write(out, top: str, paths) -> dict:
    """Writes ``paths`` (relative to ``top``, or absolute) as a tar into ``out``; returns {files, bytes}."""
    counts = {"files": 0, "bytes": 0}
    with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def member(info):
            tar.members.clear()  # memory stays flat whatever the file count
            if info.isreg():
                counts["files"] += 1
                counts["bytes"] += info.size
            return info

        for path in paths:
            full = path if os.path.isabs(path) else os.path.join(top, path)
            name = ABSOLUTE + path.lstrip("/") if os.path.isabs(path) else path
            tar.add(full, arcname=name, recursive=True, filter=member)
    return counts


def names(path: str) -> list:
    """The member names of the tar at ``path``."""
    with tarfile.open(path) as tar:
        return tar.getnames()


def restore(path: str, top: str, only=None, absolute=True) -> list:
    """Puts the tar at ``path`` back under ``top`` (absolute members at their paths, unless ``absolute`` is
    false: then they are left out); returns the paths it changed. ``only``: the member names (or directories) to
    take, default all."""
    changed = []
    is_root = os.geteuid() == 0
    with tarfile.open(path) as tar:
        for info in tar:
            if only is not None and not any(info.name == name or info.name.startswith(name.rstrip("/") + "/")
                                            for name in only):
                continue
            outside = info.name.startswith(ABSOLUTE)
            if outside and not absolute:
                continue
            where = "/" if outside else top
            # tarfile's data filter refuses a name or link that would leave ``where`` (a forged or corrupt tar).
            safe = tarfile.data_filter(info.replace(name=info.name[len(ABSOLUTE):] if outside else info.name,
                                                    deep=False), where)
            dest = os.path.join(where, safe.name)
            if _put(tar, info, dest, is_root):
                changed.append(dest)
    return changed


def _put(tar, info, dest, is_root) -> bool:
    if info.isdir():
        if os.path.isdir(dest):
            return False
        os.makedirs(dest, mode=info.mode or 0o755, exist_ok=True)
        return True
    if info.issym():
        if os.path.islink(dest) and os.readlink(dest) == info.linkname:
            return False
        _replace_with(dest, lambda temp: os.symlink(info.linkname, temp))
        return True
    if not info.isreg():
        return False
    data = tar.extractfile(info).read()
    if os.path.isfile(dest) and not os.path.islink(dest):
        with open(dest, "rb") as handle:
            if handle.read() == data and (os.stat(dest).st_mode & 0o777) == info.mode & 0o777:
                return False
    os.makedirs(os.path.dirname(dest), exist_ok=True)

    def make(temp):
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if is_root:
            os.chown(temp, info.uid, info.gid)
        os.chmod(temp, info.mode & 0o777)

    _replace_with(dest, make)
    return True


def _replace_with(dest, make):
    temp = os.path.join(os.path.dirname(dest) or ".", ".drkit-%s" % secrets.token_hex(6))
    try:
        make(temp)
        os.replace(temp, dest)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
