# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``kanidm`` provider: a Kanidm server's database, as kanidmd backs it up, and its configuration.

Parts:

- ``kanidm-db.json.gz`` (``kanidm-db.json`` when uncompressed): offline, ``kanidmd database backup`` with the
  service stopped (the book stops it; opt.rs marks the command offline); online, the newest file (or the one
  named) of the server's own [online_backup] directory, adopted as it is, nothing stopped. Either way the file is
  read back (cli.py): kanidmd exits 0 having written nothing;
- ``config.tar``: server.toml and the TLS chain, key and client CA it names (replication's configuration is in
  server.toml itself).

A restore, all checked before anything stops (kanidmd's release in the backup's version series, which kanidmd
itself requires, and server.toml there): the service stopped, the configuration files that differ put back (the
origin replaced when asked), ``kanidmd database restore`` (it wipes the database, loads the file, reindexes),
``database verify``, ``vacuum`` when asked, the service started and awaited on /status.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import time
import urllib.error

from ansible.module_utils.urls import open_url

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import COPY_BYTES, private_temp_dir
from ansible_collections.drkit.backup.plugins.module_utils.host import services
from ansible_collections.drkit.backup.plugins.module_utils.providers import config_tree as tree
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import DumpProvider, PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm import cli, config
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm.drill import KanidmDrill
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm.options import OPTIONS

DB_PART = "kanidm-db.json"
CONFIG_PART = "config.tar"
# The files kanidmd's online backups write (server/core/src/actors/v1_read.rs): backup-<RFC 3339 UTC>.json[.gz].
ONLINE_FILE = re.compile(r"^backup-(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\.json(?:\.gz)?$")


class KanidmProvider(KanidmDrill, DumpProvider):
    """A Kanidm server: kanidmd's backup of its database, and its configuration."""

    name = "kanidm"
    OPTIONS = OPTIONS
    supports = (("full", False), ("full", True))
    # A backup records KANIDM_PKG_SERIES; kanidmd restores only into the same major.minor (DB0001).
    release_rule = "same_series"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        # A drill's kanidmd runs on the backup's server.toml, rewritten under its scratch directory (drill.py).
        self.config_path = os.path.join(self.option("scratch_dir"), "config", "server.toml") \
            if self.option("scratch_dir") else self.option("config")
        self._config = None
        self._online = False
        self._held = None       # what the database part holds (cli.read)
        self._adopted = None    # the [online_backup] file an online backup adopts: {path, name, time}
        self._files = None      # the configuration files kept

    def server_config(self) -> config.ServerConfig:
        if self._config is None:
            self._config = config.ServerConfig(self.config_path)
        return self._config

    def kanidmd(self) -> cli.Kanidmd:
        return cli.Kanidmd(self.option("kanidmd"), self.config_path)

    # --- backup ----------------------------------------------------------------------------------------

    def nothing_to_save(self):
        if not os.path.isfile(self.config_path):
            return "kanidmd is not configured here (no %s)" % self.config_path
        return ""

    def product_version(self):
        return self.kanidmd().version()

    def check_backup(self, backup_type, online):
        super().check_backup(backup_type, online)
        self._online = online
        problem = self.nothing_to_save()
        if problem:
            raise InvalidInput("%s: nothing was backed up" % problem)
        self.server_config()  # read and valid before anything stops
        self.product_version()
        if online:
            self._adopted = self._adoptable()
        elif self.option("online_backup_file"):
            raise InvalidInput("online_backup_file names a file of [online_backup] to adopt, which an online backup "
                               "does: give online true, or leave it out for kanidmd database backup")

    def _adoptable(self) -> dict:
        """The [online_backup] file an online backup adopts."""
        directory = self.server_config().online_backup_dir()
        wanted = self.option("online_backup_file")
        if wanted:
            path = wanted if os.path.isabs(wanted) else os.path.join(directory, wanted)
            if not os.path.isfile(path):
                # kanidmd may have rotated it away since an earlier run adopted it: existing() looks for that
                # adoption by name, and fails with this message when there is none.
                return {"path": path, "name": os.path.basename(path), "time": None, "sha256": None,
                        "gone": "online_backup_file %s is not there" % path}
        else:
            try:
                found = sorted(name for name in os.listdir(directory) if ONLINE_FILE.match(name))
            except OSError as exc:
                raise InvalidInput("the [online_backup] directory %s of %s cannot be read (%s): nothing was backed "
                                   "up" % (directory, self.config_path, exc.strerror or exc))
            if not found:
                raise InvalidInput("kanidmd has written no online backup into %s (backup-<time>.json[.gz]): an "
                                   "online backup adopts one of those; set [online_backup] in %s and wait for its "
                                   "schedule, or take an offline backup" % (directory, self.config_path))
            path = os.path.join(directory, found[-1])  # RFC 3339 UTC names sort by time
        match = ONLINE_FILE.match(os.path.basename(path))
        with open(path, "rb") as handle:
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(COPY_BYTES), b""):
                digest.update(block)
        return {"path": path, "name": os.path.basename(path), "time": match.group("time") if match else None,
                "sha256": digest.hexdigest()}

    def fixed_moment(self):
        if not self._adopted or not self._adopted["time"]:
            return None
        moment = self._adopted["time"].replace("Z", "")
        return datetime.datetime.strptime(moment.split(".")[0], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)

    def existing(self, complete_headers):
        if not self._adopted:
            return None
        gone = self._adopted.get("gone")
        for entry, header in complete_headers:
            held = (header.manifest.get("kanidm") or {}).get("adopted") or {}
            if header.manifest.get("product") != self.name:
                continue
            key = "name" if gone else "sha256"
            if held.get(key) == self._adopted[key]:
                return entry, header
        if gone:
            raise InvalidInput(gone)
        return None

    def services(self):
        return [self.option("service")] if self.option("service") else []

    def describe(self):
        return {name: self.options[name] for name in ("config", "service") if name in self.options}

    def parts(self, backup_type):
        if self._adopted:
            compressed = cli.is_gzip(self._adopted["path"])
        else:
            compressed = self.server_config().compressed()
        home = os.path.dirname(os.path.abspath(self.config_path))
        self._files = [os.path.relpath(path, home) if path.startswith(home + os.sep) else path
                       for path in self.server_config().files()]
        return [PartSpec(DB_PART + (".gz" if compressed else ""), "kanidm-db", compressed=compressed),
                PartSpec(CONFIG_PART, "kanidm-config", paths=self._files)]

    def estimate_size(self, backup_type):
        try:
            return os.path.getsize(self._adopted["path"] if self._adopted else self.server_config().db_path)
        except OSError:
            return None

    def capture(self, part, out):
        if part.kind == "kanidm-config":
            tree.write(out, os.path.dirname(os.path.abspath(self.config_path)), part.extra["paths"])
            return
        if self._adopted:
            self._held = cli.read(self._adopted["path"])
            self._check_series(self._held, "the adopted %s" % self._adopted["name"])
            self._copy(self._adopted["path"], out)
            return
        with self._private_dir("backup") as directory:
            path = os.path.join(directory, part.name)  # kanidmd takes gzip by the name's .gz
            self._held = self.kanidmd().backup(path)
            self._check_series(self._held, "kanidmd's backup")
            self._copy(path, out)

    def _check_series(self, held, what):
        there = cli.series(self.product_version())
        if held["series"] and held["series"] != there:
            self.warnings.append("%s was made by kanidmd %s.x and this host runs %s: kanidmd restores it only into "
                                 "a %s.x release" % (what, held["series"], self.product_version(), held["series"]))

    @staticmethod
    def _copy(path, out):
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, out, COPY_BYTES)

    def _private_dir(self, what):
        return private_temp_dir(".drkit-kanidm-%s-" % what, self.option("staging_dir"))

    def content_summary(self):
        if not self._held:
            return {}
        return {name: self._held["counts"][name] for name in ("persons", "groups")}

    def captured(self):
        fields = super().captured()
        fields["kanidm"] = {
            "version": self.product_version(), "configPath": os.path.abspath(self.config_path),
            "series": (self._held or {}).get("series"),
            "entries": ((self._held or {}).get("counts") or {}).get("entries"), "config": self._files or [],
            "origin": self.server_config().get("origin"), "domain": self.server_config().get("domain"),
            "adopted": {name: self._adopted[name] for name in ("name", "time", "sha256")} if self._adopted else None,
        }
        self.report["adopted"] = self._adopted["name"] if self._adopted else None
        return fields

    # --- restore ---------------------------------------------------------------------------------------

    def _made(self, header) -> dict:
        return header.manifest.get("kanidm") or {}

    def _db_part(self, header):
        return next((part for part in header.parts if part.get("kind") == "kanidm-db"), None)

    def check_restore(self, header):
        problems = []
        if not os.path.isfile(self.config_path) and not self.option("restore_config"):
            problems.append("kanidmd's configuration %s is not there, and restore_config is false" % self.config_path)
        try:
            there = self.product_version()
        except cli.KanidmError as exc:
            return problems + [str(exc)]
        made = self._made(header).get("series")
        if made and made != cli.series(there):
            # The release rule says so too; this says that force_release cannot help.
            problems.append("this host's kanidmd %s cannot load a database of kanidmd %s.x "
                            "(DB0001MismatchedRestoreVersion), whatever force_release says: install a %s.x release"
                            % (there, made, made))
        if self.option("origin") and not re.match(r"^https://[^/]+/?$", self.option("origin")):
            problems.append("origin %s is not https://name[:port]: kanidmd serves HTTPS only" % self.option("origin"))
        if self._db_part(header) is None:
            problems.append("backup %s holds no kanidmd database part" % header.name)
        return problems

    def restore_plan(self, header):
        plan = ["stop service %s" % self.option("service")] if self.option("service") else []
        if self.option("restore_config"):
            plan.append("put back the configuration files that differ (%s)"
                        % ", ".join(self._made(header).get("config") or [CONFIG_PART]))
        if self.option("origin"):
            plan.append("set origin = %s in %s" % (self.option("origin"), self.config_path))
        plan.append("restore kanidmd's database from %s (kanidmd database restore)" % self._db_part(header)["name"])
        if self.option("verify"):
            plan.append("check it with kanidmd database verify")
        if self.option("vacuum"):
            plan.append("vacuum it (kanidmd database vacuum)")
        if self.option("service"):
            plan.append("start service %s and wait for kanidmd's /status" % self.option("service"))
        return plan

    def restore_whole(self, header, stage_dir):
        done = []
        service = [self.option("service")] if self.option("service") else []
        with services.stopped(service, self.service_control, self.journal):
            if self.option("scratch_dir"):
                done += self.restore_scratch_config(stage_dir, header)
            elif self.option("restore_config"):
                home = os.path.dirname(os.path.abspath(self.config_path))
                changed = tree.restore(os.path.join(stage_dir, CONFIG_PART), home)
                done.append("put back %d configuration file(s)" % len(changed))
                self._config = None
            if self.option("origin") and config.set_top_key(self.config_path, "origin", self.option("origin")):
                done.append("set origin = %s in %s" % (self.option("origin"), self.config_path))
                self._config = None
            kanidmd = self.kanidmd()
            done.append(kanidmd.restore(self._staged(stage_dir, self._db_part(header)["name"])))
            if self.option("verify"):
                done.append(kanidmd.verify())
            if self.option("vacuum"):
                done.append(kanidmd.vacuum())
        if service:
            done.append(self._wait_running())
        return done

    @staticmethod
    def _staged(stage_dir, name) -> str:
        """The staged database file, named as its content is: kanidmd takes gzip only from a name ending .gz."""
        path = os.path.join(stage_dir, name)
        wanted = (path[:-3] if path.endswith(".gz") else path) + (".gz" if cli.is_gzip(path) else "")
        if wanted != path:
            os.rename(path, wanted)
        return wanted

    # --- health ----------------------------------------------------------------------------------------

    def status_url(self) -> str:
        if self.option("status_url"):
            return self.option("status_url")
        address = self.server_config().bindaddress()
        host, _sep, port = address.rpartition(":")
        host = host.strip("[]")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return "https://%s:%s/status" % ("[%s]" % host if ":" in host else host, port)

    def _wait_running(self) -> str:
        url = self.status_url()
        deadline = time.monotonic() + self.option("health_timeout")
        last = "no answer yet"
        while True:
            try:
                # The server's own certificate, asked on a local address: whether it runs is all this asks.
                with open_url(url, timeout=10, validate_certs=False) as answer:
                    body = answer.read()
                if json.loads(body or b"null") is True:
                    return "kanidmd is running (%s)" % url
                last = "it answered %s" % body[:200].decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                last = "HTTP %d" % exc.code
            except (OSError, ValueError) as exc:
                last = str(getattr(exc, "reason", exc))
            if time.monotonic() >= deadline:
                raise cli.KanidmError("kanidmd was started and does not answer at %s after %d s (%s): see its log"
                                      % (url, self.option("health_timeout"), last))
            time.sleep(0.5)

    def health(self, header):
        try:
            self._wait_running()
        except cli.KanidmError as exc:
            return [str(exc)]
        return []
