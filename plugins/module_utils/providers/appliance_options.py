# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options every appliance provider (ciphertrust, mq_appliance) takes the same way: how its TLS certificate is
checked, and where its files are staged (format: providers/options.py)."""

from __future__ import annotations

BOTH = ["backup", "restore"]

SHARED = {
    "validate_certs": {
        "type": "bool", "default": True, "verbs": BOTH,
        "description": "Verify the appliance's TLS certificate (against ca_path, else the system's CAs).",
    },
    "ca_path": {
        "type": "path", "verbs": BOTH,
        "description": "The CA that signed the appliance's certificate (PEM), when the system does not trust it.",
    },
    "staging_dir": {
        "type": "path", "verbs": BOTH,
        "description": "Where the appliance's files are downloaded before they are sealed, and staged for an "
                       "upload, in a directory only its owner can read, removed afterwards (default the system's "
                       "temporary directory).",
    },
    "drill_ca_path": {
        "type": "path", "verbs": ["restore"],
        "description": "The CA of drill_url's certificate (default ca_path).",
    },
}
