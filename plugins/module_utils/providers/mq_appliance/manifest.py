# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An MQ Appliance secure backup's ``backupmanifest.xml``, read off the appliance.

IBM says the manifest is in clear and holds the firmware version and build, the date and time, the machine type
and model, the serial number, the list of ``.tgz`` files with size and checksum, the ephemeral keys and a digital
signature (reference 003). The element names are DataPower's (``SecureBackupManifest/backupmanifest``, ``files/file``
with ``filename``, ``checksum``, ``filesize``) and the checksum SHA-1, as public DataPower tools read them; IBM does
not publish the schema, who signs the manifest or how, so its signature is reported as not verifiable here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import stream_digest

NAME = "backupmanifest.xml"
SIGNATURE = "not verifiable off the appliance (IBM does not publish who signs the manifest, or how)"


class ManifestError(ValueError):
    pass


def parse(data: bytes) -> dict:
    """The manifest's facts: firmware, build, time, mtm, serial, certificate, files [{name, checksum, size}]."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ManifestError("%s is not XML: %s" % (NAME, exc)) from None
    facts = root.find("backupmanifest") if root.tag != "backupmanifest" else root
    if facts is None or facts.find("files") is None:
        raise ManifestError("%s has no backupmanifest/files element: not a secure backup manifest" % NAME)
    files = []
    for entry in facts.find("files").iter("file"):
        name = (entry.findtext("filename") or "").strip()
        if not name or name == NAME:
            continue
        if "/" in name or name.startswith("."):
            raise ManifestError("%s lists a file named %r, which is not a file of a backup directory" % (NAME, name))
        try:
            size = int(entry.findtext("filesize") or "")
        except ValueError:
            raise ManifestError("%s gives %s no size" % (NAME, name)) from None
        files.append({"name": name, "checksum": (entry.findtext("checksum") or "").strip().lower(), "size": size})
    if not files:
        raise ManifestError("%s lists no files" % NAME)
    certificate = facts.find("cryptoCertificate")
    return {"firmware": (facts.findtext("version") or "").strip(), "build": (facts.findtext("build") or "").strip(),
            "time": (facts.findtext("time") or "").strip(), "mtm": (facts.findtext("mtm") or "").strip(),
            "serial": (facts.findtext("serialnumber") or "").strip(),
            "certificate": (certificate.text or "").strip() if certificate is not None else "",
            "signed": bool((root.findtext("signature") or "").strip()), "files": files}


def problems(facts, present) -> list:
    """What is wrong between the manifest and the files ``present`` ({name: (size, sha1)}): each listed file there
    with its size and checksum, and no other file."""
    found = []
    listed = {item["name"]: item for item in facts["files"]}
    for name, item in sorted(listed.items()):
        if name not in present:
            found.append("%s is listed in %s and missing" % (name, NAME))
        elif present[name][0] != item["size"]:
            found.append("%s has %d bytes where %s says %d" % (name, present[name][0], NAME, item["size"]))
        elif item["checksum"] and present[name][1] != item["checksum"]:
            found.append("%s does not have the checksum %s gives it" % (name, NAME))
    found += ["%s is in the backup and not listed in %s" % (name, NAME)
              for name in sorted(set(present) - set(listed) - {NAME})]
    return found


class ManifestCheck:
    """The secure backup inside a drkit backup checked off the appliance, as a full verification reads its parts:
    every file the manifest lists is there with its size and SHA-1, and no other file (Provider.native_check)."""

    def __init__(self):
        self.manifest, self.present = None, {}

    def consume(self, part, reader):
        if part["kind"] == "mq-secure-backup-manifest":
            self.manifest = reader.read()
        elif part["kind"] == "mq-secure-backup-file":
            digest, size = stream_digest(reader, "sha1")
            self.present[part["name"]] = (size, digest)

    def problems(self, header) -> list:
        if self.manifest is None:
            return ["backup %s holds no %s" % (header.name, NAME)]
        try:
            found = problems(parse(self.manifest), self.present)
        except ManifestError as exc:
            return ["the %s of backup %s cannot be read: %s" % (NAME, header.name, exc)]
        return ["the appliance's secure backup in %s is not whole: %s" % (header.name, problem) for problem in found]
