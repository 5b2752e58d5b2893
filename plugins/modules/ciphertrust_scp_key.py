#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ciphertrust_scp_key
short_description: Read or rotate the SSH public key a CipherTrust Manager sends SCP transfers with
version_added: 0.1.0
description:
  - Returns the public key of the key pair a Thales CipherTrust Manager logs in with when it sends a system backup
    by SCP (C(/api/v1/scp/public-key)), to be put into the destination user's C(authorized_keys) (for example with
    C(ansible.posix.authorized_key)).
  - With O(rotate=true) the appliance first makes a new key pair (C(/api/v1/scp/public-key/rotate)). Every
    destination host then needs the new key, and the SCP transfers of the appliance's scheduled backups fail until
    it is there. A rotation is never idempotent; each run with O(rotate=true) rotates again.
options:
  rotate:
    description: Rotate the key pair first.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.ciphertrust
attributes:
  check_mode:
    support: full
    details: Check mode returns the current key and says it would rotate it.
  diff_mode:
    support: none
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.ciphertrust_backup
"""

EXAMPLES = r"""
- name: Read the appliance's SCP key
  drkit.backup.ciphertrust_scp_key:
    url: https://cm.example.com
    username: admin
    password: "{{ vault_cm_password }}"
    ca_path: /etc/pki/cm-ca.pem
  delegate_to: localhost
  register: cm_scp

- name: Let it log in to the backup host
  ansible.posix.authorized_key:
    user: cmbackup
    key: "{{ cm_scp.public_key }}"
  delegate_to: backups.example.com
"""

RETURN = r"""
public_key:
  description: The appliance's SCP public key (after the rotation, with O(rotate)), as an C(authorized_keys) line.
  returned: success
  type: str
  sample: ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQDHMDnKwJUTBwZsdrF11hni2aCnPob78Wwq3ix8WYI4TwAP6DWi0zy2aDlEry62DIVG
actions:
  description: What was done (or, in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: ["rotate the SCP key pair"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import ciphertrust
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.appliance import Appliance
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import client_of


def main():
    spec = _module.ciphertrust_argument_spec()
    spec["rotate"] = dict(type="bool", default=False)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    _module.run(module, lambda **kwargs: ciphertrust.scp_key(Appliance(client_of(params)), **kwargs),
                libraries=False, rotate=params["rotate"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
