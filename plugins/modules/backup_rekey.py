#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_rekey
short_description: Change who can open existing backups, by rewriting their key slots or rotating their data key
version_added: 0.1.0
description:
  - Makes each backup at O(path) open with exactly the backup keys O(key_ids) and the GnuPG recipients
    O(gpg_recipients). Key rotation is O(key_ids=[new key]), escrow is O(key_ids=[operational key, escrow key]).
  - B(By default this is not revocation.) Only the key slots in C(header.json) change. Slots for new holders are
    added, slots for others removed, and the data key that encrypts the parts stays the same. A key that was
    removed still opens every copy of these backups made before (on another host, a single-file copy, an offsite
    store), and with the header of such a copy it opens the parts here too. The result says so (RV(revoked) is
    V(false), RV(note)). The parts, the manifest and its signature stay as they are, and the new header replaces
    the old one through a temporary file and a rename, so a crash leaves every backup with its old header or its
    new one. A backup tied to an HSM is rekeyed without the HSM (its slots hold what the HSM wrapped).
  - With O(rotate_data_key=true), every part is decrypted and encrypted again under a new random data key, as a
    stream (memory stays a few chunks whatever the size of a part), and the new data key is wrapped for exactly
    O(key_ids) and O(gpg_recipients). A key that was removed then no longer opens these backups, nor copies made of
    them from then on; copies made before still hold the old data key and still open with it, so replace or
    delete them. The backup keeps its name, id and manifest (the parts' plaintext sizes and checksums included);
    only the parts' stored sizes and checksums, the manifest's MAC and the key slots change. A signed manifest is
    signed again with O(signing_certificate) and O(signing_key), or else left unsigned, with a warning. A backup
    tied to an HSM needs O(hsm), since the token wraps the new data key. It needs free space for a second copy of the
    backup beside it (two for a single-file backup).
  - A rotation is an action, not a state. Every run with O(rotate_data_key=true) makes a new data key and reports
    a change, so run it once when a key must be revoked, not on every play.
  - Rotation is crash-safe. The new backup is built and verified in full in a hidden work directory beside the old
    one (C(.<name>.rekey)), then swapped in. A single file is replaced in one rename. A directory cannot be renamed
    over a non-empty one, so the old directory is first renamed into the work directory and the new one into its
    place. A run killed at any point leaves the old backup or the new one, whole, never a mix. If it was killed
    between those two renames, the backup is missing from its root until the next run of this module on that
    backup or root. That run, like every run, first finishes what a killed run left (the new backup was verified
    before the swap began), or removes its leftovers, and says so in RV(recovered) and a warning.
  - To add a slot or rotate, each backup must be opened once with what this host holds (a backup key in the
    keystore, the GnuPG secret key, and the HSM for a backup tied to one).
  - The keys must be of the backup's scope. A backup that cannot be opened, is not encrypted, or (with
    O(rotate_data_key)) is damaged or lacks the space, fails the task with its reason and is left as it was; the
    others are still rekeyed.
  - It holds the host's lock (O(state_dir)) while it writes, as a backup or restore does.
options:
  path:
    description: A backup root (every backup in it), one backup directory, or a single-file backup.
    type: path
    required: true
  key_ids:
    description: The backup keys (ids in the keystore) that must open the backups after the change.
    type: list
    elements: str
    default: []
  gpg_recipients:
    description: The GnuPG recipients that must open the backups after the change.
    type: list
    elements: str
    default: []
  rotate_data_key:
    description:
      - Re-encrypt every part under a new data key, so that a key that was removed no longer opens these backups.
        This revokes the key. Without it, only the key slots change and nothing is revoked.
      - Reads and writes every byte of each backup, then reads the new one again to verify it.
    type: bool
    default: false
  signing_certificate:
    description:
      - With O(rotate_data_key), a PEM certificate whose private key (O(signing_key)) signs the new manifest.
      - Without it, a signed backup loses its signature when its data key is rotated (its signer's key is not
        part of a rekey), and a warning says so.
      - Refused without O(rotate_data_key), since rewriting the slots keeps the manifest and its signature.
    type: path
  signing_key:
    description: The PEM private key of O(signing_certificate).
    type: path
  signing_key_passphrase:
    description: The passphrase of O(signing_key), if it is encrypted.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.unlock
  - drkit.backup.common.hsm
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details:
      - Check mode opens each backup and tries every key, recipient, HSM key and the free space. It reports what
        would be rekeyed or re-encrypted and writes nothing.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_key
  - module: drkit.backup.backup_info
"""

EXAMPLES = r"""
- name: Create the new key
  drkit.backup.backup_key:
    name: nightly-2027
    default: true
  register: new_key

- name: Revoke the old key. Re-encrypt every backup of the host under a new data key that only the new key opens
  drkit.backup.backup_rekey:
    path: /var/lib/drkit/backups
    key_ids: ["{{ new_key.key.id }}"]
    rotate_data_key: true
    signing_certificate: /etc/pki/drkit/signer.pem
    signing_key: /etc/pki/drkit/signer.key

- name: Let the security team's offline GnuPG key open them too (escrow, only the slots change)
  drkit.backup.backup_rekey:
    path: /var/lib/drkit/backups
    key_ids: ["{{ new_key.key.id }}"]
    gpg_recipients: [escrow@example.test]
    gpg_home: /root/.gnupg-backup

- name: Rotate the data key of a backup tied to the HSM (the token wraps the new key)
  drkit.backup.backup_rekey:
    path: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    key_ids: ["{{ new_key.key.id }}"]
    rotate_data_key: true
    hsm:
      module: /usr/lib/libCryptoki2_64.so
      pin: "{{ vault_hsm_pin }}"
"""

RETURN = r"""
rekeyed:
  description: The backups whose key slots (or, with O(rotate_data_key), data key) changed, or would in check mode.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/drkit/backups/files-full-2026-11-23-02-00-00]
unchanged:
  description: The backups that already opened with exactly these keys (never with O(rotate_data_key)).
  returned: always
  type: list
  elements: str
  sample: []
not_rekeyed:
  description: The backups that could not be rekeyed, each with its reason (the module then fails, naming them). They were left as they were.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/lib/drkit/backups/files-full-2026-11-01-02-00-00", "msg": "backup ... is not encrypted"}]
reencrypted:
  description:
    - With O(rotate_data_key), each backup re-encrypted under a new data key, or that would be in check mode.
      Each entry gives its path, its parts, their plaintext size and stored size in bytes, and what became of its
      signature (V(signed) again, V(dropped), or V(none) when it had none).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/lib/drkit/backups/files-full-2026-11-23-02-00-00", "parts": ["etc_myapp.tar"],
            "size": 10485760, "stored_size": 2212345, "signature": "signed"}]
revoked:
  description:
    - Whether a key that was removed can no longer open the backups at O(path). It is V(true) only when this run
      re-encrypted every one of them under a new data key (O(rotate_data_key), not check mode, none failed).
    - Copies made before the run are never revoked. They keep the old data key.
  returned: always
  type: bool
  sample: false
recovered:
  description:
    - What this run did first about a rotation that a killed run left unfinished at O(path). It either put the
      verified new backup or the old one in place, or removed the leftovers. In check mode, what it would do.
  returned: always
  type: list
  elements: str
  sample: []
note:
  description: One sentence on what the change means for keys that were removed and for older copies.
  returned: always
  type: str
  sample: >-
    Only the key slots changed: the data key of these backups did not, so no key was revoked. A key that was removed
    still opens every copy of them made before this run (...). To revoke a key, run again with rotate_data_key: true,
    then replace or delete those older copies.
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import rekey


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        key_ids=dict(type="list", elements="str", default=[], no_log=False),
        gpg_recipients=dict(type="list", elements="str", default=[]),
        rotate_data_key=dict(type="bool", default=False),
        signing_certificate=dict(type="path"),
        signing_key=dict(type="path", no_log=False),
        signing_key_passphrase=dict(type="str", no_log=True),
    )
    argument_spec.update(_module.unlock_argument_spec())
    argument_spec.update(_module.hsm_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[("signing_certificate", "signing_key")])
    params = module.params
    _module.run(module, rekey.rekey, unlocker=_module.unlocker(params), path=params["path"], key_ids=params["key_ids"],
                gpg_home=params["gpg_home"], gpg_recipients=params["gpg_recipients"], check_mode=module.check_mode,
                rotate_data_key=params["rotate_data_key"], hsm=params["hsm"],
                signing_certificate=params["signing_certificate"], signing_key=params["signing_key"],
                signing_key_passphrase=params["signing_key_passphrase"], state_dir=params["state_dir"],
                lease_id=params["lease_id"])


if __name__ == "__main__":
    main()
