# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release rule (DESIGN decision 22): which releases of the product a backup may be restored to.

The header's manifest holds ``restorableTo: {rule, version, params}``, written
from the provider's rule and the release that made the backup; a restore checks
it against the release on the target before anything stops. Rules:

- ``any``: no constraint (the product has no release, as for plain files);
- ``exact``: the same release, every component;
- ``same_series``: the same first ``params.components`` components (2 by default: 4.12.x);
- ``same_or_newer``: the same release or a newer one;
- ``window``: the same release or up to ``params.newer`` releases newer, counted in
  the component ``params.component`` (for example three minor releases).

A backup of an older drkit.backup carries no rule and is not constrained.
"""

from __future__ import annotations

import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput

RULES = ("any", "exact", "same_series", "same_or_newer", "window")


def restorable_to(rule: str, version, **params) -> dict:
    """The header field for a backup of ``version`` under ``rule``."""
    if rule not in RULES:
        raise InvalidInput("unknown release rule %r" % rule)
    return {"rule": rule, "version": version, "params": params}


def components(version: str) -> tuple:
    """Numeric components of a release (``4.12.2`` -> (4, 12, 2)); what follows them (``-1.el9``) is ignored."""
    match = re.match(r"\d+(?:\.\d+)*", version or "")
    if not match:
        raise ValueError(version)
    return tuple(int(part) for part in match.group(0).split("."))


def problem(restorable: dict, target, product: str) -> str:
    """Why the backup may not be restored onto release ``target`` of ``product``, or ''."""
    if not restorable or restorable.get("rule", "any") == "any":
        return ""
    rule, version, params = restorable.get("rule"), restorable.get("version"), restorable.get("params") or {}
    if rule not in RULES:
        return ("the backup names release rule %r, which this release of drkit.backup does not know: upgrade the "
                "collection" % rule)
    if not version:
        return ""  # the making release was not known: nothing to compare
    if not target:
        return ("the backup may be restored only to %s (rule %s), and the %s release on this host could not be read"
                % (_describe(rule, version, params), rule, product))
    try:
        made, there = components(version), components(target)
    except ValueError:
        return "the releases %s (backup) and %s (this host) of %s cannot be compared" % (version, target, product)
    width = max(len(made), len(there))
    made_full, there_full = made + (0,) * (width - len(made)), there + (0,) * (width - len(there))
    if rule == "exact":
        fits = made_full == there_full
    elif rule == "same_series":
        count = int(params.get("components", 2))
        fits = made[:count] == there[:count]
    elif rule == "same_or_newer":
        fits = there_full >= made_full
    else:  # window
        index = int(params.get("component", 1))
        fits = there_full >= made_full and there[:index] == made[:index] and \
            there_full[index] - made_full[index] <= int(params.get("newer", 0))
    if fits:
        return ""
    return ("it was made by %s %s and may be restored only to %s (rule %s), and this host runs %s %s"
            % (product, version, _describe(rule, version, params), rule, product, target))


def _describe(rule, version, params) -> str:
    if rule == "exact":
        return "release %s" % version
    if rule == "same_series":
        count = int(params.get("components", 2))
        try:
            return "the %s.x series" % ".".join(str(part) for part in components(version)[:count])
        except ValueError:
            return "the series of release %s" % version
    if rule == "same_or_newer":
        return "release %s or newer" % version
    return "release %s up to %s newer in component %d" % (version, params.get("newer", 0), params.get("component", 1))
