# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A network namespace of its own, bound to a file, for a drill that must not reach any live peer.

``unshare --net=FILE`` makes the namespace and keeps it while FILE stays bound to it; commands run in it through
``nsenter --net=FILE`` (see providers/freeipa/cli.py). Inside there is only a loopback interface: every address of
127.0.0.0/8 is the namespace's own, so the restored instance listens where the live one does, and a connection to a
live peer finds nobody. :func:`remove` stops whatever still runs in it (a daemon its uninstall left behind), then
unbinds it.
"""

from __future__ import annotations

import os
import signal
import time

from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput


def create(path):
    """Makes a namespace bound to ``path`` (which must not exist) with its loopback up."""
    if os.geteuid() != 0:
        raise InvalidInput("a network namespace of its own needs root: run the drill as root (become: true)")
    with open(path, "x"):
        pass  # the file the namespace is bound to
    process.run(["unshare", "--net=%s" % path, "true"], what="unshare (a network namespace for the drill)",
                missing="install util-linux")
    process.run(inside(path, ["ip", "link", "set", "lo", "up"]),
                what="ip link set lo up in the drill's network namespace", missing="install iproute2")


def inside(path, argv) -> list:
    """``argv`` run in the namespace bound to ``path`` (``argv`` itself when ``path`` is empty)."""
    return ["nsenter", "--net=%s" % path, "--"] + list(argv) if path else list(argv)


def _namespace(path):
    """(st_dev, st_ino) of the namespace bound to ``path`` (a mount point then), None when none is."""
    try:
        if not os.path.ismount(path):
            return None
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def processes_in(path) -> list:
    """(pid, command name) of every live process in the namespace bound to ``path`` (a zombie runs nothing)."""
    wanted = _namespace(path)
    if wanted is None:
        return []
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            info = os.stat("/proc/%s/ns/net" % name)
            if (info.st_dev, info.st_ino) != wanted:
                continue
            with open("/proc/%s/stat" % name) as handle:
                stat = handle.read()  # "pid (command) state ..."
            command, _sep, rest = stat.partition("(")[2].rpartition(")")
            if rest.split()[0] != "Z":
                found.append((int(name), command))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def remove(path, grace=10.0) -> list:
    """Stops what still runs in the namespace bound to ``path`` (TERM, then KILL after ``grace`` seconds), unbinds
    it and removes the file. Returns what had to be stopped, as sentences; raises when something is left."""
    stopped = []
    left = processes_in(path)
    for pid, name in left:
        _signal(pid, signal.SIGTERM)
        stopped.append("%s (pid %d)" % (name, pid))
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_in(path)
    for pid, _name in left:
        _signal(pid, signal.SIGKILL)
    time.sleep(0.2 if left else 0)
    left = processes_in(path)
    if left:
        raise DrkitError("processes still run in the drill's network namespace %s after KILL: %s"
                         % (path, ", ".join("%s (pid %d)" % (name, pid) for pid, name in left)))
    if _namespace(path) is not None:
        process.run(["umount", path], what="umount of the drill's network namespace")
    if os.path.lexists(path):
        os.unlink(path)
    return stopped


def _signal(pid, number):
    try:
        os.kill(pid, number)
    except OSError:
        pass  # it ended by itself
