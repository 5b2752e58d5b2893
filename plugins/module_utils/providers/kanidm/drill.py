# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drills of Kanidm backups (DESIGN decisions 18 and 26): a kanidmd of the drill's own, on 127.0.0.1.

kanidmd's only outbound peers are its replication partners, named in server.toml's [replication]. The drill puts
the backup's server.toml and the files it names under ``<scratch>/config`` (server.toml under that name), and
rewrites it before kanidmd reads it: the database under ``<scratch>/db``, HTTPS on 127.0.0.1 at the port the drill
chose (in status_url), no LDAP listener, no [replication], no [online_backup], the TLS files the scratch copies.
``kanidmd database restore`` and ``verify`` run on that file, then ``kanidmd server`` as the drill's own child.
The check: /status answers, ``check_username`` logs in with its password, and ``check_account`` is found; the
content check counts persons and groups through the same login.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tarfile
import time

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.config_tree import ABSOLUTE
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm import cli, config, rest

# Tables of server.toml that name a peer or write outside the scratch directory.
DROPPED_TABLES = ("replication", "online_backup")
DROPPED_KEYS = ("ldapbindaddress",)


class KanidmDrill:
    """The drill methods of the kanidm provider (mixed into KanidmProvider)."""

    drill_check_name = "kanidm"

    def scratch_options(self, scratch_dir, header):
        if self._db_part(header) is None:
            raise InvalidInput("backup %s holds no kanidmd database part to drill" % header.name)
        with socket.socket() as probe:  # a free port of the loopback for the drill's kanidmd
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return {"scratch_dir": os.path.realpath(scratch_dir), "service": "", "restore_config": True, "origin": "",
                "verify": True, "vacuum": False, "status_url": "https://127.0.0.1:%d/status" % port}

    def _in_scratch(self, *names):
        return os.path.join(self.option("scratch_dir"), *names)

    def restore_scratch_config(self, stage_dir, header) -> list:
        """The backup's configuration under <scratch>/config, rewritten to be the drill's alone."""
        made = self._made(header)
        original = made.get("configPath") or self.OPTIONS["config"]["default"]
        top = self._in_scratch("config")
        os.makedirs(self._in_scratch("db"), mode=0o700, exist_ok=True)
        with tarfile.open(os.path.join(stage_dir, "config.tar")) as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.name.startswith("/") or ".." in parts or not member.isreg():
                    continue  # only the regular files the provider wrote, under the scratch directory
                name = "server.toml" if member.name == os.path.basename(original) else member.name
                target = os.path.join(top, name)
                os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
                with tar.extractfile(member) as source, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                                                     0o600), "wb") as out:
                    out.write(source.read())
        path = os.path.join(top, "server.toml")
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for table in DROPPED_TABLES:
            text = config.without_tables(text, table)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        host_port = re.match(r"^https://([^/]+)/", self.option("status_url")).group(1)
        values = {"db_path": self._in_scratch("db", "kanidm.db"), "bindaddress": host_port}
        home = os.path.dirname(original)
        for key in config.FILE_KEYS:
            value = config.ServerConfig(path).get(key)
            if value:
                absolute = value if os.path.isabs(value) else os.path.normpath(os.path.join(home, value))
                inside = os.path.relpath(absolute, home) if absolute.startswith(home + os.sep) \
                    else ABSOLUTE + absolute.lstrip("/")
                values[key] = os.path.join(top, inside)
        for key, value in values.items():
            config.set_top_key(path, key, value)
        for key in DROPPED_KEYS:
            config.set_top_key(path, key, None)
        self.config_path = path
        self._config = None
        peers = self.server_config().peers() or [table for table in DROPPED_TABLES
                                                 if table in self.server_config().values]
        if peers:  # decision 26: nothing of the live peers reaches the drill's kanidmd
            raise InvalidInput("the drill's server.toml still names %s: the drill stops here" % ", ".join(peers))
        return ["wrote the drill's server.toml (%s; no replication, LDAP listener or online backups)"
                % ", ".join("%s=%s" % item for item in sorted(values.items()))]

    # --- the drill's kanidmd ----------------------------------------------------------------------------------

    def scratch_restored(self):
        self.config_path = self._in_scratch("config", "server.toml")
        self._config = None
        log = open(os.open(self._in_scratch("kanidmd.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        with log:
            child = subprocess.Popen([self.option("kanidmd"), "server", "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        with open(self._in_scratch("kanidmd.pid"), "w", encoding="utf-8") as handle:
            handle.write("%d\n" % child.pid)

    def scratch_end(self):
        pid = self._drill_kanidmd()
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 5)):
            if pid is None:
                return []
            os.killpg(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self._drill_kanidmd():
                time.sleep(0.2)
            pid = self._drill_kanidmd()
        return ["the drill's kanidmd (pid %d) is still running" % pid] if pid else []

    def _drill_kanidmd(self):
        """The pid of the drill's kanidmd while it runs (its pid file names it, and it runs this scratch's
        server.toml), else None."""
        try:
            with open(self._in_scratch("kanidmd.pid"), encoding="utf-8") as handle:
                pid = int(handle.read().split()[0])
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                running = self._in_scratch("config").encode() in handle.read()
        except (OSError, ValueError, IndexError):
            return None
        return pid if running else None

    def _api(self) -> rest.KanidmAPI:
        """The drill's (or the restored) kanidmd, logged in as check_username."""
        if not self.secrets.get("check_password"):
            raise InvalidInput("the kanidm check logs %s in and needs its password: give "
                               "drkit_backup_drill_secrets.check_password" % self.option("check_username"))
        api = rest.KanidmAPI(self.status_url().rsplit("/status", 1)[0])
        api.login(self.option("check_username"), self.secrets["check_password"])
        return api

    def drill_check(self, header):
        try:
            api = self._api()
            account = self.option("check_account")
            if account and api.get("/v1/person/%s" % account) is None:
                return ["kanidmd logged %s in, and has no person %s" % (self.option("check_username"), account)]
        except (cli.KanidmError, InvalidInput) as exc:
            return [str(exc)]
        return []

    def count(self, summary=None):
        """Persons and groups: through the API while kanidmd answers, else from kanidmd's own offline backup of
        the database (kanidmd stopped, as a restore that names no service leaves it)."""
        if rest.KanidmAPI(self.status_url().rsplit("/status", 1)[0]).reachable():
            api = self._api()
            return {"persons": len(api.names("person")), "groups": len(api.names("group"))}
        with self._private_dir("count") as directory:
            held = self.kanidmd().backup(os.path.join(directory, "count.json.gz"))
        return {name: held["counts"][name] for name in ("persons", "groups")}
