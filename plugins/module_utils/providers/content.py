# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The content check (DESIGN decision 28): what a restored instance holds, against the backup's own summary.

A provider counts at capture (``content_summary``: nested dicts of counts, for
example files and bytes per path) and counts the restored instance the same
way (``count``); the two must match exactly.
"""

from __future__ import annotations


def differences(summary: dict, counted: dict, where="") -> list:
    """One sentence per count that differs between the backup's ``summary`` and the ``counted`` instance."""
    found = []
    for key in sorted(set(summary) | set(counted)):
        label = "%s %s" % (where, key) if where else key
        expected, got = summary.get(key), counted.get(key)
        if isinstance(expected, dict) or isinstance(got, dict):
            found.extend(differences(expected if isinstance(expected, dict) else {},
                                     got if isinstance(got, dict) else {}, label))
        elif expected != got:
            found.append("%s: the backup holds %s, the restored instance %s"
                         % (label, "nothing" if expected is None else expected, "nothing" if got is None else got))
    return found
