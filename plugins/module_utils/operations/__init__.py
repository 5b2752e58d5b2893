# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs: one file each, each public function what one module calls.

backup.py (backup), stages.py (its capture and seal stages), delete.py,
info.py (backup_info), restore.py, services.py (backup_services), pack.py
(backup_pack), rekey.py (backup_rekey), rotation.py (its rotate_data_key),
keys.py (backup_key, backup_key_info, backup_key_download, backup_key_upload),
prune.py (backup_prune), verify.py (backup_verify), lease.py (backup_lease),
pin.py (backup_pin), drill.py (backup_drill), drill_report.py (drill_report),
freeipa.py (the freeipa_* modules).

Each works out what it would do first; in check mode it stops there and
reports the plan. Every verb that changes a host holds its lock
(host/lock.py). A verb may import any other package of the engine; only the
modules (and backup.py for its stages, rekey.py for its rotation) import a verb.
"""
