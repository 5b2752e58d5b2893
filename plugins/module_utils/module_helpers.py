# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the common options and the one place errors become ``fail_json``."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.drkit.backup.plugins.module_utils.crypto import (
    CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY)
from ansible_collections.drkit.backup.plugins.module_utils.errors import DrkitError
from ansible_collections.drkit.backup.plugins.module_utils.keys import DEFAULT_KEYSTORE, Keystore
from ansible_collections.drkit.backup.plugins.module_utils.protection import Unlocker, hsm_factory
from ansible_collections.drkit.backup.plugins.module_utils.keys import DEFAULT_KEYSTORE
from ansible_collections.drkit.backup.plugins.module_utils.locking import DEFAULT_STATE_DIR
from ansible_collections.drkit.backup.plugins.module_utils.services import DEFAULT_START, DEFAULT_STOP
from ansible_collections.drkit.backup.plugins.module_utils.signing import load_certificates
from ansible_collections.drkit.backup.plugins.module_utils.stream import (
    HAS_ZSTANDARD, ZSTANDARD_IMPORT_ERROR)


def keystore_argument_spec() -> dict:
    return {"keystore": {"type": "path", "default": DEFAULT_KEYSTORE}}


def gpg_home_argument_spec() -> dict:
    return {"gpg_home": {"type": "path"}}


def hsm_argument_spec() -> dict:
    return {"hsm": {"type": "dict", "options": {
        "module": {"type": "path", "required": True},
        "token_label": {"type": "str", "no_log": False},
        "key_label": {"type": "str", "no_log": False},
        "pin": {"type": "str", "required": True, "no_log": True}}}}


def unlock_argument_spec() -> dict:
    """What opening a backup's key slots may need: the keystore and GnuPG (the HSM is apart)."""
    spec = keystore_argument_spec()
    spec.update(gpg_home_argument_spec())
    spec["gpg_passphrase"] = {"type": "str", "no_log": True}
    return spec


def trust_argument_spec() -> dict:
    return {"trusted_certificates": {"type": "list", "elements": "path"}}


def unlocker(params) -> Unlocker:
    return Unlocker(Keystore(params["keystore"]), params.get("gpg_home"), params.get("gpg_passphrase"),
                    hsm_factory(params.get("hsm")))


def trusted(params):
    """The certificates of ``trusted_certificates``, or None."""
    paths = params.get("trusted_certificates")
    return [cert for path in paths for cert in load_certificates(path)] if paths else None


def state_dir_argument_spec() -> dict:
    return {"state_dir": {"type": "path", "default": DEFAULT_STATE_DIR}}


def services_argument_spec() -> dict:
    return {"stop_command": {"type": "str", "default": DEFAULT_STOP},
            "start_command": {"type": "str", "default": DEFAULT_START}}


def freeipa_argument_spec() -> dict:
    return {"krb5_ccache": {"type": "path"}}


def run(module, operation, *args, **kwargs):
    """Checks the libraries, runs ``operation`` and exits the module with its result or its error."""
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    if not HAS_ZSTANDARD:
        module.fail_json(msg=missing_required_lib("zstandard"), exception=str(ZSTANDARD_IMPORT_ERROR))
    run_plain(module, operation, *args, **kwargs)


def run_plain(module, operation, *args, **kwargs):
    """Runs ``operation`` (which needs neither cryptography nor zstandard) and exits the module."""
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
