#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: freeipa_backup_info
short_description: List the native ipa-backup backups on an IdM server
version_added: 0.1.0
description:
  - Lists the C(ipa-full-*) and C(ipa-data-*) directories that C(ipa-backup) wrote (by default in
    C(/var/lib/ipa/backup)), reading each C(header) (type, time, host, IPA version, services) without changing
    anything, and says which are complete, incomplete (an interrupted run) or damaged.
  - Existing backups found this way can be adopted into drkit backups (M(drkit.backup.backup) with
    C(provider=freeipa) and C(provider_options.adopt)), copied (M(ansible.builtin.fetch) or
    M(drkit.backup.backup_pack) after adoption) or pruned (M(ansible.builtin.file) with C(state=absent)).
options:
  backup_dir:
    description: The directory holding the native backups.
    type: path
    default: /var/lib/ipa/backup
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.info_module
requirements:
  - Python 3.9 or later on the managed host.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
  - module: drkit.backup.backup_info
"""

EXAMPLES = r"""
- name: List the native backups
  drkit.backup.freeipa_backup_info:
  register: native

- name: Adopt every complete one into encrypted drkit backups
  drkit.backup.backup:
    provider: freeipa
    type: "{{ item.type }}"
    provider_options:
      adopt: "{{ item.name }}"
  loop: "{{ native.backups | selectattr('status', 'equalto', 'complete') }}"
  loop_control:
    label: "{{ item.name }}"

- name: Prune native backups older than the newest three
  ansible.builtin.file:
    path: "{{ item.path }}"
    state: absent
  loop: "{{ native.backups[3:] }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
backups:
  description: The native backups, newest first.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The directory's name.
      type: str
      sample: ipa-full-2026-11-23-02-00-00
    path:
      description: Its path.
      type: str
      sample: /var/lib/ipa/backup/ipa-full-2026-11-23-02-00-00
    type:
      description: V(full) or V(data), from the name.
      type: str
      sample: full
    status:
      description: V(complete), V(incomplete) (no header or no archive) or V(damaged) (a header that does not parse
        or contradicts the name).
      type: str
      sample: complete
    problems:
      description: What is wrong with it, one sentence each.
      type: list
      elements: str
    time:
      description: When ipa-backup started (header C(time), GMT), RFC 3339.
      type: str
      returned: when the header parses
      sample: "2026-11-23T02:00:00.000000Z"
    host:
      description: The server it was taken on (header C(host)).
      type: str
      returned: when the header parses
    ipa_version:
      description: The IPA version that took it.
      type: str
      returned: when the header parses
    services:
      description: The services of the master (header C(services)).
      type: list
      elements: str
      returned: when the header parses
    roles:
      description: The server roles among them (V(CA), V(KRA), V(DNS), V(DNSKeySync), V(ADTRUST)).
      type: list
      elements: str
      returned: when the header parses
    encrypted:
      description: Whether the archive is GPG-encrypted (C(ipa-backup --gpg)).
      type: bool
    files:
      description: The files in the directory with their sizes.
      type: list
      elements: dict
    size:
      description: Their total size in bytes.
      type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import freeipa


def main():
    module = AnsibleModule(argument_spec=dict(backup_dir=dict(type="path", default="/var/lib/ipa/backup")),
                           supports_check_mode=True)
    _module.run(module, freeipa.list_native_backups, libraries=False, backup_dir=module.params["backup_dir"])


if __name__ == "__main__":
    main()
