# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Holding a host across several module calls (drkit.backup.backup_lease): take, renew, release a lease.

A role that runs a sequence as one operation (a restore with its health check and rollback) takes a lease;
its modules pass ``lease_id`` and every other writer is refused while it lasts (host/state.py).
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir


def _public(lease):
    return {key: lease[key] for key in ("id", "holder", "purpose", "seconds", "taken_at", "expires_at")
            if key in lease} if lease else None


def control_lease(state="present", lease_id=None, holder=None, purpose=None, seconds=3600, force=False,
                  state_dir=None, check_mode=False) -> dict:
    """Takes a lease (or renews ``lease_id``) with ``state`` present; releases it with ``state`` absent."""
    host = StateDir(state_dir, lease_id)
    if state == "present":
        if not holder or not purpose:
            raise InvalidInput("taking a lease needs holder and purpose (who holds the host, and for what)")
        if not isinstance(seconds, int) or seconds <= 0:
            raise InvalidInput("seconds must be a positive number of seconds, not %r" % (seconds,))
        held = host.lease()
        renewing = held is not None and held.get("id") == lease_id
        if check_mode:
            host.check_free("a lease for %s" % purpose)
            return {"changed": not renewing, "lease": _public(held) if renewing else None}
        with host.locked("a lease for %s" % purpose):
            taken = host.take_lease(holder, purpose, seconds)
        return {"changed": not renewing, "lease": _public(taken)}
    if state != "absent":
        raise InvalidInput("state must be present or absent, not %r" % (state,))
    held = host.lease()
    if held is None or (held.get("id") != lease_id and not force):
        if held is not None:
            host.admit("releasing lease %s" % lease_id, renew=False)  # says whose lease it is
        return {"changed": False, "lease": None}
    if not check_mode:
        with host.locked("releasing a lease"):
            host.release_lease(force=force)
    return {"changed": True, "lease": _public(held)}
