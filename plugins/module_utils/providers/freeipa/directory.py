# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an IdM directory holds, counted twice (DESIGN decision 28): in the LDIF that ipa-backup exported inside its
own archive (the capture's snapshot: the directory server was stopped, or the export is db2ldif's), and over LDAP on
a restored, running server.

The summary: entries per suffix (``userRoot`` is the IdM tree, ``ipaca`` the CA's ``o=ipaca``) and the users (the
entries right under ``cn=users,cn=accounts``). Replication tombstones (``objectClass: nsTombstone``, which db2ldif
-r exports and a search never returns) are not counted; LDAP subentries are, on both sides.
"""

from __future__ import annotations

import re
import tarfile

from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError

CA_SUFFIX = "o=ipaca"
DIRECTORY_MANAGER = "cn=Directory Manager"
# ipa-backup's export of each backend: <INSTANCE>-<backend>.ldif at the top of ipa-full.tar / ipa-data.tar.
LDIF_MEMBER = re.compile(r"^(?:\./)?[^/]+-(userRoot|ipaca)\.ldif$")
EVERY_ENTRY = "(|(objectClass=*)(objectClass=ldapSubEntry))"


def users_base(basedn) -> str:
    return "cn=users,cn=accounts,%s" % basedn


def _norm(dn) -> str:
    return ",".join(part.strip() for part in dn.split(",")).lower()


def summary_of_archive(path, basedn) -> dict:
    """The summary of ipa-backup's (unencrypted) archive at ``path``, for the IdM tree ``basedn``."""
    suffixes = {"userRoot": basedn, "ipaca": CA_SUFFIX}
    users_parent = _norm(users_base(basedn))
    entries, users = {}, 0
    with tarfile.open(path, "r|gz") as tar:
        for member in tar:
            match = LDIF_MEMBER.match(member.name)
            if not match or not member.isfile():
                continue
            count = 0
            for dn, classes in _ldif_entries(tar.extractfile(member)):
                if "nstombstone" in classes:
                    continue
                count += 1
                if match.group(1) == "userRoot" and _norm(dn).split(",", 1)[-1] == users_parent:
                    users += 1
            entries[suffixes[match.group(1)]] = count
    if not entries:
        return {}
    return {"entries": entries, "users": users}


def _ldif_entries(binary):
    """(dn, set of lower-case objectClass values) of each entry of an LDIF stream."""
    dn, classes = None, set()
    for line in _logical_lines(binary):
        if not line:
            if dn is not None:
                yield dn, classes
            dn, classes = None, set()
        elif not line.startswith("#"):
            key, _sep, value = line.partition(":")
            key, value = key.lower(), value.lstrip(": ")  # "dn:: <base64>" is a dn too
            if key == "dn":
                dn = value
            elif key == "objectclass":
                classes.add(value.strip().lower())
    if dn is not None:
        yield dn, classes


def _logical_lines(binary):
    """The lines of an LDIF stream, each folded line joined again (a continuation starts with one space)."""
    pending = None
    for raw in binary:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith(" ") and pending:
            pending += line[1:]
            continue
        if pending is not None:
            yield pending
        pending = line
    if pending is not None:
        yield pending


def count_over_ldap(uri, password, basedn, summary, inside, timeout=600) -> dict:
    """The same counts, over LDAP as the Directory Manager on the server at ``uri``; ``inside`` puts a command into
    the drill's network namespace."""
    counted = {"entries": {}}
    for suffix in sorted((summary or {}).get("entries") or {basedn: 0, CA_SUFFIX: 0}):
        counted["entries"][suffix] = _count(uri, password, suffix, "sub", inside, timeout)
    if "users" in (summary or {"users": 0}):
        counted["users"] = _count(uri, password, users_base(basedn), "one", inside, timeout)
    return counted


def exists(uri, password, dn, inside, timeout=600) -> bool:
    return _count(uri, password, dn, "base", inside, timeout) == 1


def _count(uri, password, base, scope, inside, timeout) -> int:
    """How many entries a search as the Directory Manager finds (0 when ``base`` does not exist)."""
    with process.secret_file(password) as path:
        result = process.run(inside(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", uri, "-D",
                                     DIRECTORY_MANAGER, "-y", path, "-b", base, "-s", scope, EVERY_ENTRY, "1.1"]),
                             what="ldapsearch", timeout=timeout, check=False, secrets=[password])
    if result.code == 32:  # no such object
        return 0
    if result.code != 0:
        raise DrkitError("searching %s on %s failed (ldapsearch exit %d): %s" % (base, uri, result.code,
                                                                                 result.tail()))
    return sum(1 for line in result.output.splitlines() if line.startswith("dn:"))
