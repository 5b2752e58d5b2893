# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MariaDB's physical backup tool, ``mariadb-backup`` (named ``mariabackup`` before 10.5), and ``mbstream``.

Follows MariaDB's documentation: "Full Backup and Restore with mariadb-backup" (--backup, --prepare, then
--copy-back or --move-back into an empty data directory of a stopped server, whose files the server's user must
own), "mariadb-backup Options" (--stream=mbstream, --target-dir, --datadir, --defaults-extra-file first) and
"Using Encryption and Compression Tools With mariadb-backup" (the stream unpacked with ``mbstream -x -C DIR``).
mariadb-backup reads the option groups [mariadb-backup] and [mysqld], not [client]. It ends its log with
"completed OK!": a run without that line failed, whatever its exit code.
"""

from __future__ import annotations

import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.process import find_tool, run, stream
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.mysql import MySQLError, \
    clean_environment, explain

COMPLETED = r"completed OK!"
MISSING = ("install MariaDB's physical backup tool (Debian: mariadb-backup, which brings mbstream), or set bin_dir "
           "to where mariadb-backup and mbstream are")
GROUP = "mariadb-backup"


def tool(name, bin_dir=None) -> str:
    also = {"mariadb-backup": ("mariabackup",)}.get(name, ())
    for candidate in (name,) + also:
        path = find_tool(candidate, bin_dir, also=("/usr/sbin", "/usr/bin"))
        if path:
            return path
    raise MySQLError("%s is not %s: %s" % (name, "in bin_dir %s" % bin_dir if bin_dir else "installed on this host",
                                           MISSING))


def backup(connection, login, datadir, work_dir, out) -> int:
    """The whole server as one mbstream, from mariadb-backup's standard output into ``out``; the server keeps
    running. ``work_dir``: an empty private directory for the tool's temporary files."""
    argv = [tool("mariadb-backup", connection.bin_dir), "--defaults-extra-file=%s" % login, "--backup",
            "--stream=mbstream", "--target-dir=%s" % work_dir, "--tmpdir=%s" % work_dir, "--datadir=%s" % datadir]
    try:
        return stream(argv, out, what="mariadb-backup --backup", env=clean_environment(),
                      secrets=[connection.password], error=MySQLError, missing=MISSING, expect=COMPLETED)
    except MySQLError as exc:
        raise MySQLError(explain(str(exc), connection))


def unpack(stream_file, directory, bin_dir=None):
    """``mbstream -x`` of the staged stream into ``directory`` (empty)."""
    run([tool("mbstream", bin_dir), "-x", "-C", directory], what="mbstream -x", stdin_path=stream_file,
        error=MySQLError, missing=MISSING, timeout=None)
    if not os.path.exists(os.path.join(directory, "backup-my.cnf")):
        raise MySQLError("mbstream -x wrote no backup-my.cnf into %s: the backup's stream is not one of "
                         "mariadb-backup's" % directory)


def prepare(directory, bin_dir=None):
    """Applies InnoDB's log to the unpacked files (--prepare), which makes them a consistent data directory."""
    run([tool("mariadb-backup", bin_dir), "--no-defaults", "--prepare", "--target-dir=%s" % directory],
        what="mariadb-backup --prepare", error=MySQLError, missing=MISSING, timeout=None, expect=COMPLETED)


def move_back(directory, datadir, bin_dir=None):
    """Moves the prepared files into the empty ``datadir`` (--move-back)."""
    run([tool("mariadb-backup", bin_dir), "--no-defaults", "--move-back", "--target-dir=%s" % directory,
         "--datadir=%s" % datadir], what="mariadb-backup --move-back", error=MySQLError, missing=MISSING,
        timeout=None, expect=COMPLETED)


def server_release(bin_dir=None):
    """The release of the MariaDB server installed here (``10.11.19-MariaDB``), read from ``mariadbd --version``
    (the server may be stopped), or None."""
    path = find_tool("mariadbd", bin_dir, also=("/usr/sbin",)) or find_tool("mysqld", bin_dir, also=("/usr/sbin",))
    if not path:
        return None
    result = run([path, "--no-defaults", "--version"], what="mariadbd --version", error=MySQLError, check=False)
    match = re.search(r"Ver\s+(\d+\.\d+\.\d+\S*)", result.output)
    return match.group(1) if match else None


def server_on(datadir):
    """The pid of a MariaDB/MySQL server running on ``datadir`` (the server's working directory is its data
    directory), or None."""
    wanted = os.path.realpath(datadir)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % name) as handle:
                if handle.read().strip() not in ("mariadbd", "mysqld"):
                    continue
            if os.path.realpath(os.readlink("/proc/%s/cwd" % name)) == wanted:
                return int(name)
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return None
