#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup
short_description: Take an encrypted, verifiable backup of a service's data, or delete one
version_added: 0.1.0
description:
  - Captures the data of a product through its provider and writes it as one backup directory named
    C(<provider>-<full|data>-YYYY-MM-DD-HH-MM-SS) (UTC) under O(dest), holding C(header.json) and C(parts/).
  - Every part is compressed with zstd (data that does not compress is stored as it is) and encrypted with
    chunked AES-256-GCM under a random data key that the backup key wraps; any change to a part or to the
    header, and any reordering, truncation or appended data, is detected by M(drkit.backup.backup_info) and
    refused by M(drkit.backup.restore).
  - The backup is written under a temporary name and renamed into place only when complete; if anything
    fails (a full disk included), the partial backup is removed and earlier backups are untouched.
  - For an offline backup, the provider's services are stopped only while the raw data is captured, and
    started again, whatever happens, before the data is compressed and encrypted.
  - The backup can be taken in two stages (O(stage)); the C(drkit.backup.backup) role uses them so that it
    can check on the services between the capture and the seal.
  - One backup or restore runs at a time on a host (see O(state_dir)).
  - With O(state=absent) and O(name), deletes one backup from O(dest); a backup pinned by M(drkit.backup.backup_pin)
    is refused, naming the pin.
options:
  provider:
    description:
      - The product to back up. This release has V(files) (paths given in O(provider_options)), V(freeipa)
        (FreeIPA / Red Hat IdM through C(ipa-backup), which stops and starts the IdM services itself, so
        O(stop_command) and O(start_command) are not used), V(postgresql) (C(pg_dump) per database and
        C(pg_dumpall --globals-only), streamed into the backup), V(mysql) (MariaDB or MySQL, C(mariadb-dump)
        per database and C(mariadb-dump --system=users), streamed into the backup), V(ldap) (OpenLDAP, an LDIF
        per database, C(slapcat) with slapd stopped or a paged C(ldapsearch) online, and C(cn=config) apart) and
        V(keycloak) (its database through V(postgresql) or V(mysql), with O(online=false) a C(kc.sh export) of the
        realms while O(stop_command) has Keycloak stopped, and its configuration), V(kanidm) and V(ciphertrust)
        (a Thales CipherTrust Manager over its REST API, from the controller or a delegate, with O(online=true),
        keeping the appliance's own backup and its backup key's password-protected file) and V(mq_appliance) (an
        IBM MQ Appliance's secure backup over its REST management interface, with O(online=true), each file
        checked against the backup's manifest).
      - Required with O(state=present), except for O(stage=seal).
    type: str
  provider_options:
    description:
      - Options of the provider, checked against its declaration; docs/providers/<provider>.md in the collection
        lists them with their types, defaults and the verbs that take them (for V(files), C(paths) and C(services);
        for V(freeipa), C(logs), C(gpg), C(adopt), C(keep_native), C(tmpdir) and more).
      - An unknown option, one a backup does not take, or one of the wrong type is refused before anything runs,
        naming the provider and the option; so is a secret, which belongs in O(provider_secrets).
      - The V(freeipa) provider refuses O(online=true) with O(type=full) and C(logs) with O(type=data) before
        running anything, as C(ipa-backup) would.
    type: dict
    default: {}
  provider_secrets:
    description:
      - The provider's passwords and keys (for V(postgresql), V(mysql) and V(mariadb_physical), C(password); for
        V(keycloak), C(db_password), when keycloak.conf and the service's environment do not hold it; for V(ldap), the
        C(password) of C(bind_dn)), never logged or returned; they reach
        the product's tools through a root-only file, standard input or the environment, never a command line.
      - For V(ciphertrust), C(password) (the appliance login) and C(key_password) (protects the backup key's file
        the backup keeps); for V(mq_appliance), C(password) (the appliance login).
    type: dict
    default: {}
  type:
    description:
      - V(full) backs up everything the provider captures; V(data) only the data (where the product separates
        them; V(files) takes full backups only).
    type: str
    choices: [full, data]
    default: full
  online:
    description:
      - Whether to capture while the services run. Offline (V(false)) stops the provider's services for the
        capture.
    type: bool
    default: false
  dest:
    description: The backup root on the managed host. Created (root-only) when missing.
    type: path
    default: /var/lib/drkit/backups
  encryption:
    description:
      - V(key) encrypts with a backup key from the keystore. V(gpg) encrypts the backup's data key to the
        public keys of O(gpg_recipients) only (for sites that use C(ipa-backup --gpg)). V(none) stores the parts
        unencrypted (checksums only) and must be asked for.
      - Whatever the choice, the parts are encrypted with chunked AES-256-GCM under a random data key; the
        choice says who can open that key.
    type: str
    choices: [key, gpg, none]
    default: key
  key_id:
    description:
      - The backup key to encrypt with. Default is the default key of O(scope) (and O(domain)).
      - The key's scope must match the backup's.
    type: str
  escrow_key_ids:
    description:
      - More backup keys that can open the backup too (an escrow key whose key file is kept offline). Their
        scope must match the backup's.
    type: list
    elements: str
    default: []
  gpg_recipients:
    description:
      - GnuPG recipients (key ids, fingerprints or e-mail addresses in O(gpg_home)) whose secret keys can open
        the backup. Required with O(encryption=gpg); with O(encryption=key) they are escrow holders.
      - Each recipient gets a test encryption before anything is stopped, so a missing or expired key fails
        first.
    type: list
    elements: str
    default: []
  tied_to_hsm:
    description:
      - Also wrap the data key with a key that never leaves a PKCS#11 token (O(hsm)), as CipherTrust Manager's
        HSM-tied backups do. The backup then restores only where that token key exists. System backups only.
    type: bool
    default: false
  signing_certificate:
    description:
      - A PEM certificate whose private key (O(signing_key)) signs the backup's manifest, so that
        M(drkit.backup.backup_info) can prove its origin and integrity with the certificate alone.
      - The file may hold the intermediate certificates after the signer's own; the signature carries them, so
        a verifier needs only the root it trusts. The signer's key usage must allow digital signatures, and its
        extended key usage (if any) code signing, document signing or any purpose; another is refused first.
    type: path
  signing_key:
    description: The PEM private key of O(signing_certificate).
    type: path
  signing_key_passphrase:
    description:
      - The passphrase of O(signing_key), if it is encrypted.
      - With O(stage=seal), give it again (the capture records the paths of the certificate and key, not it).
    type: str
  scope:
    description: The backup's scope.
    type: str
    choices: [system, domain]
    default: system
  domain:
    description: The domain of a V(domain)-scoped backup.
    type: str
  description:
    description: A free text stored in the header.
    type: str
    default: ""
  max_age:
    description:
      - When a complete backup of the same provider, host, scope and options in O(dest) is younger than this,
        nothing is stopped or written and the task reports no change. Seconds, or a number with C(s), C(m),
        C(h), C(d) or C(w) (for example V(20h)). V(0) always backs up.
    type: raw
    default: 0
  compression_level:
    description: The zstd level (1-19); V(0) turns compression off.
    type: int
    default: 3
  state:
    description: V(present) takes a backup; V(absent) deletes backup O(name) from O(dest).
    type: str
    choices: [present, absent]
    default: present
  name:
    description: With O(state=absent), the name of the backup to delete.
    type: str
  stage:
    description:
      - V(all) takes the whole backup in one run.
      - V(capture) captures the raw parts into a root-only directory C(.<name>.capture) under O(temp_dir), with
        the services stopped (offline) only while it does, and returns its path as RV(capture). The raw parts
        are not encrypted, so seal them soon.
      - V(seal) compresses and encrypts capture O(capture) into C(<dest>/<name>), where the capture stage said,
        and removes the capture. Only O(capture), O(dest) (to recognise a capture sealed already),
        O(compression_level), O(keystore) and O(state_dir) are used.
      - An offline V(all) is V(capture) followed by V(seal) in one run; an online V(all) writes the parts
        straight into the backup.
    type: str
    choices: [all, capture, seal]
    default: all
    version_added: 0.1.0
  capture:
    description: With O(stage=seal), the capture to seal (RV(capture) of the capture stage).
    type: path
    version_added: 0.1.0
  temp_dir:
    description:
      - Where the capture stage (and an offline V(all)) writes the raw parts, as C(TMPDIR) moves
        C(ipa-backup)'s work files. Default is C(<state_dir>/captures), private to root and outside the backup
        root, since the raw parts are not encrypted.
      - The capture never holds the data key in clear; it waits wrapped by a capture key in O(keystore) until the
        seal. A capture not sealed within a day is removed (with its key) by the next operation on the host, with
        a warning; M(drkit.backup.backup_info) with O(state_dir) lists the captures waiting.
      - It needs room for the raw data; before anything is stopped, a run refuses when it has less free space
        than the data to capture.
    type: path
    version_added: 0.1.0
  source_host:
    description:
      - The source host recorded in the header, used for O(max_age) and by M(drkit.backup.backup_prune) to group
        backups. Default is the host's fully qualified name; set it where several hosts share one machine.
    type: str
    version_added: 0.1.0
  if_nothing_to_save:
    description:
      - What to do when the product is not there to back up, for example IdM not configured yet, or none of the
        O(provider_options) paths of the V(files) provider present (a fresh host).
      - V(fail) fails the task with the product's reason, as its own tool would. V(report) writes nothing, stops
        nothing and succeeds unchanged, with the reason in RV(nothing_to_save). The restore role takes its safety
        copy this way, so that a restore onto a fresh host is not blocked.
    type: str
    choices: [fail, report]
    default: fail
    version_added: 0.1.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.hsm
  - drkit.backup.common.services
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports whether a backup would be taken (or deleted) and takes none.
      - It also returns the plan, RV(services) and RV(space), and fails when another operation is running.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_info
  - module: drkit.backup.restore
  - module: drkit.backup.backup_key
"""

EXAMPLES = r"""
- name: Back up configuration and data directories, stopping the service while they are copied
  drkit.backup.backup:
    provider: files
    provider_options:
      paths: [/etc/myapp, /var/lib/myapp]
      services: [myapp]
    description: nightly
  register: nightly

- name: At most one backup a day, however often the play runs
  drkit.backup.backup:
    provider: files
    provider_options:
      paths: [/etc/myapp]
    online: true
    max_age: 20h

- name: Encrypt to the security team's GnuPG keys, as ipa-backup --gpg does, and sign the manifest
  drkit.backup.backup:
    provider: files
    provider_options:
      paths: [/etc/myapp]
    encryption: gpg
    gpg_home: /root/.gnupg-backup
    gpg_recipients: [backup@example.test]
    signing_certificate: /etc/pki/drkit/signer.pem
    signing_key: /etc/pki/drkit/signer.key

- name: Tie the backup to the HSM, with an escrow key kept offline
  drkit.backup.backup:
    provider: files
    provider_options:
      paths: [/var/lib/myapp]
    escrow_key_ids: [2f91020c-5fb7-4709-aca4-f4ce1ba9a54a]
    tied_to_hsm: true
    hsm:
      module: /usr/lib/libCryptoki2_64.so
      token_label: backup
      key_label: root
      pin: "{{ vault_hsm_pin }}"

- name: Back up an IdM server with ipa-backup (full, offline), sealed as an encrypted drkit backup
  drkit.backup.backup:
    provider: freeipa
    description: nightly IdM

- name: Data-only backup while IdM keeps serving, ipa-backup's temporary files on a roomy disk
  drkit.backup.backup:
    provider: freeipa
    type: data
    online: true
    provider_options:
      tmpdir: /srv/ipa-tmp

- name: Keep the native GPG-encrypted output too, for sites that restore it by hand
  drkit.backup.backup:
    provider: freeipa
    provider_options:
      gpg: true
      gnupghome: /root/backup-gnupg
      keep_native: true

- name: Capture with the services stopped, then seal once they are up again
  drkit.backup.backup:
    provider: files
    provider_options:
      paths: [/var/lib/myapp]
      services: [myapp]
    stage: capture
    temp_dir: /srv/scratch
  register: captured

- name: Seal the capture (compress, encrypt, rename into place)
  drkit.backup.backup:
    stage: seal
    capture: "{{ captured.capture }}"
  when: captured.capture is not none

- name: Delete one backup
  drkit.backup.backup:
    state: absent
    name: files-full-2026-11-01-02-00-00

# While a backup runs, backup_info's operation.progress says how far it has got.
- name: Start a long backup in the background
  drkit.backup.backup:
    provider: postgresql
    provider_options: {databases: [keycloak]}
  async: 7200
  poll: 0
  register: started

- name: Follow it (the part, bytes done and expected, the time left)
  drkit.backup.backup_info:
    path: /var/lib/drkit/backups
    state_dir: /var/lib/drkit
  register: status
  until: status.operation is none or status.operation.progress.percent | default(0) > 50
  retries: 600
  delay: 5

- name: Wait for its result
  ansible.builtin.async_status:
    jid: "{{ started.ansible_job_id }}"
  register: finished
  until: finished.finished
  retries: 1440
  delay: 5
"""

RETURN = r"""
path:
  description:
    - The backup directory written (or found younger than O(max_age), or deleted).
    - V(null) after the capture stage, in check mode, and when there was nothing to save.
  returned: success
  type: str
  sample: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
removed:
  description:
    - With O(state=absent), what was deleted (or would be, in check mode), the backup first, then any capture of
      it that was waiting to be sealed.
  returned: when a backup was deleted
  type: list
  elements: str
  sample: [/var/lib/drkit/backups/files-full-2026-11-01-02-00-00]
nothing_to_save:
  description: With O(if_nothing_to_save=report), why nothing was backed up (the product is not there).
  returned: when there was nothing to save
  type: str
  sample: IdM is not configured on this host (/etc/ipa/default.conf is missing)
backup:
  description:
    - The backup's header manifest, with C(size), C(storedSize) and C(protection) added.
    - C(protection) says how the backup is protected, in C(encrypted), C(backupKeys), C(gpgRecipients),
      C(tiedToHSM), C(hsm), C(signed), C(signer), and a C(summary) sentence.
  returned: when a backup was written or found
  type: dict
  sample:
    name: files-full-2026-11-23-02-00-00
    id: 245d3336-21fa-4a34-9498-c0b64fa4d322
    product: files
    type: full
    online: false
    scope: system
    createdAt: "2026-11-23T02:00:00.312004Z"
    sourceHost: idm1.example.test
    encryption: {scheme: aes-256-gcm-stream, chunkSize: 1048576}
    protection:
      encrypted: true
      backupKeys: [c05b638d-2eea-4651-9937-7bee49a95f6b]
      gpgRecipients: []
      tiedToHSM: false
      signed: false
      summary: "encrypted (aes-256-gcm-stream), opened by backup key c05b638d-2eea-4651-9937-7bee49a95f6b"
    parts: [{name: etc_myapp.tar, kind: tar, source: /etc/myapp, size: 10240, storedSize: 2113,
             storedSha256: 9f19ab202f860cfa5de7fcbe70872a0aea1ee91af9092c80cb89939c35aea994}]
duration_seconds:
  description: How long this run took (with O(stage=capture) or O(stage=seal), that stage only).
  returned: when a backup was written or captured
  type: float
  sample: 12.5
downtime_seconds:
  description:
    - How long the services were down, from the first stop command issued to the last start command returned.
    - The seal stage returns the capture's.
  returned: when services were stopped
  type: float
  sample: 3.2
services_stopped:
  description: The services stopped (and started again).
  returned: when services were stopped
  type: list
  elements: str
  sample: [myapp]
native_backup:
  description:
    - For V(freeipa), the native ipa-backup directory that was sealed, whether it was adopted, and whether it was
      kept.
  returned: when a V(freeipa) backup was written
  type: dict
  sample: {name: ipa-full-2026-11-23-02-00-01, path: /var/lib/ipa/backup/ipa-full-2026-11-23-02-00-01,
           adopted: false, kept: false}
stage:
  description: The stage this run took.
  returned: with O(state=present)
  type: str
  sample: capture
capture:
  description:
    - After O(stage=capture), the capture directory to pass to O(stage=seal); V(null) when nothing was
      captured (a backup younger than O(max_age) exists).
  returned: with O(state=present)
  type: str
  sample: /var/lib/drkit/backups/.files-full-2026-11-23-02-00-00.capture
name:
  description: After O(stage=capture), the name the backup will have.
  returned: after a capture
  type: str
  sample: files-full-2026-11-23-02-00-00
dest:
  description: After O(stage=capture), the backup root the seal stage writes into.
  returned: after a capture
  type: str
  sample: /var/lib/drkit/backups
size:
  description: After O(stage=capture), the size of the raw parts in bytes.
  returned: after a capture
  type: int
  sample: 1073741824
services:
  description: The services an offline backup stops, in the order it stops them (none online).
  returned: with O(state=present) and O(stage) V(all) or V(capture)
  type: list
  elements: str
  sample: [myapp]
stops_services:
  description:
    - Whether this backup takes the product's services down (offline), be it through O(stop_command) (RV(services))
      or through the product's own tool (RV(tool_stops_services)). A role uses it to refuse a backup that would
      stop a host serving clients.
  returned: with O(state=present) and O(stage) V(all) or V(capture)
  type: bool
  sample: true
  version_added: 0.1.0
tool_stops_services:
  description:
    - Whether the product's own tool stops and starts the services itself (V(freeipa) offline - C(ipa-backup)
      stops the IdM services for a full backup and the directory server for an offline data backup); then
      RV(services) is empty and no stop or start command runs.
  returned: with O(state=present) and O(stage) V(all) or V(capture)
  type: bool
  sample: false
  version_added: 0.1.0
realm_export:
  description:
    - With O(provider=keycloak), the realms its C(kc.sh export) holds, each checked against the database's user
      count (empty for an online backup, which holds no separate realm export and warns of it).
  returned: with O(provider=keycloak), when a backup was taken
  type: list
  elements: str
  sample: [corp, master]
  version_added: 0.1.0
partial_export:
  description:
    - With O(provider=keycloak) and C(partial_export), the realms whose partial export (admin REST API; secrets
      masked, no users) the backup holds beside the database dump.
  returned: with O(provider=keycloak) and C(partial_export), when a backup was taken
  type: list
  elements: str
  sample: [corp]
  version_added: 0.1.0
space:
  description:
    - In check mode, the free space where the backup would be written (and captured first), against the size
      of the data to capture as the provider estimates it (V(null) when it cannot tell).
    - C(enough) is false when a place has less free space than it needs (on one file system, a capture and
      the backup sealed from it both count).
  returned: in check mode, when a backup would be taken
  type: dict
  sample:
    estimated_bytes: 1073741824
    enough: true
    dest: {path: /var/lib/drkit/backups, free_bytes: 52613349376, needed_bytes: 2147483648}
    temp_dir: {path: /var/lib/drkit/backups, free_bytes: 52613349376, needed_bytes: 2147483648}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import backup, delete, stages
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import Keystore
from ansible_collections.drkit.backup.plugins.module_utils.store.catalog import DEFAULT_ROOT


def main():
    argument_spec = dict(
        provider=dict(type="str"),
        provider_options=dict(type="dict", default={}),
        provider_secrets=dict(type="dict", default={}, no_log=True),
        type=dict(type="str", choices=["full", "data"], default="full"),
        online=dict(type="bool", default=False),
        dest=dict(type="path", default=DEFAULT_ROOT),
        encryption=dict(type="str", choices=["key", "gpg", "none"], default="key"),
        key_id=dict(type="str"),
        escrow_key_ids=dict(type="list", elements="str", default=[], no_log=False),
        gpg_recipients=dict(type="list", elements="str", default=[]),
        tied_to_hsm=dict(type="bool", default=False),
        signing_certificate=dict(type="path"),
        signing_key=dict(type="path", no_log=False),
        signing_key_passphrase=dict(type="str", no_log=True),
        scope=dict(type="str", choices=["system", "domain"], default="system"),
        domain=dict(type="str"),
        description=dict(type="str", default=""),
        max_age=dict(type="raw", default=0),
        compression_level=dict(type="int", default=3),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        name=dict(type="str"),
        stage=dict(type="str", choices=["all", "capture", "seal"], default="all"),
        capture=dict(type="path"),
        temp_dir=dict(type="path"),
        source_host=dict(type="str"),
        if_nothing_to_save=dict(type="str", choices=["fail", "report"], default="fail"),
    )
    argument_spec.update(_module.keystore_argument_spec())
    argument_spec.update(_module.gpg_home_argument_spec())
    argument_spec.update(_module.hsm_argument_spec())
    argument_spec.update(_module.services_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[("state", "absent", ("name",)), ("stage", "seal", ("capture",))],
        supports_check_mode=True)
    params = module.params
    if params["state"] == "present" and params["stage"] != "seal" and not params["provider"]:
        module.fail_json(msg="provider is required to take a backup (stage all or capture)")
    if not 0 <= params["compression_level"] <= 19:
        module.fail_json(msg="compression_level must be between 0 and 19")
    if params["state"] == "absent":
        _module.run(module, delete.delete_backup, dest=params["dest"], name=params["name"],
                    state_dir=params["state_dir"], lease_id=params["lease_id"], check_mode=module.check_mode)
    if params["stage"] == "seal":
        _module.run(module, stages.seal_backup, capture=params["capture"], dest=params["dest"],
                    compression_level=params["compression_level"], state_dir=params["state_dir"],
                    lease_id=params["lease_id"], check_mode=module.check_mode,
                    signing_key_passphrase=params["signing_key_passphrase"])
    _module.run(
        module, backup.create_backup, keystore=Keystore(params["keystore"]), provider=params["provider"],
        provider_options=params["provider_options"], provider_secrets=params["provider_secrets"],
        backup_type=params["type"], online=params["online"],
        dest=params["dest"], scope=params["scope"], domain=params["domain"], description=params["description"],
        max_age=params["max_age"], compression_level=params["compression_level"],
        stop_command=params["stop_command"], start_command=params["start_command"], stage=params["stage"],
        temp_dir=params["temp_dir"], source_host=params["source_host"], state_dir=params["state_dir"],
        lease_id=params["lease_id"], check_mode=module.check_mode, if_nothing_to_save=params["if_nothing_to_save"],
        encryption=params["encryption"], key_id=params["key_id"],
        escrow_key_ids=params["escrow_key_ids"], gpg_home=params["gpg_home"],
        gpg_recipients=params["gpg_recipients"], tied_to_hsm=params["tied_to_hsm"], hsm=params["hsm"],
        signing_certificate=params["signing_certificate"], signing_key=params["signing_key"],
        signing_key_passphrase=params["signing_key_passphrase"])


if __name__ == "__main__":
    main()
