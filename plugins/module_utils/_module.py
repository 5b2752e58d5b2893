# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to this collection's modules: the bridge between AnsibleModule and the engine.

The argument specs several modules share (documented once in
plugins/doc_fragments/common.py), the objects built from them, and
:func:`run`, the one place where the engine's result becomes ``exit_json``
and its errors become ``fail_json``. Every module calls the engine through it.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import (
    DrkitError, PartialFailure, os_error_message)
from ansible_collections.drkit.backup.plugins.module_utils.format.codec import HAS_ZSTANDARD, ZSTANDARD_IMPORT_ERROR
from ansible_collections.drkit.backup.plugins.module_utils.host.services import DEFAULT_START, DEFAULT_STOP
from ansible_collections.drkit.backup.plugins.module_utils.host.state import DEFAULT_STATE_DIR
from ansible_collections.drkit.backup.plugins.module_utils.protection.crypto import (
    CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY)
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import DEFAULT_KEYSTORE, Keystore
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker, hsm_factory


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
    return {"trusted_certificates": {"type": "list", "elements": "path"},
            "trusted_crls": {"type": "list", "elements": "path"},
            "signature_expired": {"type": "str", "choices": ["refuse", "allow"], "default": "refuse"}}


def state_dir_argument_spec() -> dict:
    return {"state_dir": {"type": "path", "default": DEFAULT_STATE_DIR}}


def services_argument_spec() -> dict:
    return {"stop_command": {"type": "str", "default": DEFAULT_STOP},
            "start_command": {"type": "str", "default": DEFAULT_START}}


def lease_argument_spec() -> dict:
    return {"lease_id": {"type": "str", "no_log": False}}


def freeipa_argument_spec() -> dict:
    return {"krb5_ccache": {"type": "path"}}


def ciphertrust_argument_spec() -> dict:
    """The connection to a CipherTrust Manager (doc fragment drkit.backup.ciphertrust)."""
    return {"url": {"type": "str", "required": True},
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "domain": {"type": "str"},
            "auth_domain": {"type": "str"},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "timeout": {"type": "int", "default": 60}}


def unlocker(params) -> Unlocker:
    return Unlocker(Keystore(params["keystore"]), params.get("gpg_home"), params.get("gpg_passphrase"),
                    hsm_factory(params.get("hsm")))


def run(module, operation, libraries=True, **kwargs):
    """Runs ``operation(**kwargs)`` and exits the module with its result or its error.

    ``libraries``: the operation needs cryptography and zstandard (said plainly when the host lacks them).
    """
    if libraries and not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(CRYPTOGRAPHY_IMPORT_ERROR))
    if libraries and not HAS_ZSTANDARD:
        module.fail_json(msg=missing_required_lib("zstandard"), exception=str(ZSTANDARD_IMPORT_ERROR))
    try:
        result = operation(**kwargs)
    except PartialFailure as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except DrkitError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=os_error_message(exc))
    # The engine's warnings (an interrupted earlier run, for one) go through Ansible's own channel.
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    module.exit_json(**result)
