# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stopping and starting services around an offline capture.

Stop and start are commands (systemd by default) so that hosts without
systemd, and test hosts, can say how. Services stop in the order given and
start in reverse, and every service that was stopped is started again
whatever happens in between.
"""

from __future__ import annotations

import contextlib
import shlex
import time

from ansible_collections.drkit.backup.plugins.module_utils.common import faults, process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, ServiceError

DEFAULT_STOP = "systemctl stop {service}"
DEFAULT_START = "systemctl start {service}"


class ServiceControl:
    """Runs the stop and start commands; ``{service}`` in a template is the service name."""

    def __init__(self, stop_command=None, start_command=None):
        stop_command = DEFAULT_STOP if stop_command is None else stop_command
        start_command = DEFAULT_START if start_command is None else start_command
        for template in (stop_command, start_command):
            if "{service}" not in (template or ""):
                raise InvalidInput("service command %r must contain {service}" % (template,))
        self._templates = {"stop": stop_command, "start": start_command}

    def _run(self, action: str, service: str):
        argv = [word.replace("{service}", service) for word in shlex.split(self._templates[action])]
        process.run(argv, what="%s of service %s" % (action, service), error=ServiceError)

    def stop(self, service: str):
        self._run("stop", service)

    def start(self, service: str):
        self._run("start", service)


class Downtime:
    """Seconds from the first stop command issued to the last start command returned."""

    def __init__(self):
        self.seconds = 0.0
        self.stopped = []


class _NoJournal:
    def stopping(self, service):
        pass

    def started(self, service):
        pass


@contextlib.contextmanager
def stopped(services, control: ServiceControl, journal=None):
    """Stops ``services`` in order for the ``with`` body, then starts them in reverse.

    ``journal`` (the running operation, see :mod:`locking`) hears of each service
    before its stop command is issued and after its start command has returned,
    so the host's state records every service that may be down.
    """
    journal = journal or _NoJournal()
    downtime = Downtime()
    began = time.monotonic()
    body_error = None
    try:
        for service in services:
            journal.stopping(service)
            control.stop(service)
            downtime.stopped.append(service)
            faults.checkpoint("services.stopped")
        yield downtime
    except BaseException as exc:
        body_error = exc
        raise
    finally:
        failures = []
        for service in reversed(downtime.stopped):
            try:
                control.start(service)
            except ServiceError as exc:
                failures.append(str(exc))
            else:
                faults.checkpoint("services.started")  # up again, still recorded as stopped
                journal.started(service)
        if downtime.stopped:
            downtime.seconds = time.monotonic() - began
        if failures:
            message = "; ".join(failures) + ": start it by hand"
            if body_error is not None:
                message = "%s; and before that: %s" % (message, body_error)
            raise ServiceError(message)
