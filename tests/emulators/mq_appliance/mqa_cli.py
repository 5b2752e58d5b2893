# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated MQ Appliance's command line, reached over SSH: the forced command of the emulator's sshd
(``mqa_cli.py HOME``), as SOURCES.md section 7 gathers it from IBM's client (mqcli-client/mqcli.py), sample
expect script and command reference.

| what                 | emulated as                                                                   |
|----------------------|-------------------------------------------------------------------------------|
| login                | ``login: ``, ``Password: `` (not echoed), the prompt ``mqa# ``; a failed      |
|                      | login shows ``login: `` again, three times; an appliance not set up after a   |
|                      | reinitialize has no network: the session ends before any prompt               |
| top mode             | ``mqcli`` (prompt ``mqa(mqcli)# ``), ``exit``; errors start with ``%``        |
| createbackupfs -s S  | the backup file system, seen as mqbackup:///QMgrs                             |
| crtmqm, strmqm,      | queue managers (state/queue-managers.json), ``dspmq`` as                      |
| endmqm, dltmqm, dspmq| ``QMNAME(QM1)  STATUS(Running)``                                              |
| runmqsc QM           | DEFINE/DELETE/DISPLAY QLOCAL(name) until ``end``                              |
| mqbackup -m QM [-o F]| mqbackup:///QMgrs/F (default QM.bak); a running queue manager: a warning      |
| mqrestore -f F       | from mqbackup:///QMgrs/F; refused when the queue manager exists               |
| userbackup [-f F]    | mqbackup:///F (default userbackup-YYYYMMDD-HHMMSS): the messaging users       |
| userrestore [-F] -f F| replaces every messaging user but the system ones; asks y/n without -F        |
| usercreate, userlist,| messaging users (-u, -g, -p, -d)                                              |
| userdelete           |                                                                               |

UNCONFIRMED, chosen here (IBM documents these commands' text only in screenshots): every success and error text
but the AMQ codes, which are MQ's own. ``state/faults.json`` {"mqbackup_writes_nothing": true} makes mqbackup
print its success and write nothing, as vendor tools do.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import sys
import tarfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from mqa_store import SYSTEM_MQ_USERS, Home, Refused, password_hash  # noqa: E402

TOP, MQCLI = "mqa# ", "mqa(mqcli)# "
QM_NAME = re.compile(r"^[A-Za-z0-9._%/]{1,48}$")
NOT_FOUND = "AMQ8118E: IBM MQ queue manager does not exist."


class Console:
    """One SSH session: stdin and stdout are its terminal."""

    def __init__(self, home):
        self.home = home

    @staticmethod
    def say(text=""):
        sys.stdout.write(text)
        sys.stdout.flush()

    @staticmethod
    def line() -> str:
        text = sys.stdin.readline()
        if text == "":
            raise EOFError
        return text.strip()

    def secret(self) -> str:
        """A line read with the terminal's echo off (a password)."""
        if not sys.stdin.isatty():
            return self.line()
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        try:
            return self.line()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            self.say("\n")

    def login(self) -> bool:
        for _attempt in range(3):
            self.say("login: ")
            user = self.line()
            self.say("Password: ")
            password = self.secret()
            try:
                record = self.home.login(user, password)
            except Refused:
                self.say("\n")
                continue
            if record.get("must_change"):
                self.say("% admin's password must be changed at the serial console first\n")
                return False
            self.say("Welcome to IBM MQ Appliance console configuration.\n")
            return True
        return False

    def run(self) -> int:
        if os.path.exists(self.home.file("state", "rest-disabled")):
            return 255  # reinitialized and not set up: no network, nothing answers
        try:
            if not self.login():
                return 1
            while True:
                self.say(TOP)
                command = self.line()
                if command == "exit":
                    self.say("Goodbye.\n")
                    return 0
                if command == "mqcli":
                    self.mqcli()
                elif command:
                    self.say("%% Unknown command or macro: %s\n" % command.split()[0])
        except EOFError:
            return 0

    def mqcli(self):
        while True:
            self.say(MQCLI)
            text = self.line()
            if text == "exit":
                return
            if not text:
                continue
            try:
                words = shlex.split(text)
            except ValueError:
                self.say("% Unbalanced quotes\n")
                continue
            handler = getattr(self, "do_" + words[0], None)
            if handler is None:
                self.say("%% Unknown command: %s\n" % words[0])
                continue
            try:
                self.say(handler(_Flags(words[1:])))
            except Refused as exc:
                self.say(exc.message + "\n")

    # --- queue managers ------------------------------------------------------------------------------------

    def _qmgrs(self) -> dict:
        return self.home.read("queue-managers", {})

    def _qmgr(self, name) -> dict:
        found = self._qmgrs().get(name)
        if found is None:
            raise Refused(0, NOT_FOUND)
        return found

    def _save(self, name, record):
        qmgrs = self._qmgrs()
        if record is None:
            qmgrs.pop(name, None)
        else:
            qmgrs[name] = record
        self.home.write("queue-managers", qmgrs)

    def do_crtmqm(self, flags):
        name = flags.last()
        if not QM_NAME.match(name):
            raise Refused(0, "AMQ8117E: IBM MQ queue manager deletion incomplete or name %r not valid." % name)
        if name in self._qmgrs():
            raise Refused(0, "AMQ8110E: IBM MQ queue manager already exists.")
        self._save(name, {"status": "Ended immediately", "queues": {}})
        return "IBM MQ queue manager '%s' created.\n" % name

    def do_strmqm(self, flags):
        name = flags.last()
        record = self._qmgr(name)
        self._save(name, dict(record, status="Running"))
        return "IBM MQ queue manager '%s' started.\n" % name

    def do_endmqm(self, flags):
        name = flags.last()
        record = self._qmgr(name)
        self._save(name, dict(record, status="Ended normally"))
        return "IBM MQ queue manager '%s' ended.\n" % name

    def do_dltmqm(self, flags):
        name = flags.last()
        if self._qmgr(name)["status"] == "Running":
            raise Refused(0, "AMQ8041E: The queue manager cannot be deleted because it is running.")
        self._save(name, None)
        return "IBM MQ queue manager '%s' deleted.\n" % name

    def do_dspmq(self, flags):
        wanted = flags.value("-m")
        qmgrs = self._qmgrs()
        if wanted and wanted not in qmgrs:
            raise Refused(0, "AMQ7048E: The queue manager name is either not valid or not known.")
        return "".join("QMNAME(%s)%sSTATUS(%s)\n" % (name, " " * max(1, 58 - len(name)), qmgrs[name]["status"])
                       for name in sorted(qmgrs) if not wanted or name == wanted)

    def do_runmqsc(self, flags):
        name = flags.last()
        record = self._qmgr(name)
        if record["status"] != "Running":
            raise Refused(0, "AMQ8146E: IBM MQ queue manager not available.")
        out = ["Starting MQSC for queue manager %s." % name]
        while True:
            text = self.line()
            if text.lower() == "end":
                break
            match = re.match(r"^(DEFINE|DELETE|DISPLAY)\s+QLOCAL\(([^)]*)\)", text, re.IGNORECASE)
            if not match:
                out.append("AMQ8405I: Syntax error detected at or near end of command segment below:-")
                continue
            verb, queue = match.group(1).upper(), match.group(2).upper()
            if verb == "DEFINE":
                record["queues"][queue] = {"type": "QLOCAL"}
                out.append("AMQ8006I: IBM MQ queue created.")
            elif verb == "DELETE":
                out.append("AMQ8007I: IBM MQ queue deleted." if record["queues"].pop(queue, None)
                           else "AMQ8147E: IBM MQ object %s not found." % queue)
            else:
                for found in sorted(record["queues"]):
                    if queue == "*" or found == queue:
                        out.append("AMQ8409I: Display Queue details.\n   QUEUE(%s)   TYPE(QLOCAL)" % found)
        self._save(name, record)
        return "\n".join(out) + "\n"

    # --- backups of queue managers and messaging users ----------------------------------------------------

    def _backupfs(self) -> str:
        path = self.home.store_path("mqbackup", "QMgrs")
        if not os.path.isdir(path):
            raise Refused(0, "% No backup file system: create one with createbackupfs")
        return path

    def do_createbackupfs(self, flags):
        size = flags.value("-s")
        if not size or not re.match(r"^\d+[GM]?$", size):
            raise Refused(0, "% createbackupfs needs -s SIZE (in GB, or nM)")
        path = self.home.store_path("mqbackup", "QMgrs")
        if os.path.isdir(path):
            raise Refused(0, "% A backup file system already exists")
        os.makedirs(path, mode=0o700)
        return "The backup file system of %s was created.\n" % size

    def do_mqbackup(self, flags):
        name = flags.value("-m")
        record = self._qmgr(name)
        folder = self._backupfs()
        target = flags.value("-o") or "%s.bak" % name
        if os.path.basename(target) != target:
            raise Refused(0, "% The backup file name must be a plain name")
        said = ""
        if record["status"] == "Running":
            said = "WARNING: queue manager '%s' is running: the backup is taken from a snapshot.\n" % name
        if not self.home.read("faults", {}).get("mqbackup_writes_nothing"):
            _write_archive(os.path.join(folder, target), {"qmgr.json": {"name": name, "queues": record["queues"]}})
        return said + "Backup of queue manager '%s' completed: mqbackup:///QMgrs/%s\n" % (name, target)

    def do_mqrestore(self, flags):
        source = os.path.join(self._backupfs(), os.path.basename(flags.value("-f") or ""))
        if not os.path.isfile(source):
            raise Refused(0, "% File not found: mqbackup:///QMgrs/" + (flags.value("-f") or ""))
        record = _read_archive(source, "qmgr.json")
        if record["name"] in self._qmgrs():
            raise Refused(0, "AMQ8110E: IBM MQ queue manager already exists.")
        self._save(record["name"], {"status": "Ended immediately", "queues": record["queues"]})
        return "Queue manager '%s' restored from mqbackup:///QMgrs/%s\n" % (record["name"], flags.value("-f"))

    def do_userbackup(self, flags):
        target = flags.value("-f") or time.strftime("userbackup-%Y%m%d-%H%M%S")
        if os.path.basename(target) != target:
            raise Refused(0, "% The backup file name must be a plain name")
        _write_archive(self.home.store_path("mqbackup", target), {"users.json": self.home.read("mq-users", {})})
        return "The messaging users were backed up to mqbackup:///%s\n" % target

    def do_userrestore(self, flags):
        name = os.path.basename(flags.value("-f") or "")
        source = self.home.store_path("mqbackup", name)
        if not name or not os.path.isfile(source):
            raise Refused(0, "% File not found: mqbackup:///" + name)
        wanted = _read_archive(source, "users.json")
        users = self.home.read("mq-users", {})
        kept = {user: record for user, record in users.items() if user in SYSTEM_MQ_USERS}
        deleted = [user for user in users if user not in wanted and user not in kept]
        added = [user for user in wanted if user not in users]
        if not flags.has("-F"):
            self.say("%d users will be deleted and %d users added. Continue? [y/n]: " % (len(deleted), len(added)))
            if self.line().lower() not in ("y", "yes"):
                return "The messaging users were not changed.\n"
        self.home.write("mq-users", dict(kept, **{user: record for user, record in wanted.items()
                                                  if user not in SYSTEM_MQ_USERS}))
        return "The messaging users were restored from mqbackup:///%s\n" % name

    def do_usercreate(self, flags):
        user, group, password = flags.value("-u"), flags.value("-g"), flags.value("-p")
        if not user or not group or not password:
            raise Refused(0, "% usercreate needs -u user -g group -p password")
        users = self.home.read("mq-users", {})
        if user in users:
            raise Refused(0, "%% The user %s already exists" % user)
        users[user] = dict(password_hash(password), group=group, description=flags.value("-d") or "")
        self.home.write("mq-users", users)
        return "The user %s was created.\n" % user

    def do_userdelete(self, flags):
        user = flags.value("-u")
        users = self.home.read("mq-users", {})
        if user not in users or user in SYSTEM_MQ_USERS:
            raise Refused(0, "%% No such user: %s" % user)
        del users[user]
        self.home.write("mq-users", users)
        return "The user %s was deleted.\n" % user

    def do_userlist(self, _flags):
        return "".join("%s\n" % user for user in sorted(self.home.read("mq-users", {})))


class _Flags:
    """A command's words: ``-x value`` pairs, bare flags, and the last word (a queue manager's name)."""

    def __init__(self, words):
        self.words = words

    def value(self, flag):
        if flag in self.words[:-1]:
            return self.words[self.words.index(flag) + 1]
        return None

    def has(self, flag) -> bool:
        return flag in self.words

    def last(self) -> str:
        if not self.words or self.words[-1].startswith("-"):
            raise Refused(0, "% A queue manager name is needed")
        return self.words[-1]


def _write_archive(path, members):
    with open(path + ".new", "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, value in members.items():
            data = json.dumps(value, sort_keys=True).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            archive.addfile(info, io.BytesIO(data))
    os.replace(path + ".new", path)


def _read_archive(path, member):
    try:
        with tarfile.open(path, "r:gz") as archive:
            return json.load(archive.extractfile(member))
    except (tarfile.TarError, KeyError, ValueError, AttributeError):
        raise Refused(0, "% The file is not a backup this command reads: " + os.path.basename(path)) from None


if __name__ == "__main__":
    sys.exit(Console(Home(sys.argv[1])).run())
