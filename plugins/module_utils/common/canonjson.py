# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical JSON: one byte form per value (sorted keys, compact, UTF-8).

Headers and key files are written only in this form and any other byte form
is refused on reading, so a changed byte cannot hide in whitespace or in a
duplicate key.
"""

from __future__ import annotations

import json

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import FormatError


def dumps(value) -> bytes:
    """Encode ``value`` in canonical form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _no_duplicates(pairs):
    result = {}
    for key, val in pairs:
        if key in result:
            raise ValueError("duplicate key %r" % key)
        result[key] = val
    return result


def loads(data: bytes, what: str):
    """Decode ``data``, refusing anything that is not exactly its canonical form.

    ``what`` names the input in error messages ("header.json of backup X").
    """
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError("%s is not valid JSON (%s): it is damaged or not a drkit file" % (what, exc))
    if not isinstance(value, dict):
        raise FormatError("%s is not a JSON object: it is damaged or not a drkit file" % what)
    try:
        canonical = dumps(value)
    except ValueError as exc:
        raise FormatError("%s holds a value JSON cannot carry (%s)" % (what, exc))
    if canonical != data:
        raise FormatError("%s is not in its canonical byte form: it was edited or damaged" % what)
    return value
