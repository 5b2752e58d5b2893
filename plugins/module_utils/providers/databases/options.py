# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the database providers share, by one name each (DESIGN decision 21; format:
providers/options.py). A provider adds its own: ``databases``, ``globals`` and ``replace`` say what its tools do."""

from __future__ import annotations

BOTH = ["backup", "restore"]


def shared(default_port: int, tools: str) -> dict:
    """The shared options; ``tools`` names the client tools (for ``bin_dir``)."""
    return {
        "schema_only": {
            "type": "bool", "default": False, "verbs": ["backup"], "describes": True,
            "description": "Dump the definitions only, no rows.",
        },
        "host": {
            "type": "str", "verbs": BOTH,
            "description": "The server's host name or address (default the client's: the local socket).",
        },
        "port": {
            "type": "int", "verbs": BOTH, "description": "The server's port (default %d)." % default_port,
        },
        "user": {
            "type": "str", "verbs": BOTH,
            "description": "The account to connect as (default the client's: the name of the OS user the tools "
                           "run as).",
        },
        "password": {
            "type": "str", "verbs": BOTH, "secret": True,
            "description": "The account's password; it reaches the tools in a file only the user they run as can "
                           "read, removed afterwards, never on a command line.",
        },
        "os_user": {
            "type": "str", "verbs": BOTH,
            "description": "Run the client tools as this OS user (for the local socket's peer authentication); "
                           "the module itself runs as root.",
        },
        "bin_dir": {
            "type": "path", "verbs": BOTH,
            "description": "Where %s are (default: on PATH)." % tools,
        },
        "services": {
            "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
            "description": "For an offline backup (online false): the services to stop first, in this order (the "
                           "applications that write to the database), started again in reverse. A dump is a "
                           "consistent snapshot without it.",
        },
        "staging_dir": {
            "type": "path", "verbs": ["restore"],
            "description": "Where a restore stages the verified dumps, in a directory only root (or os_user) can "
                           "read, removed afterwards (default the system's temporary directory). It needs room for "
                           "the backup's plaintext dumps.",
        },
        "target_databases": {
            "type": "dict", "default": {}, "verbs": ["restore"],
            "description": "Restore a database under another name: backed-up name -> name on the server (a drill "
                           "or a side-by-side restore).",
        },
    }
