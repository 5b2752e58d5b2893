# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the drkit.backup.ciphertrust_* modules do, over providers/ciphertrust/appliance.py.

Idempotence: a backup key or backup is named by its ``id``; without one, a download file whose sidecar names a key
or backup still on the appliance stands for it (a re-run of "create and download" changes nothing), and a download
is skipped when the file there is intact and of the same key or backup.
"""

from __future__ import annotations

import os

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.fsutil import file_digest
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust import appliance as ct

KEY_FIELDS = ("id", "scope", "isDefault", "createdAt", "domainID", "version")
BACKUP_FIELDS = ("id", "scope", "status", "createdAt", "description", "backupKey", "tiedToHSM", "productVersion")


def _shown(item, fields) -> dict:
    return {name: item[name] for name in fields if item and name in item}


def backup_key(box: ct.Appliance, state="present", key_id=None, scope="system", default=False, download=None,
               upload=None, password=None, hint=None, check_mode=False) -> dict:
    if (download or upload) and not password:
        raise InvalidInput("key_password is required with download and upload: it protects the backup key's file")
    if download and upload:
        raise InvalidInput("download and upload are mutually exclusive")
    actions, key = [], None
    if upload:
        held = ct.read_sidecar(upload)
        key = box.backup_key(held["id"]) if held.get("id") else None
        if key is None:
            if not os.path.isfile(upload):
                raise InvalidInput("upload: the backup key file %s is not there" % upload)
            actions.append("upload the backup key file %s (scope %s)" % (upload, held.get("scope") or scope))
            if not check_mode:
                key = box.upload_backup_key(upload, password, held.get("scope") or scope)
    elif key_id:
        key = box.backup_key(key_id)
        if key is None and state == "present":
            raise InvalidInput("%s has no backup key %s (its keys: %s)" % (
                box.describe(), key_id, ", ".join(item["id"] for item in box.backup_keys()) or "none"))
    elif download and ct.intact_download(download, "backup_key"):
        key = box.backup_key(ct.read_sidecar(download)["id"])
    if state == "absent":
        if key is not None:
            actions.append("delete backup key %s" % key["id"])
            if not check_mode:
                box.delete_backup_key(key["id"])
        return {"changed": bool(actions), "actions": actions, "backup_key": None}
    if key is None and not upload:
        actions.append("create a %s backup key%s" % (scope, " as the default" if default else ""))
        if check_mode:
            return {"changed": True, "actions": actions + (["download it to %s" % download] if download else []),
                    "backup_key": None}
        key = box.create_backup_key(scope, default)
    if key is not None and default and not key.get("isDefault"):
        actions.append("make backup key %s the %s default" % (key["id"], key.get("scope")))
        if not check_mode:
            key = box.make_default(key["id"])
    result = {"changed": bool(actions), "actions": actions, "backup_key": _shown(key, KEY_FIELDS)}
    if download and key is not None:
        held = ct.intact_download(download, "backup_key")
        if held.get("id") != key["id"]:
            actions.append("download backup key %s to %s" % (key["id"], download))
            result["changed"] = True
            if not check_mode:
                held = box.download_backup_key(key, download, password, hint)
        result["file"] = _file(download, held)
    return result


def _file(path, held) -> dict:
    return {"path": path, "size": held.get("size"), "sha256": held.get("sha256")}


def backup(box: ct.Appliance, state="present", backup_id=None, scope="system", backup_key=None, description=None,
           tied_to_hsm=False, filters=None, wait=True, wait_timeout=1800, download=None, upload=None, force=False,
           lts_releases=(), scp=None, check_mode=False) -> dict:
    """state present: the backup (made, waited for, downloaded, sent by SCP); absent: deleted; restored: restored
    (and waited)."""
    actions, made = [], None
    if upload:
        made = _uploaded(box, upload, actions, check_mode)
    elif backup_id:
        made = box.backup(backup_id)
        if made is None and state != "absent":
            raise InvalidInput("%s has no backup %s" % (box.describe(), backup_id))
    elif download and ct.intact_download(download, "backup"):
        made = box.backup(ct.read_sidecar(download)["id"])
    if state == "absent":
        if made is not None:
            actions.append("delete backup %s" % made["id"])
            if not check_mode:
                box.delete_backup(made["id"])
        return {"changed": bool(actions), "actions": actions, "backup": None}
    if made is None and state == "restored":
        raise InvalidInput("state restored needs id or upload: the backup to restore")
    if scp and (made.get("scope") if made else scope) != "system":
        raise InvalidInput("scp sends system backups only, and this is a %s backup" % (
            made.get("scope") if made else scope))
    if made is None:
        actions.append("make a %s backup%s" % (scope, " with backup key %s" % backup_key if backup_key else ""))
        if check_mode:
            return {"changed": True, "actions": actions, "backup": None}
        made = box.create_backup(scope, backup_key, description, tied_to_hsm, filters)
    if made and made.get("status") == ct.IN_PROGRESS and (wait or download or scp or state == "restored"):
        made = box.wait_backup(made["id"], wait_timeout)
    result = {"changed": bool(actions), "actions": actions, "backup": _shown(made, BACKUP_FIELDS)}
    if download and made:
        held = ct.intact_download(download, "backup")
        if held.get("id") != made["id"]:
            actions.append("download backup %s to %s" % (made["id"], download))
            result["changed"] = True
            if not check_mode:
                held = box.download_backup(made, download)
        result["file"] = _file(download, held)
    if scp and made:
        result["scp"] = _scp(box, made, scp, wait_timeout, actions, check_mode)
        result["changed"] = bool(actions)
    if state == "restored":
        _restore(box, made, force, lts_releases, wait_timeout, actions, check_mode)
        result["changed"] = True
    return result


def _scp(box, made, target, timeout, actions, check_mode) -> dict:
    """The backup sent by SCP to ``target``'s host, unless a transfer of it there completed already (the appliance
    does not say to which path, so one per host)."""
    done = [item for item in box.scp_transfers(made["id"]) if item.get("host") == target["host"]
            and item.get("connection_status") == ct.SCP_COMPLETED] if made.get("id") else []
    if done:
        return dict(done[-1], path=target["path"])
    actions.append("send backup %s by SCP to %s@%s:%s" % (made.get("id"), target["username"], target["host"],
                                                          target["path"]))
    if check_mode:
        return {}
    return dict(box.scp(made, target, timeout), path=target["path"])


def _uploaded(box, path, actions, check_mode):
    """The backup of the file ``path`` on the appliance, uploaded unless it is there already."""
    held = ct.read_sidecar(path)
    made = box.backup(held["id"]) if held.get("id") else None
    if made is not None:
        return made
    if not os.path.isfile(path):
        raise InvalidInput("upload: the backup file %s is not there" % path)
    if held.get("sha256") and file_digest(path) != held["sha256"]:
        raise InvalidInput("the backup file %s does not have the checksum taken when it was downloaded: it was "
                           "changed or damaged since" % path)
    actions.append("upload the backup file %s" % path)
    if check_mode:
        return dict(held, status=ct.COMPLETED)
    return box.upload_backup(path)


def _restore(box, made, force, lts_releases, timeout, actions, check_mode):
    """The release rule checked here first (naming both releases), then the restore, waited for."""
    version = box.version()
    problem = ct.release_problem(made.get("productVersion"), version, lts_releases, force)
    if problem:
        raise InvalidInput("backup %s cannot be restored onto %s: %s" % (made.get("id"), box.describe(), problem))
    actions.append("restore backup %s (%s scope)%s" % (made["id"], made.get("scope"), " with force" if force else ""))
    if not check_mode:
        box.restore(made, force, timeout)


def scp_key(box: ct.Appliance, rotate=False, check_mode=False) -> dict:
    """The appliance's SCP public key, rotated first with ``rotate``."""
    actions = ["rotate the SCP key pair"] if rotate else []
    if rotate and not check_mode:
        box.rotate_scp_key()
    return {"changed": rotate, "actions": actions, "public_key": box.scp_public_key()}


def info(box: ct.Appliance, files=()) -> dict:
    """The appliance's backups, backup keys and last operation; for each downloaded file, what is known of it."""
    result = {"changed": False}
    if box is not None:
        result.update(appliance=box.info(), backups=[_shown(item, BACKUP_FIELDS) for item in box.backups()],
                      backup_keys=[_shown(item, KEY_FIELDS) for item in box.backup_keys()], status=box.status())
    result["files"] = [_describe_file(path) for path in files]
    return result


def _describe_file(path) -> dict:
    held = ct.read_sidecar(path)
    if not os.path.isfile(path):
        return {"path": path, "exists": False}
    sha256 = file_digest(path)
    described = {"path": path, "exists": True, "size": os.path.getsize(path), "sha256": sha256,
                 "kind": held.get("kind"), "recorded": held or None,
                 "intact": (sha256 == held["sha256"]) if held.get("sha256") else None,
                 "opaque": "CipherTrust Manager's file format is not public: nothing inside the file is read"}
    return described
