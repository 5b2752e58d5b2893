# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One operation at a time per host, and what a killed run left, dealt with before the next one starts.

:func:`locked_operation` is how every verb that changes a host takes its
lock. Before its body runs:

- a record left by a run that is gone is cleared: the services it had
  stopped move to ``interrupted.json``, and what it left half-written goes
  (its ``.partial`` backup, never usable, and its unencrypted capture when
  that never got as far as ``capture.json`` or was only meant to last for
  that run; a whole capture of ``stage: capture`` stays for ``stage: seal``);
- a capture abandoned for longer than host/capture.py's ``MAX_AGE`` (a day)
  is removed, with its key: its raw data is not encrypted;
- a restore killed half-way is finished (it was committing verified files) or
  undone (it was still preparing), so that a backup, or the services a role
  starts again, never see files half restored.

Each of these is said in a warning of the new operation.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.format.names import CAPTURE_SUFFIX, PARTIAL_SUFFIX
from ansible_collections.drkit.backup.plugins.module_utils.host import capture
from ansible_collections.drkit.backup.plugins.module_utils.host.staging import Staging
from ansible_collections.drkit.backup.plugins.module_utils.host.state import describe


def _clear_leftovers(state, record) -> list:
    """Removes what the killed backup of ``record`` left; returns the paths removed."""
    removed = []
    if not record or record.get("operation") != "backup":
        return removed
    candidates = []
    if isinstance(record.get("dest"), str) and isinstance(record.get("name"), str):
        candidates.append(os.path.join(record["dest"], "." + os.path.basename(record["name"]) + PARTIAL_SUFFIX))
    held = record.get("capture")
    if isinstance(held, str) and os.path.basename(held).startswith(".") \
            and held.endswith(CAPTURE_SUFFIX) and (record.get("keep_capture") is False or
                                                   not os.path.exists(os.path.join(held, capture.CAPTURE_RECORD))):
        candidates.append(held)
    for path in candidates:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for entry in capture.registered(state.path):
        if entry["capture"] in candidates:
            capture.discard(state.path, entry)  # its key and entry go with it
    return removed


def _clear_abandoned(state, keep) -> list:
    """Removes captures abandoned for longer than a day (and entries of captures gone); returns warnings."""
    warnings = []
    for entry in capture.registered(state.path):
        if entry["capture"] == keep:
            continue
        if not entry["present"]:
            capture.discard(state.path, entry)
        elif entry["age_seconds"] > capture.MAX_AGE:
            capture.discard(state.path, entry)
            warnings.append("capture %s of backup %s was abandoned %d hours ago and never sealed: it was removed, "
                            "with its key, since its raw data is not encrypted; take the backup again"
                            % (entry["capture"], entry["name"], entry["age_seconds"] // 3600))
    return warnings


def _clear_stale(state, stale) -> str:
    """Clears the record of a run that is gone; returns the warning that says so."""
    state.keep_interrupted(stale, "the process ended without finishing")
    left = stale.get("services_stopped") if stale else None
    removed = _clear_leftovers(state, stale)
    return ("an earlier drkit.backup operation on this host ended without finishing: %s%s. Its record was "
            "cleared%s" % (describe(stale), "; it had stopped %s, which may still be down: check them, or start "
                           "them with drkit.backup.backup_services" % ", ".join(left) if left else "",
                           " and what it left half-written was removed (%s)" % ", ".join(removed) if removed else ""))


@contextlib.contextmanager
def locked_operation(state, operation: str, name=None, **details):
    """Holds ``state``'s lock for the ``with`` body, after what killed runs left; yields the running
    :class:`host.state.Operation`."""
    what = "%s%s" % (operation, " of %s" % name if name else "")
    with state.locked(what) as stale:
        state.admit(what)
        warnings = [_clear_stale(state, stale)] if stale is not None else []
        warnings += _clear_abandoned(state, details.get("capture"))
        current = state.begin(operation, name, **details)
        current.warnings.extend(warnings)
        try:
            faults.checkpoint("lock.taken")
            recovered = Staging(state.path).recover()
            if recovered:
                current.warnings.append(recovered)
            yield current
        finally:
            state.end(current)
            state.renew_lease()  # a long call must not let its sequence's lease lapse under it
