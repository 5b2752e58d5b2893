# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipa-backup's own output: its ``header`` file and its backup directories.

``/var/lib/ipa/backup/ipa-full-*`` or ``ipa-data-*`` holds ``header`` (an INI
file, section ``[ipa]``) and ``ipa-full.tar``/``ipa-data.tar`` (``.gpg`` when
encrypted). These are read without changing them.
"""

from __future__ import annotations

import configparser
import datetime
import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import rfc3339

NATIVE_NAME_RE = re.compile(r"^ipa-(?P<type>full|data)-(?P<stamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)$")
HEADER_FIELDS = ("type", "time", "host", "ipa_version", "version", "services")
# ipa-backup's header lists the services of the master; these are the ones that are server roles.
SERVICE_ROLES = ("CA", "KRA", "DNS", "DNSKeySync", "ADTRUST")


def parse_header(text: str, where: str) -> dict:
    """The ``[ipa]`` section of an ipa-backup ``header`` file, checked and typed."""
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read_string(text, source=where)
    except configparser.Error as exc:
        raise FormatError("%s is not an ipa-backup header: %s" % (where, str(exc).splitlines()[0]))
    if not config.has_section("ipa"):
        raise FormatError("%s is not an ipa-backup header: it has no [ipa] section" % where)
    missing = [field for field in HEADER_FIELDS if not config.has_option("ipa", field)]
    if missing:
        raise FormatError("%s lacks %s in its [ipa] section: it is damaged or not an ipa-backup header"
                          % (where, ", ".join(missing)))
    values = {field: config.get("ipa", field).strip() for field in HEADER_FIELDS}
    if values["type"] not in ("FULL", "DATA"):
        raise FormatError("%s has type %r; ipa-backup writes FULL or DATA" % (where, values["type"]))
    try:
        moment = datetime.datetime.strptime(values["time"], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise FormatError("%s has time %r; ipa-backup writes YYYY-MM-DDTHH:MM:SS (GMT)" % (where, values["time"]))
    services = [name.strip() for name in values["services"].split(",") if name.strip()]
    return {"type": values["type"], "time": moment, "host": values["host"], "ipa_version": values["ipa_version"],
            "version": values["version"], "services": services}


def roles_of(services) -> list:
    """The server roles among a header's services, in a fixed order."""
    return [role for role in SERVICE_ROLES if role in services]


def native_backups(backup_dir: str) -> list:
    """The native ``ipa-full-*`` / ``ipa-data-*`` backups in ``backup_dir``, newest first."""
    found = []
    if not os.path.isdir(backup_dir):
        return found
    for entry in os.scandir(backup_dir):
        match = NATIVE_NAME_RE.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        found.append(describe_native(entry.path))
    found.sort(key=lambda item: (item["name"].split("-", 2)[2], item["name"]), reverse=True)
    return found


def describe_native(path: str) -> dict:
    """What a native backup directory holds, read without changing it."""
    name = os.path.basename(path.rstrip("/"))
    match = NATIVE_NAME_RE.match(name)
    kind = match.group("type") if match else None
    item = {"name": name, "path": path, "type": kind, "status": "complete", "problems": []}
    files = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False):
            files.append({"name": entry.name, "size": entry.stat(follow_symlinks=False).st_size})
    item["files"] = files
    item["size"] = sum(f["size"] for f in files)
    names = {f["name"] for f in files}
    archive_name = "ipa-%s.tar" % kind
    item["encrypted"] = archive_name + ".gpg" in names
    if "header" not in names:
        item["status"] = "incomplete"
        item["problems"].append("%s has no header file: ipa-backup did not finish" % name)
    else:
        try:
            with open(os.path.join(path, "header")) as handle:
                header = parse_header(handle.read(), "header of %s" % name)
        except (FormatError, OSError, UnicodeDecodeError) as exc:
            item["status"] = "damaged"
            item["problems"].append(str(exc))
        else:
            item.update({"time": rfc3339(header["time"]), "host": header["host"],
                         "ipa_version": header["ipa_version"], "services": header["services"],
                         "roles": roles_of(header["services"])})
            if header["type"].lower() != kind:
                item["status"] = "damaged"
                item["problems"].append("%s is named as a %s backup but its header says %s"
                                        % (name, kind, header["type"]))
    if not names & {archive_name, archive_name + ".gpg"}:
        item["status"] = "incomplete" if item["status"] == "complete" else item["status"]
        item["problems"].append("%s has no %s: ipa-backup did not finish" % (name, archive_name))
    return item
