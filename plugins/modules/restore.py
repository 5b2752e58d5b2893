#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore
short_description: Verify a backup completely, then restore it
version_added: 0.1.0
description:
  - Restores a backup (a backup directory or a single-file backup) through the provider that took it.
  - Before anything is touched, the whole backup is verified (header authenticated with its key, every part
    decrypted and checked) and the provider checks that it fits this server; a damaged backup, a missing key
    (backup key, GnuPG secret key, or the HSM key of a backup tied to an HSM), a signature that does not come
    from O(trusted_certificates) (or whose signer O(trusted_crls) revoke), or a backup of another product is
    refused with nothing changed.
  - The same pass works out what the restore would change; check mode stops there and reports the plan, and
    a restore that would change nothing reports no change (and stops no service).
  - For V(files), files are written under C(target_root), only those that differ are replaced (through a
    temporary file and a rename), and nothing is deleted (unless C(remove_extra)).
  - Before anything stops, the backup's release rule (C(restorableTo) in its header, written from its provider's
    rule) is checked against the product's release on this host, naming both. V(files) has no rule. V(freeipa)
    allows the same X.Y series (another release within it is a warning) and refuses another series unless
    O(force_release). V(postgresql) allows the same major release or a newer one, V(mysql) the same major.minor
    release or a newer one of the same server (MariaDB or MySQL), V(mariadb_physical) the same major.minor
    release only, V(keycloak) the same Keycloak release or a newer one (which migrates the schema when it starts)
    and its database's rule as well, V(ldap) the same X.Y series when it restores
    C(cn=config) (C(restore_config)), any release for the entries alone. A backup made before the rule was recorded
    is not constrained.
  - For V(freeipa), the whole backup is verified while it is staged back into ipa-restore's layout (a private
    directory under C(/var/lib/ipa/backup), never C(/tmp), which IdM's directory server cannot read), then the
    real C(ipa-restore) restores it, stopping and starting the IdM services itself. Before anything is staged or
    stopped, the task refuses what ipa-restore would refuse (a backup of another host, a data restore into a
    server without IdM, the DNS or AD-trust package missing for a role in the backup, no Directory Manager
    password); a different IPA version is a warning. The Directory Manager password goes to ipa-restore's
    standard input, never its command line. Afterwards the IdM services are started if they are down, a server
    that was hidden is hidden again, and RV(reinitialize) says how to re-initialise the other servers. A
    V(freeipa) restore always reports a change.
  - For V(postgresql), a database of the backup that is on the server already is refused before anything is
    touched, unless C(replace); the verified dumps are staged in a root-only directory, the roles restored first,
    and each database restored with C(pg_restore) under a temporary name that takes the old one's place only
    once complete. A backup from a newer PostgreSQL major release is refused, naming both.
  - For V(mysql), the same refusal; the verified dumps are staged in a root-only directory, the accounts the
    server lacks created first, and each database created empty and loaded with the C(mariadb) client. With
    C(replace), the database there is dumped first and loaded again if the restore fails.
  - For V(ldap), by default each database is loaded with C(slapadd) into a stopped slapd (refused while it runs,
    and over a database with entries unless C(replace)), in a new directory that takes the old one's place only
    once complete; C(restore_config) restores C(cn=config) first, for a fresh host. C(restore_with=ldapadd) adds
    the entries to a running slapd instead, parents first, into an empty suffix only.
  - For V(keycloak), the database vendor, the release and a database reachable with the configuration's account
    are checked before anything stops; then Keycloak's service is stopped (O(stop_command), O(start_command)), its
    database replaced through the V(postgresql) or V(mysql) provider, the configuration files that differ put
    back, C(kc.sh build) run when keycloak.conf changed, the service started and awaited on C(/health/ready); the
    realms in C(import_realms) are then imported with C(kc.sh import), Keycloak stopped again, each from a
    directory of its own files, and the users of each realm are checked against the backup's counts.
options:
  backup:
    description: The backup directory, or single-file backup, to restore.
    type: path
    required: true
  provider:
    description:
      - The provider to restore with. Default is the one recorded in the backup; another one is refused.
    type: str
  provider_options:
    description:
      - Options of the provider, checked against its declaration; docs/providers/<provider>.md in the collection
        lists them with their types, defaults and the verbs that take them (for V(files), C(target_root) and
        C(services); for V(freeipa), C(root), C(data_only), C(rehide), C(dm_password_file) and more).
      - An unknown option, one a restore does not take, or one of the wrong type is refused, naming the provider
        and the option. An option that only describes the backup (as its header records it) is ignored.
    type: dict
    default: {}
  provider_secrets:
    description:
      - Secrets of the provider (those its documentation marks as secrets), never logged, returned or put on a
        command line. For V(freeipa), C(dm_password), the Directory Manager password (needed on a configured IdM
        server); for V(postgresql), V(mysql) and V(mariadb_physical), C(password), the role's or the account's; for V(keycloak),
        C(db_password) when keycloak.conf and the service's environment do not hold it; for V(ldap), the
        C(password) of C(bind_dn).
    type: dict
    default: {}
  force_release:
    description:
      - Restore even though the backup's release rule refuses the product's release on this host, with a warning.
      - Only for a provider whose product has such an override (V(freeipa), whose ipa-restore goes on after its
        own warning); for the others it is refused.
    type: bool
    default: false
  parts:
    description: The parts to restore (default all). A name the backup does not have is refused.
    type: list
    elements: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.unlock
  - drkit.backup.common.hsm
  - drkit.backup.common.trust
  - drkit.backup.common.services
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details: Check mode verifies the backup and returns the files that would change.
  diff_mode:
    support: full
    details: The diff lists the files that change (or would).
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
  - module: drkit.backup.backup_info
  - module: drkit.backup.backup_key_upload
"""

EXAMPLES = r"""
- name: See what a restore would change
  drkit.backup.restore:
    backup: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
  check_mode: true
  register: plan

- name: Restore a GnuPG-encrypted backup with the secret key's passphrase
  drkit.backup.restore:
    backup: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    gpg_home: /root/.gnupg-backup
    gpg_passphrase: "{{ vault_backup_gpg_passphrase }}"

- name: Restore a backup tied to the HSM (on a host with the same HSM key)
  drkit.backup.restore:
    backup: /var/lib/drkit/backups/files-full-2026-11-23-02-00-00
    hsm:
      module: /usr/lib/libCryptoki2_64.so
      pin: "{{ vault_hsm_pin }}"

- name: Restore an IdM server from its own backup (it is hidden again afterwards if it was hidden)
  drkit.backup.restore:
    backup: /var/lib/drkit/backups/freeipa-full-2026-11-23-02-00-00
    provider_secrets:
      dm_password: "{{ vault_dm_password }}"
  register: idm_restore

- name: Restore one part under another directory to compare by hand
  drkit.backup.restore:
    backup: /srv/transfer/files-full-2026-11-23-02-00-00.drkit
    parts: [etc_myapp.tar]
    provider_options:
      target_root: /root/restored
"""

RETURN = r"""
restored_parts:
  description: For each part restored (or planned), how many paths changed (or would) and the first 50.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "etc_myapp.tar", "changed": 1, "changes": ["/etc/myapp/app.conf"]}]
backup:
  description: The restored backup's header manifest (as M(drkit.backup.backup_info) returns it).
  returned: success
  type: dict
actions:
  description: For providers that restore with the product's own tool (V(freeipa), V(postgresql), V(mysql),
    V(mariadb_physical), V(ldap), V(keycloak)), what was done (or would be).
  returned: for V(freeipa), V(postgresql), V(mysql), V(mariadb_physical), V(ldap) and V(keycloak)
  type: list
  elements: str
  sample: ["ipa-restore restored ipa-full-2026-11-23-02-00-01 (FULL restore) on idm2.example.com; the IdM services
           are running", "server idm2.example.com hidden again (ipa-restore had enabled it)"]
native_restore:
  description: For V(freeipa), the native backup restored, the restore type, the host and ipa-restore's last lines.
  returned: when a V(freeipa) restore ran
  type: dict
was_hidden:
  description: For V(freeipa), whether the server was a hidden replica before the restore.
  returned: when a V(freeipa) restore ran
  type: bool
rehidden:
  description: For V(freeipa), whether the server was hidden again after ipa-restore enabled it.
  returned: when a V(freeipa) restore ran
  type: bool
reinitialize:
  description: For V(freeipa), how the other IdM servers must now be re-initialised from the restored one.
  returned: when a V(freeipa) restore ran
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import restore


def main():
    argument_spec = dict(
        backup=dict(type="path", required=True),
        provider=dict(type="str"),
        provider_options=dict(type="dict", default={}),
        parts=dict(type="list", elements="str"),
        provider_secrets=dict(type="dict", default={}, no_log=True),
        force_release=dict(type="bool", default=False),
    )
    argument_spec.update(_module.unlock_argument_spec())
    argument_spec.update(_module.hsm_argument_spec())
    argument_spec.update(_module.trust_argument_spec())
    argument_spec.update(_module.services_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, restore.restore_backup, unlocker=_module.unlocker(params), backup=params["backup"],
                provider=params["provider"], provider_options=params["provider_options"], parts=params["parts"],
                stop_command=params["stop_command"], start_command=params["start_command"],
                state_dir=params["state_dir"], lease_id=params["lease_id"], check_mode=module.check_mode,
                trusted_certificates=params["trusted_certificates"], trusted_crls=params["trusted_crls"],
                signature_expired=params["signature_expired"], provider_secrets=params["provider_secrets"],
                force_release=params["force_release"])


if __name__ == "__main__":
    main()
