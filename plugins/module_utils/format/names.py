# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names of things in a backup root, and the format's fixed constants.

A backup is ``<root>/<product>-<full|data>-YYYY-MM-DD-HH-MM-SS/`` (UTC) holding
``header.json`` and ``parts/``; it is built as ``.<name>.partial`` and renamed
into place. ``.<name>.capture`` holds the raw parts of a backup captured but
not sealed yet, and ``<name>.drkit`` is the single-file form.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput

FORMAT = "drkit-backup"
# major.minor (DESIGN decisions 11 and 31): a newer major is refused; a newer minor only adds header fields,
# which this release ignores, and a new encoding of part bytes names itself in the part's ``codec``.
# 1.1: the signature block may carry the signer's intermediate certificates (chain), a part may name its codec.
FORMAT_VERSION = "1.1"
# Part encodings this release reads besides the original one, which a part without ``codec`` has.
PART_CODECS = frozenset()
HEADER = "header.json"
PARTS = "parts"
PARTIAL_SUFFIX = ".partial"
CAPTURE_SUFFIX = ".capture"
PACKED_SUFFIX = ".drkit"
SCHEME_KEY = "aes-256-gcm-stream"
SCHEME_NONE = "none"
MAX_HEADER_BYTES = 16 * 1024 * 1024
NAME_RE = re.compile(r"^(?P<product>[a-z][a-z0-9_]*)-(?P<type>full|data)-"
                     r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})$")
PART_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def backup_name(product: str, backup_type: str, moment: datetime.datetime) -> str:
    """``<product>-<full|data>-YYYY-MM-DD-HH-MM-SS`` in UTC, as ipa-backup names its own."""
    return "%s-%s-%s" % (product, backup_type, moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S"))


def check_part_name(name: str):
    if not isinstance(name, str) or not PART_NAME_RE.match(name) or name in (".", ".."):
        raise InvalidInput("part name %r is not allowed: use letters, digits, '.', '_' and '-' (at most 100)" % (name,))
