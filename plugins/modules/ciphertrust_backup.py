#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ciphertrust_backup
short_description: Make, download, upload, restore and delete CipherTrust Manager backups
version_added: 0.1.0
description:
  - Drives the backups of a Thales CipherTrust Manager through its REST API (C(/api/v1/backups)).
  - O(state=present) makes a backup (encrypted by the appliance with O(backup_key), or its scope's default key) and
    waits until its status is C(Completed) (with O(wait=false) it returns at once, for Ansible's C(async)); with
    O(download) it then downloads the backup file (mode 0600, and a record of it beside it, C(<file>.json)).
  - O(state=restored) restores the backup O(id), or the one in the file O(upload) (uploaded first unless it is on
    the appliance already), and waits until the appliance says the restore completed. A system restore restarts
    the appliance's services, which answer HTTP 500 for a while; the module polls on.
  - The release rule is checked before the restore call, naming both releases. A backup restores on the same
    release or a later one within the next three minor releases (the next two LTS ones, for an LTS backup, with
    O(lts_releases)); an older one only with O(force=true), which is passed to the appliance only then; onto an
    older release never.
  - With O(scp), the system backup is then sent by the appliance to a host by SCP, and the module waits until the
    transfer completed. The host must hold the appliance's SCP public key (M(drkit.backup.ciphertrust_scp_key)) in
    the user's C(authorized_keys), or take O(scp.password); the appliance checks the host by O(scp.host_key).
  - Only one backup or restore runs on an appliance at a time; a second one fails with the appliance's message.
  - Idempotent by O(id); without one, a O(download) file whose record names a backup still on the appliance stands
    for it, so a re-run of "make and download" changes nothing. An SCP transfer of the backup that completed to the
    same host stands for a new one (the appliance does not report the path). A restore always changes the
    appliance.
options:
  id:
    description: The backup (its UUID).
    type: str
  state:
    description: V(present) makes (or keeps) the backup; V(restored) restores it; V(absent) deletes it from the
      appliance.
    type: str
    choices: [present, restored, absent]
    default: present
  scope:
    description: V(system) (the whole appliance) or V(domain) (the token's O(domain)). Domain Administrators make
      domain backups only.
    type: str
    choices: [system, domain]
    default: system
  backup_key:
    description: The id of the backup key that encrypts it (default the scope's default key).
    type: str
  description:
    description: The backup's description.
    type: str
  tied_to_hsm:
    description: Tie a system backup to the HSM's root key (it then restores only where the same HSM root key is).
    type: bool
    default: false
  filters:
    description: What a domain backup holds (default everything of the domain).
    type: list
    elements: dict
    suboptions:
      resource_type:
        description: The kind of resource.
        type: str
        required: true
        choices: [Keys, cte_policies, customer_fragments, users_groups]
      resource_query:
        description: The query that picks the resources of that kind (the appliance's syntax).
        type: str
  wait:
    description: Wait until a backup made is C(Completed).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a backup or a restore.
    type: int
    default: 1800
  download:
    description: Download the backup file here, once it is C(Completed).
    type: path
  upload:
    description: The backup file (downloaded from a CipherTrust Manager) to upload, for O(state=restored).
    type: path
  force:
    description: Restore a backup older than the releases this one restores without force (the appliance's force
      option; Thales advises checking with its support first). Never allows a restore onto an older release.
    type: bool
    default: false
  scp:
    description: Send the (system) backup to this host by SCP once it is C(Completed), and wait for the transfer.
    type: dict
    suboptions:
      host:
        description: The destination host's name or address, as the appliance reaches it.
        type: str
        required: true
      port:
        description: Its SSH port.
        type: int
        default: 22
      username:
        description: The user the appliance logs in as.
        type: str
        required: true
      auth_method:
        description: V(key) logs in with the appliance's SCP key pair; V(password) with O(scp.password).
        type: str
        choices: [key, password]
        default: key
      password:
        description: The user's password, with O(scp.auth_method=password).
        type: str
      host_key:
        description: The destination host's public key (a line of its C(/etc/ssh/ssh_host_*_key.pub)), which the
          appliance checks the host against.
        type: str
        required: true
      path:
        description: The directory the backup goes into, a complete path (not relative to the user's home).
        type: str
        required: true
  lts_releases:
    description: The LTS releases (V(2.14), ...) among which an LTS backup restores on the next two without force.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.ciphertrust
attributes:
  check_mode:
    support: full
    details: Check mode says what would be made, downloaded, uploaded, restored or deleted (the release rule
      checked), and does none of it.
  diff_mode:
    support: none
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.ciphertrust_backup_key
  - module: drkit.backup.ciphertrust_backup_info
"""

EXAMPLES = r"""
- name: Make a system backup and download it
  drkit.backup.ciphertrust_backup:
    url: https://cm.example.com
    username: backup-admin
    password: "{{ vault_cm_password }}"
    ca_path: /etc/pki/cm-ca.pem
    scope: system
    description: nightly
    download: /srv/cm/system-backup.bin
  delegate_to: localhost

- name: Make a system backup and have the appliance send it to a backup host by SCP
  drkit.backup.ciphertrust_backup:
    url: https://cm.example.com
    username: backup-admin
    password: "{{ vault_cm_password }}"
    ca_path: /etc/pki/cm-ca.pem
    scp:
      host: backups.example.com
      username: cmbackup
      host_key: "{{ lookup('ansible.builtin.file', 'files/backups.example.com.ed25519.pub') }}"
      path: /srv/cm-backups
  delegate_to: localhost

- name: Restore it onto a rebuilt appliance (its backup key uploaded first with ciphertrust_backup_key)
  drkit.backup.ciphertrust_backup:
    url: https://cm2.example.com
    username: admin
    password: "{{ vault_cm2_password }}"
    ca_path: /etc/pki/cm-ca.pem
    state: restored
    upload: /srv/cm/system-backup.bin
  delegate_to: localhost
"""

RETURN = r"""
scp:
  description: The SCP transfer as the appliance describes it, with the O(scp.path) it went to.
  returned: with scp
  type: dict
  sample: {id: 403b4cb1-dbe4-4f17-84e8-4bb81e349707, host: backups.example.com, connection_status: completed,
           path: /srv/cm-backups}
backup:
  description: The backup as the appliance describes it (null once deleted, or in check mode before it exists).
  returned: success
  type: dict
  sample: {id: 245d3336-21fa-4a34-9498-c0b64fa4d322, scope: system, status: Completed, tiedToHSM: false,
           backupKey: c05b638d-2eea-4651-9937-7bee49a95f6b, productVersion: v2.19.0}
file:
  description: The downloaded backup file, with O(download).
  returned: with download
  type: dict
  sample: {path: /srv/cm/system-backup.bin, size: 104857, sha256: 9f2c...}
actions:
  description: What was done (or, in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: ["make a system backup", "download backup 245d... to /srv/cm/system-backup.bin"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import ciphertrust
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.appliance import Appliance
from ansible_collections.drkit.backup.plugins.module_utils.providers.ciphertrust.client import client_of


def main():
    spec = _module.ciphertrust_argument_spec()
    spec.update(
        id=dict(type="str"),
        state=dict(type="str", choices=["present", "restored", "absent"], default="present"),
        scope=dict(type="str", choices=["system", "domain"], default="system"),
        backup_key=dict(type="str", no_log=False),
        description=dict(type="str"),
        tied_to_hsm=dict(type="bool", default=False),
        filters=dict(type="list", elements="dict", options=dict(
            resource_type=dict(type="str", required=True,
                               choices=["Keys", "cte_policies", "customer_fragments", "users_groups"]),
            resource_query=dict(type="str"))),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        download=dict(type="path"),
        upload=dict(type="path"),
        force=dict(type="bool", default=False),
        lts_releases=dict(type="list", elements="str", default=[]),
        scp=dict(type="dict", options=dict(
            host=dict(type="str", required=True),
            port=dict(type="int", default=22),
            username=dict(type="str", required=True),
            auth_method=dict(type="str", choices=["key", "password"], default="key"),
            password=dict(type="str", no_log=True),
            host_key=dict(type="str", required=True, no_log=False),
            path=dict(type="str", required=True)),
            required_if=[("auth_method", "password", ("password",))]),
    )
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=[("id", "upload")], supports_check_mode=True)
    params = module.params
    _module.run(module, lambda **kwargs: ciphertrust.backup(Appliance(client_of(params)), **kwargs),
                libraries=False, state=params["state"], backup_id=params["id"], scope=params["scope"],
                backup_key=params["backup_key"], description=params["description"],
                tied_to_hsm=params["tied_to_hsm"], filters=params["filters"], wait=params["wait"],
                wait_timeout=params["wait_timeout"], download=params["download"], upload=params["upload"],
                force=params["force"], lts_releases=params["lts_releases"], scp=params["scp"],
                check_mode=module.check_mode)


if __name__ == "__main__":
    main()
