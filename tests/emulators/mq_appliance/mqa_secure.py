# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated MQ Appliance's secure backup and secure restore (reference 003; SOURCES.md sections 2 and 6), made
with the real openssl CLI:

- a random ephemeral key encrypts each part (``openssl enc -aes-256-cbc -pbkdf2``); the manifest carries that key
  encrypted to the backup certificate (CMS EnvelopedData, base64), so the certificate's private key is needed to
  restore, and the appliance needs only the certificate to back up (ECDSA refused);
- ``backupmanifest.xml`` is in clear: firmware version and build, time, MTM, serial, the certificate object, the
  ephemeral key, each file's name, SHA-1 checksum and size (DataPower's element names), and a CMS signature of the
  ``<backupmanifest>`` element by the appliance's own device key;
- a restore needs a reinitialized appliance with exactly the same firmware V.R.M.F and an identification
  credential whose key opens the ephemeral key; it checks the signature and every file, and with validate on
  stops there. Afterwards admin's password is ``admin``, to be changed at the first login.

UNCONFIRMED, chosen here: the element names and SHA-1 for the MQ Appliance (DataPower's); that the parts are
encrypted this way; which part holds what (mqa_store.PARTS); that parts with nothing to hold are left out.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import xml.etree.ElementTree as ET

from mqa_store import PARTS, Refused, password_hash

MANIFEST = "backupmanifest.xml"
OPTIONAL = ("local.tgz", "sharedcert.tgz")  # left out when their store is empty


def _openssl(*args, data=None) -> bytes:
    done = subprocess.run(("openssl",) + args, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        raise Refused(400, "openssl %s failed: %s" % (args[0], done.stderr.decode(errors="replace").strip()))
    return done.stdout


def _cert_file(home, kind, name) -> str:
    found = home.objects(kind).get(name)
    if not found:
        raise Refused(400, "%s %s does not exist" % (kind, name))
    top, path = home.url_path(found.get("Filename") or "")
    return home.store_path(top, path)


def _pack(home, paths) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path in paths:
            if os.path.exists(home.file(path)):
                tar.add(home.file(path), arcname=path)
    return out.getvalue()


def _crypt(data, key, decrypt=False) -> bytes:
    with tempfile.NamedTemporaryFile() as key_file:
        key_file.write(base64.b64encode(key))
        key_file.flush()
        return _openssl("enc", "-aes-256-cbc", "-pbkdf2", "-pass", "file:" + key_file.name,
                        *(["-d"] if decrypt else []), data=data)


def _element(text) -> bytes:
    """The exact bytes of the <backupmanifest> element, which the signature covers."""
    found = re.search(rb"<backupmanifest>.*</backupmanifest>", text, re.S)
    if not found:
        raise Refused(400, "%s has no backupmanifest element" % MANIFEST)
    return found.group(0)


def backup(home, cert_name, destination):
    cert = _cert_file(home, "CryptoCertificate", cert_name)
    if "id-ecPublicKey" in _openssl("x509", "-in", cert, "-noout", "-text").decode():
        raise Refused(400, "Certificate %s contains an ECDSA key: a secure backup does not support it" % cert_name)
    top, path = home.url_path(destination)
    if top not in ("local", "temporary"):
        raise Refused(400, "the destination must be a local: or temporary: directory")
    target = home.store_path(top, path)
    os.makedirs(target, mode=0o700, exist_ok=True)
    key, config = secrets.token_bytes(32), home.config
    files = []
    for part, paths in PARTS.items():
        if part in OPTIONAL and not any(os.listdir(home.file(item)) for item in paths):
            continue
        sealed = _crypt(_pack(home, paths), key)
        with open(os.path.join(target, part), "wb") as out:
            out.write(sealed)
        files.append((part, hashlib.sha1(sealed).hexdigest(), len(sealed)))  # noqa: S324  (DataPower's checksum)
    ephemeral = base64.b64encode(_openssl("cms", "-encrypt", "-binary", "-aes-256-cbc", "-outform", "DER", cert,
                                          data=key)).decode()
    element = ("<backupmanifest><version>%s</version><build>%s</build><time>%s</time><mtm>%s</mtm>"
               "<serialnumber>%s</serialnumber><cryptoCertificate>%s<FileName>%s</FileName></cryptoCertificate>"
               "<ephemeralkey>%s</ephemeralkey><files>%s</files></backupmanifest>") % (
        config["firmware"], config["build"], datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), config["mtm"], config["serial"], cert_name,
        home.objects("CryptoCertificate")[cert_name]["Filename"], ephemeral, "".join(
            "<file><filename>%s</filename><checksum>%s</checksum><filesize>%d</filesize></file>" % item
            for item in files))
    signature = base64.b64encode(_openssl(
        "cms", "-sign", "-binary", "-outform", "DER", "-signer", home.file("etc", "device.pem"), "-inkey",
        home.file("etc", "device.key"), data=element.encode())).decode()
    with open(os.path.join(target, MANIFEST), "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<SecureBackupManifest>%s<signature>%s</signature>'
                  "</SecureBackupManifest>\n" % (element, signature))


def check_restore(home, cred_name, source) -> tuple:
    """Everything a restore checks before it changes anything: (the parts' tar bytes, the manifest's facts)."""
    if not home.read("reset", False):
        raise Refused(400, "Secure restore requires an appliance that was reinitialized (a factory reset): this "
                           "one holds a configuration")
    cred = home.objects("CryptoIdentCred").get(cred_name)
    if not cred:
        raise Refused(400, "CryptoIdentCred %s does not exist" % cred_name)
    cert = _cert_file(home, "CryptoCertificate", (cred.get("Certificate") or {}).get("value"))
    key = _cert_file(home, "CryptoKey", (cred.get("Key") or {}).get("value"))
    top, path = home.url_path(source)
    where = home.store_path(top, path)
    try:
        with open(os.path.join(where, MANIFEST), "rb") as handle:
            text = handle.read()
        tree = ET.fromstring(text)
    except (OSError, ET.ParseError) as exc:
        raise Refused(400, "%s in %s cannot be read: %s" % (MANIFEST, source, exc)) from None
    element, signature = _element(text), tree.findtext("signature") or ""
    with tempfile.NamedTemporaryFile() as content:
        content.write(element)
        content.flush()
        try:
            _openssl("cms", "-verify", "-binary", "-inform", "DER", "-noverify", "-content", content.name,
                     "-out", os.devnull, data=base64.b64decode(signature))
        except (Refused, ValueError):
            raise Refused(400, "the signature of %s does not verify: the manifest was changed" % MANIFEST) from None
    facts = tree.find("backupmanifest")
    firmware, here = facts.findtext("version"), home.config["firmware"]
    if firmware != here:
        raise Refused(400, "the backup was made on firmware %s and this appliance runs %s: a secure restore needs "
                           "exactly the same firmware" % (firmware, here))
    try:
        data_key = _openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-inkey", key, "-recip", cert,
                            data=base64.b64decode(facts.findtext("ephemeralkey") or ""))
    except Refused:
        raise Refused(400, "credential %s cannot open this backup: its key is not the backup certificate's"
                      % cred_name) from None
    parts = {}
    for entry in facts.iter("file"):
        name = entry.findtext("filename")
        try:
            with open(os.path.join(where, name), "rb") as handle:
                sealed = handle.read()
        except OSError:
            raise Refused(400, "%s, listed in the manifest, is missing from %s" % (name, source)) from None
        if len(sealed) != int(entry.findtext("filesize")) or hashlib.sha1(  # noqa: S324
                sealed).hexdigest() != entry.findtext("checksum"):
            raise Refused(400, "%s does not have the size and checksum the manifest gives" % name)
        parts[name] = _crypt(sealed, data_key, decrypt=True)
    return parts, {"firmware": firmware, "serial": facts.findtext("serialnumber")}


def restore(home, parts):
    """The parts in place of what they hold; admin's password ``admin``, to be changed at the first login."""
    for name, data in parts.items():
        for path in PARTS.get(name, ()):
            if os.path.isdir(home.file(path)):
                for entry in os.listdir(home.file(path)):
                    target = os.path.join(home.file(path), entry)
                    if os.path.isdir(target):
                        shutil.rmtree(target)
                    else:
                        os.unlink(target)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = [item for item in tar.getmembers() if item.name.split("/")[0] in ("fs", "state")
                       and ".." not in item.name.split("/") and (item.isfile() or item.isdir())]
            tar.extractall(home.path, members=members)  # noqa: S202  (members checked above)
    users = home.read("users", {})
    users["admin"] = dict(password_hash("admin"), must_change=True)
    home.write("users", users)
    home.write("reset", False)
