#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_info
short_description: List, inspect and verify backups
version_added: 0.1.0
description:
  - Reads the header of one backup, or of every backup in a backup root, with no key (as
    C(ksctl backup inspect)); lists interrupted backups as C(incomplete).
  - With O(verify=checksum), checks every stored part's presence, size and SHA-256 against the header, with
    no key, and a signed backup's signature (with O(trusted_certificates), that it comes from them, and with
    O(trusted_crls), that its signer is not revoked). With O(verify=full), also opens the backup (backup key,
    GnuPG secret key, HSM), authenticates the header and decrypts and decompresses every part, so any changed,
    truncated, reordered or appended byte is found and named.
  - Every backup's C(header.protection) says how it is protected (backup keys, GnuPG recipients, HSM,
    signature).
  - Also reports the host's status from O(state_dir) (read only), that is the backup or restore in progress
    and the services that an interrupted run left stopped.
options:
  path:
    description:
      - A backup root (lists what it holds, including C(<root>/<host>/) copies), one backup directory, or a
        single-file backup (C(.drkit)).
    type: path
    default: /var/lib/drkit/backups
  verify:
    description: How far to verify.
    type: str
    choices: [none, checksum, full]
    default: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.info_module
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.unlock
  - drkit.backup.common.hsm
  - drkit.backup.common.trust
  - drkit.backup.common.state_dir
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
  - module: drkit.backup.restore
"""

EXAMPLES = r"""
- name: List the backups of a host
  drkit.backup.backup_info:
  register: listing

- name: Prove that the newest backup opens and every byte is intact
  drkit.backup.backup_info:
    path: "{{ listing.backups[0].path }}"
    verify: full
  register: check
  failed_when: not check.verified

- name: Check a downloaded single-file backup without any key, and that the site's CA signed it
  drkit.backup.backup_info:
    path: /srv/transfer/files-full-2026-11-23-02-00-00.drkit
    verify: checksum
    trusted_certificates: [/etc/pki/drkit/backup-signing-ca.pem]

- name: The same, also refusing signers the site's CAs have revoked
  drkit.backup.backup_info:
    path: /srv/transfer/files-full-2026-11-23-02-00-00.drkit
    verify: checksum
    trusted_certificates: [/etc/pki/drkit/backup-signing-root.pem]
    trusted_crls: [/etc/pki/drkit/backup-signing-root.crl, /etc/pki/drkit/backup-signing-issuing.crl]
"""

RETURN = r"""
backups:
  description: The backups found, newest first.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The backup's name.
      type: str
      sample: files-full-2026-11-23-02-00-00
    path:
      description: Where it is.
      type: str
      sample: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    status:
      description:
        - V(complete); V(incomplete) for a backup whose run was interrupted or a capture waiting to be sealed
          (it is never used); V(damaged) when its header cannot be read; V(failed_verification) when
          M(drkit.backup.backup_verify) recorded that it failed (it never counts as a good backup).
      type: str
      sample: complete
    verification:
      description: For V(failed_verification), the record (C(result), C(level), C(at), C(by), C(problems)).
      type: dict
      returned: when the backup failed verification
    pins:
      description:
        - The pins that hold this backup now (M(drkit.backup.backup_pin)), each with C(id), C(holder), C(purpose),
          C(pinned_at) and C(expires_at). Prune and delete leave it alone while it has one.
      type: list
      elements: dict
      returned: when the backup is pinned
    form:
      description: V(directory), V(file) (single-file backup) or V(capture) (raw parts waiting to be sealed).
      type: str
      sample: directory
    header:
      description:
        - The header manifest (id, product, productVersion, type, online, scope, domain, createdAt,
          sourceHost, serverRoles, creator, description, encryption, compression, tiedToHSM, parts ...), with
          C(size), C(storedSize) and C(protection) added (C(encrypted), C(backupKeys), C(gpgRecipients),
          C(tiedToHSM), C(hsm), C(signed), C(signer), and a C(summary) sentence), and C(restorableTo) (the
          product releases it may be restored to, as its provider's rule, the release that made it, and parameters).
        - C(contentSummary), when the provider keeps one, is what the capture held, counted inside it (for V(files),
          per path the regular files, directories, links and bytes); a drill compares it with the restored instance.
        - A header of a newer minor format version also has C(newerFormat), a sentence saying which version wrote
          it and that the fields this release does not know are ignored.
      type: dict
      returned: for complete backups
    verified:
      description: Whether this backup passed the verification asked for.
      type: bool
      returned: when O(verify) is not V(none)
    problems:
      description: What is wrong with this backup, one plain sentence each.
      type: list
      elements: str
      returned: when O(verify) is not V(none), or the backup is damaged
operation:
  description:
    - The backup, restore or other operation running on the host now (V(null) when none), from O(state_dir).
  returned: success
  type: dict
  contains:
    operation:
      description: V(backup), V(restore), V(prune), V(delete) or V(services).
      type: str
    name:
      description: The backup it works on.
      type: str
    pid:
      description: Its process id.
      type: int
    host:
      description: The host it runs on.
      type: str
    started_at:
      description: When it started (UTC, RFC 3339).
      type: str
    stage:
      description:
        - Where it is (for a backup V(capture), V(seal) or V(all); for a restore V(verify), V(stage) or
          V(commit)).
      type: str
    services_stopped:
      description: The services it has stopped and not yet started again.
      type: list
      elements: str
    progress:
      description:
        - How far its data has got, written at most once a second (absent before the first bytes flow); poll it
          while a backup or restore runs under C(async).
        - C(bytes_total) is the expected plaintext size (an estimate for an online backup; V(null) when the
          provider cannot tell), so C(bytes_done) may pass it; C(percent) and C(eta_seconds) (the time left at
          the rate so far) are V(null) until they can be told.
      type: dict
      contains:
        stage:
          description: The stage the figures belong to.
          type: str
        part:
          description: The part being written or read.
          type: str
        parts_done:
          description: The parts finished.
          type: int
        bytes_done:
          description: Plaintext bytes so far.
          type: int
        bytes_total:
          description: Plaintext bytes expected.
          type: int
        percent:
          description: C(bytes_done) of C(bytes_total) in percent, at most 100.
          type: float
        eta_seconds:
          description: The time left at the rate so far.
          type: float
        updated_at:
          description: When the figures were written (UTC, RFC 3339).
          type: str
  sample:
    operation: backup
    name: files-full-2026-11-23-02-00-00
    pid: 4242
    host: idm2.example.test
    started_at: "2026-11-23T02:00:00.102030Z"
    stage: seal
    services_stopped: []
    progress: {stage: seal, part: var_lib_dirsrv.tar, parts_done: 1, bytes_done: 734003200,
               bytes_total: 2147483648, percent: 34.2, eta_seconds: 97.5, updated_at: "2026-11-23T02:01:50.000000Z"}
interrupted:
  description:
    - The record of a run that ended without starting every service it had stopped (it was killed, or a start
      command failed), with C(services_stopped) and C(reason); V(null) when there is none.
    - A service leaves it when a later run starts it again (for example M(drkit.backup.backup_services)).
  returned: success
  type: dict
  sample:
    operation: backup
    name: files-full-2026-11-23-02-00-00
    pid: 4242
    reason: the process ended without finishing
    services_stopped: [slapd]
failed_restores:
  description:
    - Restores whose commit failed part-way and was set aside (never retried), from O(state_dir), each with the
      backup, when, where it failed, how many paths were and were not put in place, and the journal kept.
  returned: success
  type: list
  elements: dict
captures:
  description:
    - Captures waiting to be sealed (C(stage=capture)), wherever their temporary directory is, with their age,
      whether they are complete, and C(expires_in_seconds) before the next operation removes them.
  returned: success
  type: list
  elements: dict
services_stopped:
  description: Every service recorded as stopped, by the running operation or by an interrupted one.
  returned: success
  type: list
  elements: str
  sample: [slapd]
verified:
  description: Whether every backup listed passed (false when there was none to verify).
  returned: when O(verify) is not V(none)
  type: bool
  sample: true
problems:
  description: Every problem found, one plain sentence each, naming the backup and part.
  returned: when O(verify) is not V(none)
  type: list
  elements: str
  sample: ["part etc_myapp.tar of backup files-full-2026-11-23-02-00-00 does not match its checksum: it was changed or damaged"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import info
from ansible_collections.drkit.backup.plugins.module_utils.store.catalog import DEFAULT_ROOT


def main():
    argument_spec = dict(
        path=dict(type="path", default=DEFAULT_ROOT),
        verify=dict(type="str", choices=["none", "checksum", "full"], default="none"),
    )
    argument_spec.update(_module.unlock_argument_spec())
    argument_spec.update(_module.hsm_argument_spec())
    argument_spec.update(_module.trust_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, info.backup_info, path=params["path"], verify=params["verify"],
                unlocker=_module.unlocker(params), trusted_certificates=params["trusted_certificates"],
                trusted_crls=params["trusted_crls"], signature_expired=params["signature_expired"],
                state_dir=params["state_dir"])


if __name__ == "__main__":
    main()
