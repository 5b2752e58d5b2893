#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_pack
short_description: Pack a backup into one file for transfer, or unpack one into a backup root
version_added: 0.1.0
description:
  - Given a backup directory, writes it as one single-file backup C(<name>.drkit) (an uncompressed POSIX tar,
    C(header.json) first), without decrypting or re-encrypting anything; use it to download, upload and copy
    backups between hosts.
  - Given a single-file backup, unpacks it into a backup root as C(<root>/<name>).
  - Every part is checked against the header's checksums while it is copied, so a damaged backup is never
    packed or unpacked; the output is written under a temporary name and renamed when complete.
  - When the output already holds the same backup, nothing changes.
  - M(drkit.backup.backup_info) and M(drkit.backup.restore) also read single-file backups in place.
options:
  src:
    description: A backup directory (to pack) or a C(.drkit) file (to unpack).
    type: path
    required: true
  dest:
    description:
      - For packing, the C(.drkit) file to write, or a directory to write C(<name>.drkit) into.
      - For unpacking, the backup root to unpack into.
    type: path
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_info
  - module: drkit.backup.restore
"""

EXAMPLES = r"""
- name: Pack the newest backup
  drkit.backup.backup_pack:
    src: "{{ nightly.path }}"
    dest: /var/lib/drkit/outbox
  register: packed

- name: Download it
  ansible.builtin.fetch:
    src: "{{ packed.path }}"
    dest: backups/{{ inventory_hostname }}/
    flat: true

- name: On another host, unpack an uploaded backup into the backup root
  drkit.backup.backup_pack:
    src: /root/files-full-2026-11-23-02-00-00.drkit
    dest: /var/lib/drkit/backups
"""

RETURN = r"""
path:
  description: The file written (packing) or the backup directory written (unpacking).
  returned: success
  type: str
  sample: /var/lib/drkit/outbox/files-full-2026-11-23-02-00-00.drkit
operation:
  description: V(pack) or V(unpack).
  returned: success
  type: str
  sample: pack
backup:
  description: The backup's header manifest.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import pack


def main():
    argument_spec = dict(
        src=dict(type="path", required=True),
        dest=dict(type="path", required=True),
    )
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, pack.pack_backup, src=params["src"], dest=params["dest"], state_dir=params["state_dir"],
                lease_id=params["lease_id"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
