# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the common options and the one place errors become ``fail_json``."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.drkit.backup.plugins.module_utils.crypto import (
    CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY)
from ansible_collections.drkit.backup.plugins.module_utils.errors import DrkitError
from ansible_collections.drkit.backup.plugins.module_utils.keys import DEFAULT_KEYSTORE
from ansible_collections.drkit.backup.plugins.module_utils.locking import DEFAULT_STATE_DIR
from ansible_collections.drkit.backup.plugins.module_utils.services import DEFAULT_START, DEFAULT_STOP
from ansible_collections.drkit.backup.plugins.module_utils.stream import (
    HAS_ZSTANDARD, ZSTANDARD_IMPORT_ERROR)


def keystore_argument_spec() -> dict:
    return {"keystore": {"type": "path", "default": DEFAULT_KEYSTORE}}


def state_dir_argument_spec() -> dict:
    return {"state_dir": {"type": "path", "default": DEFAULT_STATE_DIR}}


def services_argument_spec() -> dict:
    return {"stop_command": {"type": "str", "default": DEFAULT_STOP},
            "start_command": {"type": "str", "default": DEFAULT_START}}


def run(module, operation, *args, **kwargs):
    """Checks the libraries, runs ``operation`` and exits the module with its result or its error."""
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    if not HAS_ZSTANDARD:
        module.fail_json(msg=missing_required_lib("zstandard"), exception=str(ZSTANDARD_IMPORT_ERROR))
    try:
        result = operation(*args, **kwargs)
    except DrkitError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        # Permissions, missing directories and the like: name the path, no traceback.
        module.fail_json(msg="%s%s" % (exc.strerror or exc, ": %s" % exc.filename if exc.filename else ""))
    # The engine's warnings (an interrupted earlier run, for one) go through Ansible's own channel.
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    module.exit_json(**result)
