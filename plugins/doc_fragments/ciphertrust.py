# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """What the drkit.backup.ciphertrust_* modules share: the connection to a CipherTrust Manager."""

    DOCUMENTATION = r"""
options:
  url:
    description: The CipherTrust Manager's address (V(https://cm.example.com); its REST API is under C(/api/v1)).
    type: str
    required: true
  username:
    description: The user that logs in (a member of Backup Admins, or of Domain Backup Admins for domain backups).
    type: str
    required: true
  password:
    description: The user's password. It reaches the appliance in the body of the token request only.
    type: str
    required: true
  domain:
    description: The domain the token is issued for (default the root domain); domain backups and keys are that
      domain's.
    type: str
  auth_domain:
    description: The domain where the user is defined, when it is not O(domain).
    type: str
  validate_certs:
    description:
      - Check the appliance's TLS certificate. Leave it on; give the appliance's CA in O(ca_path) instead.
    type: bool
    default: true
  ca_path:
    description: The CA certificate (PEM) that signed the appliance's certificate, when the system's CAs did not.
    type: path
  timeout:
    description: Seconds each API call may take.
    type: int
    default: 60
requirements:
  - The CipherTrust Manager's REST API reachable from where the module runs (the controller or a delegate).
notes:
  - Run the module on the controller or a delegate (C(delegate_to)); it talks to the appliance over HTTPS only.
  - Backups and backup keys exist only on the node that made them or where they were uploaded (they are not
    copied to other cluster nodes).
"""
