# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drills of IdM backups (DESIGN decision 26): a server that keeps its host name, restored where no peer answers.

ipa-restore restores a server under its own host name only, and a restored directory's replication agreements
reach its peers as soon as it starts (and ipa-restore itself disables the agreements of every master it can reach).
So a drill of an IdM backup runs on a **drill target**: a host where the IdM packages are installed and IdM is not
configured (a fresh host, as after a disaster), never on a server; and everything the drill runs there (ipa-restore,
ipactl, the counts, the checks) runs inside a network namespace of its own, where only its loopback exists. Its
teardown is IdM's own uninstall (``ipa-server-install --uninstall``) in that namespace; whatever still runs there
afterwards is stopped, and the host is back to unconfigured.
"""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common import netns
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.process import tail
from ansible_collections.drkit.backup.plugins.module_utils.providers.freeipa import directory

UNINSTALL = ["ipa-server-install", "--uninstall", "--unattended", "--ignore-topology-disconnect",
             "--ignore-last-of-role"]


class FreeIPADrill:
    """The drill methods of the freeipa provider (mixed into FreeIPAProvider)."""

    drill_check_name = "directory"

    def scratch_options(self, scratch_dir, header):
        if self.configured():
            raise InvalidInput("IdM is configured on this host (%s exists): a drill of an IdM backup restores a "
                               "whole server, so it runs only on a drill target, where the IdM packages are "
                               "installed and IdM is not configured (drkit_backup_drill_target); if a drill was "
                               "killed here, run ipa-server-install --uninstall -U first" % self.default_conf)
        return {"netns": os.path.join(os.path.realpath(scratch_dir), "netns"), "rehide": False}

    def scratch_start(self):
        netns.create(self.options["netns"])

    def scratch_end(self) -> list:
        where = self.option("netns")
        if not where or not os.path.lexists(where):
            return []
        problems = []
        if self.configured():
            code, output = self._run(UNINSTALL, timeout=self.timeout)
            if code != 0:
                problems.append("ipa-server-install --uninstall failed (exit %d): %s" % (code, tail(output, 3)))
            elif self.configured():
                problems.append("ipa-server-install --uninstall exited 0 and IdM is still configured (%s exists)"
                                % self.default_conf)
        try:
            netns.remove(where)
        except DrkitError as exc:
            problems.append(str(exc))
        return problems

    def health(self, header):
        code, output = self._run(["ipactl", "status"], timeout=600)
        if code != 0:
            return ["ipactl status exits %d: %s" % (code, tail(output, 2))]
        if "Directory Service: RUNNING" not in output or "STOPPED" in output:
            return ["ipactl status exits 0 but not every service runs: %s" % tail(output, 3)]
        return []

    def drill_check(self, header):
        """The directory answers the Directory Manager, holds both suffixes and this server's master entry."""
        conf = self._global_conf()
        basedn, host = conf.get("basedn"), header.manifest.get("native", {}).get("host")
        try:
            uri, password = self._directory()
            found = directory.count_over_ldap(uri, password, basedn, None, self._inside)["entries"]
        except DrkitError as exc:
            return [str(exc)]
        problems = ["suffix %s is empty on the restored server" % suffix for suffix, count in sorted(found.items())
                    if not count]
        master = "cn=%s,cn=masters,cn=ipa,cn=etc,%s" % (host, basedn)
        if not problems and not directory.exists(uri, password, master, self._inside):
            problems.append("the restored directory does not know %s as an IdM server (%s is missing)" % (host, master))
        return problems

    def count(self, summary=None):
        uri, password = self._directory()
        return directory.count_over_ldap(uri, password, self._global_conf().get("basedn"), summary, self._inside)

    def _directory(self):
        """(LDAP URI, Directory Manager password) of the restored server."""
        uri = self._global_conf().get("ldap_uri")
        if not uri:
            raise DrkitError("the restored %s names no ldap_uri: the restore did not bring IdM's configuration "
                             "back" % self.default_conf)
        password = self._dm_password()
        if not password:
            raise DrkitError("reading the restored directory needs the Directory Manager password of the backed-up "
                             "server: give it in drkit_backup_drill_provider_secrets.dm_password")
        return uri, password

    def _inside(self, argv):
        return netns.inside(self.option("netns"), argv)
