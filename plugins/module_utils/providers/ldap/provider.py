# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``ldap`` provider: LDIF backups of an OpenLDAP server.

One part per database (suffix), an LDIF streamed from the tool's standard output into the backup as it comes, its
entries counted on the way (the content summary): offline ``slapcat -n N`` with slapd stopped, online a paged
``ldapsearch`` of each suffix with its operational attributes (``+``) but those slapd computes for each search;
and the cn=config database as a part of its own (``slapcat -n 0``). A restore stages the verified LDIF in a private
directory and either loads each database with ``slapadd`` into a stopped slapd, in a new directory that takes the
old one's place only once complete (the old one is moved aside and put back if anything fails), or adds the
entries to a running slapd over LDAP, parents first, into an empty suffix.

The release rule: an LDIF of entries is release-independent (RFC 2849), so the data restores into any release that
has the schema it uses (slapadd checks that itself); cn=config names a release's modules, backends and olc*
attributes (2.5 dropped back-bdb and back-hdb, ppolicy's schema moved into the overlay), so restoring it
(``restore_config``) is allowed within the same series only: 2.5.x to 2.5.y.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import CaptureError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import chown_tree, move_aside, put_back
from ansible_collections.drkit.backup.plugins.module_utils.common.process import running_pid
from ansible_collections.drkit.backup.plugins.module_utils.providers.base import DumpProvider, PartSpec
from ansible_collections.drkit.backup.plugins.module_utils.providers.directories import openldap
from ansible_collections.drkit.backup.plugins.module_utils.providers.ldap.options import OPTIONS

CONFIG_PART = "config.ldif"
CONFIG_KIND = "cn=config"
DATA_KIND = "ldif"


def part_names(suffixes) -> list:
    """A valid part name for each suffix: ``dc=example,dc=com`` -> ``db-dc_example_dc_com.ldif``."""
    names = []
    for suffix in suffixes:
        name = "db-%s.ldif" % re.sub(r"[^A-Za-z0-9._-]", "_", suffix)[:80]
        if name in names or name == CONFIG_PART:  # two suffixes that differ only in what was replaced
            name = name[:-5] + "-%s.ldif" % hashlib.sha256(suffix.encode()).hexdigest()[:8]
        names.append(name)
    return names


class LDAPProvider(DumpProvider):
    """LDIF backups of an OpenLDAP server: slapcat or a paged search per database, cn=config apart; slapadd or adds."""

    name = "ldap"
    OPTIONS = OPTIONS
    supports = (("full", False), ("full", True))
    release_rule = "same_series"
    release_params = {"components": 2}
    drill_check_name = "entries"

    def __init__(self, options, secrets=None):
        super().__init__(options, secrets)
        self.config = openldap.Config(self.option("config_dir"), self.option("config_file"))
        self.tools = openldap.Tools(self.option("bin_dir"))
        self.client = openldap.Client(self.option("uri"), self.option("bind_dn"), self.secrets.get("password"),
                                      self.option("ca_file"), self.option("start_tls"), self.tools)
        self._online = False
        self._version = None
        self._chosen = None
        self._entries = {}

    def product_version(self):
        if self._version is None:
            self._version = self.tools.version() or ""
        return self._version or None

    # --- backup ----------------------------------------------------------------------------------------

    def nothing_to_save(self):
        if self.option("config") and not self.config.exists():
            return "%s is not there" % self.config.describe()
        return ""

    def check_backup(self, backup_type, online):
        super().check_backup(backup_type, online)
        if self.option("bind_dn") and not self.secrets.get("password"):
            raise InvalidInput("provider ldap: bind_dn %s needs provider_secrets.password" % self.option("bind_dn"))
        if self.option("config") and self.option("config_file"):
            raise InvalidInput("provider ldap: a slapd.conf (config_file) is no cn=config database to export: set "
                               "provider_options.config false and back up the file with the files provider")
        self._online = online
        self._databases()  # the configuration is there, or the server answers, and it has these suffixes

    def _databases(self) -> list:
        """The databases to back up, read once: (suffix, Database or None online when the config is elsewhere)."""
        if self._chosen is None:
            local = {database.suffix: database for database in self.config.databases()} \
                if not self._online or self.config.exists() else {}
            present = self.client.naming_contexts() if self._online else sorted(local, key=lambda s: local[s].number)
            given = self.option("suffixes") or []
            missing = [suffix for suffix in given if suffix not in present]
            if missing:
                where = self.client.describe() if self._online else self.config.describe()
                raise InvalidInput("%s has no database for suffix %s (it has: %s): nothing was backed up"
                                   % (where, ", ".join(missing), ", ".join(present) or "none"))
            self._chosen = [(suffix, local.get(suffix)) for suffix in (given or present)]
            if not self._chosen and not self.option("config"):
                raise InvalidInput("%s has no database that holds entries: nothing to back up"
                                   % (self.client.describe() if self._online else self.config.describe()))
        return self._chosen

    def services(self) -> list:
        return list(self.option("services") or [])

    def describe(self):
        return {name: self.options[name] for name in ("suffixes", "config", "services") if name in self.options}

    def parts(self, backup_type):
        parts = [PartSpec(CONFIG_PART, CONFIG_KIND)] if self.option("config") else []
        chosen = self._databases()
        for name, (suffix, database) in zip(part_names([pair[0] for pair in chosen]), chosen):
            extra = {"suffix": suffix}
            if database is not None:
                extra.update(database=database.number, backend=database.backend)
            parts.append(PartSpec(name, DATA_KIND, **extra))
        return parts

    def estimate_size(self, backup_type):
        """What the databases' files take on disk (an LDIF is about as big as an mdb file with its indexes)."""
        sizes = [os.stat(os.path.join(database.directory, name)).st_blocks * 512
                 for _suffix, database in self._databases() if database is not None and database.directory
                 for name in ("data.mdb",) if os.path.exists(os.path.join(database.directory, name))]
        return sum(sizes) if sizes else None

    def capture(self, part, out):
        if part.kind == CONFIG_KIND:
            key, what = "", "cn=config"
            self._entries[key] = self.tools.export(self.config, 0, out, "slapcat of cn=config")
        else:
            key, what = part.extra["suffix"], "database %s" % part.extra["suffix"]
            if self._online:
                self._entries[key] = self.client.export(key, out)
            else:
                self._entries[key] = self.tools.export(self.config, part.extra["database"], out, "slapcat of %s" % what)
        if not self._entries[key]:
            # slapcat exits 0 on a database it could not read, and a search on one the bind may not read.
            raise CaptureError("the export of %s holds no entry, though the configuration names it: nothing was "
                               "backed up (is it the right server, and may %s read it?)"
                               % (what, "this bind" if self._online else "root"))

    def content_summary(self):
        """Entries per suffix, counted in the export itself."""
        counted = {suffix: {"entries": entries} for suffix, entries in self._entries.items() if suffix}
        return {"suffixes": dict(sorted(counted.items()))} if counted else {}

    def captured(self):
        fields = super().captured()
        databases = {}
        for suffix, database in self._databases():
            facts = {"entries": self._entries.get(suffix, 0)}
            if database is not None:
                facts.update(backend=database.backend, database=database.number, directory=database.directory)
            databases[suffix] = facts
        fields["directory"] = {"server": "OpenLDAP", "version": self.product_version(), "databases": databases}
        if "" in self._entries:
            fields["directory"]["configEntries"] = self._entries[""]
        return fields

    # --- restore ---------------------------------------------------------------------------------------

    def check_release(self, header, force=False):
        """Only cn=config is bound to a release series; entries restore into any release."""
        return super().check_release(header, force) if self.option("restore_config") else []

    def target_release(self):
        return self.product_version()

    def _offline(self) -> bool:
        return self.option("restore_with") == "slapadd"

    def check_restore(self, header):
        """Refuses, before anything is touched, a restore slapd or the data already there would be hurt by."""
        has_config = any(part["name"] == CONFIG_PART for part in header.parts)
        if self.option("restore_config"):
            if not has_config:
                return ["backup %s holds no cn=config part: restore it with restore_config false" % header.name]
            if not self._offline() or self.option("config_file"):
                return ["restore_config writes a cn=config directory with slapadd: it needs restore_with slapadd "
                        "and config_dir, not config_file"]
        if not self._offline():
            return self._online_problems(header)
        pid = running_pid(self._pid_file(), "slapd")
        if pid is not None:
            return ["slapd is running (pid %d): stop it first (drkit.backup.backup_services with state stopped, or "
                    "systemctl stop slapd), or restore into the running server with provider_options.restore_with "
                    "ldapadd" % pid]
        problems = []
        if self.option("restore_config"):
            if self.config.exists() and not self.option("replace"):
                problems.append("%s exists already: restore with provider_options.replace true to replace it (the "
                                "old one is kept aside until the restore is complete)" % self.config.describe())
            return problems + [_held_already("directory %s" % path) for path in self._backup_directories(header)
                               if not self.option("replace") and _has_files(path)]
        targets = self._targets(header)
        for suffix, database in targets.items():
            if database is None:
                problems.append("%s has no database for suffix %s: add one, or restore the backup's cn=config with "
                                "restore_config true" % (self.config.describe(), suffix))
            elif not self.option("replace") and self.tools.has_entries(self.config, database.number):
                problems.append(_held_already("database %s" % suffix))
        return problems

    def _online_problems(self, header) -> list:
        if self.option("replace"):
            return ["replace is not supported with restore_with ldapadd (the entries there would have to go before "
                    "the backup's are added, and a failed add would lose them): stop slapd and restore with "
                    "restore_with slapadd and replace true, which keeps the old database until the new one is "
                    "complete"]
        return ["%s holds entries already under %s: restore into an empty suffix, or stop slapd and restore with "
                "restore_with slapadd and replace true" % (self.client.describe(), suffix)
                for suffix in _suffixes_of(header) if self.client.exists(suffix)]

    def _pid_file(self):
        return self.config.pid_file() if self.config.exists() else None

    def _targets(self, header) -> dict:
        """Backed-up suffix -> this server's database for it (None: it has none)."""
        local = {suffix: database for database in self.config.databases() for suffix in database.suffixes}
        return {suffix: local.get(suffix) for suffix in _suffixes_of(header)}

    def _backup_directories(self, header) -> list:
        if self.option("drill_root"):
            return []  # they go under the drill's own, new directory
        facts = ((header.manifest.get("directory") or {}).get("databases") or {}).values()
        return [facts["directory"] for facts in facts if facts.get("directory")]

    def restore_plan(self, header):
        if not self._offline():
            return ["add the entries of %s to %s, parents first" % (suffix, self.client.describe())
                    for suffix in _suffixes_of(header)]
        plan = ["restore cn=config into %s with slapadd -n 0%s" % (
            self.option("config_dir"), ", replacing the one there once complete" if self.config.exists() else
            ", made standalone for the drill's own slapd" if self.option("drill_root") else "")
        ] if self.option("restore_config") else []
        return plan + ["restore database %s with slapadd%s" % (
            suffix, ", replacing the one there once complete" if self.option("replace") else "")
            for suffix in _suffixes_of(header)]

    def restore_whole(self, header, stage_dir):
        if not self._offline():
            return self._add_online(header, stage_dir)
        problems = self.check_restore(header)  # again: slapd may have been started while the backup verified
        if problems:
            raise InvalidInput("; ".join(problems))
        swapped = []
        try:
            done = []
            if self.option("restore_config"):
                staged = os.path.join(stage_dir, CONFIG_PART)
                if self.option("drill_root"):
                    openldap.scratch_config(staged, staged + ".standalone", self.option("drill_root"),
                                            openldap.peer_credentials_dn())
                    staged += ".standalone"
                self._swap(self.option("config_dir"), swapped)
                for directory in openldap.database_directories(staged):  # slapadd -n 0 wants them there
                    self._swap(directory, swapped)
                self.tools.load(self.config, 0, staged, "slapadd of cn=config")
                chown_tree(self.option("config_dir"), *self._owner(self.option("config_dir"), swapped))
                done.append("restored cn=config into %s" % self.option("config_dir"))
            targets = self._targets(header)
            for part in _data_parts(header):
                database = targets[part["suffix"]]
                if database is None:
                    raise InvalidInput("the restored cn=config has no database for suffix %s" % part["suffix"])
                if database.directory not in dict(swapped):
                    self._swap(database.directory, swapped)
                self.tools.load(self.config, database.number, os.path.join(stage_dir, part["name"]),
                                "slapadd of database %s" % part["suffix"])
                chown_tree(database.directory, *self._owner(database.directory, swapped))
                done.append("restored database %s" % part["suffix"])
        except BaseException:
            for directory, aside in reversed(swapped):
                put_back(directory, aside)
            raise
        for _directory, aside in swapped:
            if aside is not None:
                shutil.rmtree(aside)
        return done

    def _swap(self, directory, swapped):
        swapped.append((directory, move_aside(directory)))

    def _owner(self, directory, swapped):
        """(uid, gid) of what a restore writes: os_user's, else the replaced directory's, else its parent's."""
        if self.option("os_user"):
            entry = pwd.getpwnam(self.option("os_user"))
            return entry.pw_uid, entry.pw_gid
        aside = dict(swapped).get(directory)
        info = os.stat(aside or os.path.dirname(directory.rstrip("/")))
        return info.st_uid, info.st_gid

    def _add_online(self, header, stage_dir):
        done, added = [], []
        try:
            for part in _data_parts(header):
                ordered = os.path.join(stage_dir, part["name"] + ".ordered")
                openldap.ordered_for_add(os.path.join(stage_dir, part["name"]), ordered)
                added.append(part["suffix"])
                self.client.add(ordered, "ldapadd of the entries of %s" % part["suffix"])
                os.unlink(ordered)
                done.append("added the entries of %s" % part["suffix"])
        except BaseException as exc:
            undone = []
            for suffix in reversed(added):  # each suffix was empty: what is there now, this restore added
                try:
                    if self.client.exists(suffix):
                        self.client.delete_tree(suffix, "ldapdelete of what the failed restore added to %s" % suffix)
                except openldap.OpenLDAPError as failed:
                    undone.append(str(failed))
            if isinstance(exc, openldap.OpenLDAPError):
                raise openldap.OpenLDAPError("%s; %s" % (exc, "deleting the entries it had added failed too, delete "
                                                         "them by hand: %s" % "; ".join(undone) if undone else
                                                         "the entries it had added were deleted"))
            raise
        if any(part["name"] == CONFIG_PART for part in header.parts):
            done.append("left the cn=config part alone (ldapadd restores entries only)")
        return done

    # --- drills (DESIGN decisions 18, 26) -----------------------------------------------------------------

    def scratch_server(self, root=None):
        return openldap.ScratchServer(root or self.option("drill_root"), self.tools)

    def scratch_options(self, scratch_dir, header):
        """The backup's cn=config, made standalone, and its databases restored under the scratch directory, served
        by a slapd of the drill's own (openldap.ScratchServer), bound to as root over its socket."""
        if not any(part["name"] == CONFIG_PART for part in header.parts):
            raise InvalidInput("backup %s holds no cn=config part (made with provider_options.config false): a drill "
                               "makes its own slapd from the backup's cn=config, so it cannot drill this backup"
                               % header.name)
        server = self.scratch_server(os.path.join(scratch_dir, self.name))
        return dict(server.options(), config_file="", restore_with="slapadd", restore_config=True, replace=False,
                    bind_dn="", ca_file="", start_tls=False, os_user="")

    def scratch_start(self):
        os.makedirs(self.option("drill_root"), mode=0o700, exist_ok=True)

    def scratch_restored(self):
        self._scratch = self.scratch_server()
        self._scratch.start()

    def scratch_end(self):
        # The slapd this provider started, or one a killed drill left in the scratch directory.
        return (getattr(self, "_scratch", None) or self.scratch_server()).stop()

    # --- health and content ----------------------------------------------------------------------------

    def health(self, header):
        try:
            return ["%s has no entry %s" % (self.client.describe(), suffix)
                    for suffix in _suffixes_of(header) if not self.client.exists(suffix)]
        except openldap.OpenLDAPError as exc:
            return [str(exc)]

    def count(self, summary=None):
        """The entries under each suffix of ``summary`` on the running server the options name, over LDAP."""
        suffixes = sorted(((summary or {}).get("suffixes") or {})) or [pair[0] for pair in self._databases()]
        return {"suffixes": {suffix: {"entries": self.client.count(suffix) if self.client.exists(suffix) else 0}
                             for suffix in suffixes}}


def _held_already(what) -> str:
    return ("%s holds entries already: restore with provider_options.replace true to replace it (the old database "
            "is kept aside until the new one is complete)" % what)


def _data_parts(header) -> list:
    return [part for part in header.parts if part.get("kind") == DATA_KIND]


def _suffixes_of(header) -> list:
    return [part["suffix"] for part in _data_parts(header)]


def _has_files(path) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path))
