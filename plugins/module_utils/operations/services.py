# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting and stopping services by hand (drkit.backup.backup_services), the host's record kept right."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, ServiceError
from ansible_collections.drkit.backup.plugins.module_utils.host.lock import locked_operation
from ansible_collections.drkit.backup.plugins.module_utils.host.services import ServiceControl
from ansible_collections.drkit.backup.plugins.module_utils.host.state import StateDir


def control_services(state="started", services=None, stop_command=None, start_command=None, state_dir=None,
                     check_mode=False, lease_id=None):
    """Starts services (by default those runs left stopped) in reverse order, or stops services in order.

    Starting is how services that an interrupted run left stopped come back:
    each one leaves the host's record once its start command has returned.
    Services stopped here stay recorded as stopped until something starts them.
    """
    if state not in ("started", "stopped"):
        raise InvalidInput("state must be started or stopped, not %r" % (state,))
    status_dir = StateDir(state_dir, lease_id)
    if services is None:
        if state == "stopped":
            raise InvalidInput("state stopped needs services, the services to stop in order")
        services = status_dir.status()["services_stopped"]
    services = list(services)
    if any(not isinstance(service, str) or not service for service in services):
        raise InvalidInput("services must be a list of service names")
    ordered = list(reversed(services)) if state == "started" else services
    result = {"changed": bool(ordered), "services": ordered, "state": state}
    if check_mode:
        status_dir.check_free("%s services" % ("starting" if state == "started" else "stopping"))
        return result
    if not ordered:
        result["services_stopped"] = status_dir.status()["services_stopped"]
        return result
    control = ServiceControl(stop_command, start_command)
    with locked_operation(status_dir, "services", stage=state) as operation:
        if state == "stopped":
            operation.leave_reason = "drkit.backup.backup_services stopped them on purpose"
            for service in ordered:
                operation.stopping(service)
                control.stop(service)
        else:
            failures = []
            for service in ordered:
                operation.stopping(service)  # until its start returns, it counts as down
                try:
                    control.start(service)
                except ServiceError as exc:
                    failures.append(str(exc))
                else:
                    operation.started(service)
            if failures:
                raise ServiceError("; ".join(failures) + ": start it by hand; the host's state still records "
                                   "it as stopped")
        if operation.warnings:
            result["warnings"] = operation.warnings
    result["services_stopped"] = status_dir.status()["services_stopped"]
    return result
