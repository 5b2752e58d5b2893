# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times are UTC everywhere: RFC 3339 in headers, and durations such as ``36h``."""

from __future__ import annotations

import datetime
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def parse_duration(value, what: str) -> int:
    """Seconds in ``value``: an integer, or a number with a unit (``90s``, ``30m``, ``36h``, ``14d``, ``2w``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _DURATION_RE.match(str(value))
    if not match:
        raise InvalidInput("%s %r is not a duration: give seconds, or a number with s, m, h, d or w (e.g. 36h)"
                           % (what, value))
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]
