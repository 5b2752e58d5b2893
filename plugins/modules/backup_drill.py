#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_drill
short_description: Prove that one backup restores, in a scratch target that is not the live service
version_added: 0.1.0
description:
  - Verifies the backup in full (every part decrypted and authenticated; a failure is recorded beside the backup as
    M(drkit.backup.backup_verify) records it), restores it into O(scratch_dir) through its provider's scratch options
    (for V(files), every path under C(<scratch_dir>/root) and no service stopped), waits until the restored instance is
    healthy, runs the provider's own check (for V(files), the backup read again against the restored files, which
    must differ in nothing), the content check (what the restored instance holds, counted through the provider,
    against the content summary the backup recorded at capture) and the user's O(checks), then removes the scratch
    target whatever happened.
  - A scratch directory that overlaps the live data (inside one of the backup's paths, or holding one) is refused
    before anything is written, and so is an existing directory that is not a drill's own.
  - A failed step does not fail the task; it is recorded in RV(drill) (the M(drkit.backup.drill_report) module and the
    C(drkit.backup.drill) role turn it into reports and a failed play). Bad input (no key for the backup, a malformed
    check, a provider that cannot be drilled) fails the task.
  - This module does not pin the backup or take a lease; the C(drkit.backup.drill) role does both around it (pass
    O(lease_id)).
options:
  backup:
    description: The backup to drill (a backup directory or a single-file backup).
    type: path
    required: true
  scratch_dir:
    description:
      - The scratch target, created by the drill (mode 0700, with a marker file) and removed when it ends. It must not
        exist, or be empty, or be left by a drill that was killed.
    type: path
    required: true
  provider_options:
    description:
      - Restore options of the provider for the scratch restore; the scratch options (the scratch target) override
        them.
    type: dict
    default: {}
  provider_secrets:
    description: Secrets of the provider (see M(drkit.backup.restore)), never logged or returned.
    type: dict
    default: {}
  checks:
    description:
      - The user's checks of the restored instance, each a dict with a C(name) and one of C(command)
        (C(argv), C(stdout_contains)), C(ldap_search) (C(uri), C(base), C(filter), C(scope), C(bind_dn),
        C(password_secret), C(min_entries)), C(sql) (C(engine) V(postgresql) or V(mysql), C(query), C(expect),
        C(host), C(port), C(socket) (MySQL), C(user), C(database), C(password_secret)) or C(http) (C(url), C(status), C(contains),
        C(ca_file), C(validate_certs)); each also takes C(timeout) (seconds, default 60).
      - C({root}) in a command's words, a URL, a query, a host or a socket is the scratch target's root (a database
        drill's server listens on C({root}/postgresql) or C({root}/mysql/mysqld.sock), an OpenLDAP drill's slapd
        on C(ldapi://{root}%2Fldap%2Fldapi), where C({root}) is percent-encoded).
      - C(password_secret) names an entry of O(check_secrets); the password reaches the tool through a root-only file
        or an environment variable, never its command line, and is masked in every message.
    type: list
    elements: dict
    default: []
  check_secrets:
    description: The secrets the checks name (C(password_secret)), never logged or returned.
    type: dict
    default: {}
  allow_no_summary:
    description:
      - Pass the content check of a backup that holds no content summary (made by a release or provider that records
        none). By default such a backup fails it, since nothing says what the restore must hold.
    type: bool
    default: false
  health_timeout:
    description: How long to wait, in seconds, for the restored instance to become healthy.
    type: int
    default: 300
  health_interval:
    description: Seconds between two health probes.
    type: float
    default: 2.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
  - drkit.backup.common
  - drkit.backup.common.keystore
  - drkit.backup.common.gpg_home
  - drkit.backup.common.unlock
  - drkit.backup.common.hsm
  - drkit.backup.common.trust
  - drkit.backup.common.state_dir
  - drkit.backup.common.lease
attributes:
  check_mode:
    support: full
    details: Check mode refuses what the real run would refuse, then returns the plan in RV(plan); nothing is written.
  diff_mode:
    support: none
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.drill_report
  - module: drkit.backup.backup_pin
  - module: drkit.backup.backup_verify
"""

EXAMPLES = r"""
- name: Drill the newest backup of the directory service
  drkit.backup.backup_drill:
    backup: /var/lib/drkit/backups/files-full-2026-12-03-02-00-00
    scratch_dir: /var/tmp/drkit-drill/ldap
    checks:
      - name: the database file is there
        command:
          argv: [test, -s, "{root}/var/lib/ldap/data.mdb"]
    lease_id: "{{ drill_lease.lease.id }}"
  register: drill

- name: Show what failed
  ansible.builtin.debug:
    msg: "{{ drill.drill.checks | rejectattr('passed') | map(attribute='message') | list }}"
"""

RETURN = r"""
drill:
  description:
    - What the drill did and found. C(checks) lists each step in order (C(verify), C(restore), C(health), the
      provider's own check, C(content), then the user's checks), each with C(name), C(kind), C(passed), C(seconds)
      and C(message); a step that failed ends the steps that need it.
    - C(restore_seconds) is the time the restore took; C(healthy_seconds) the time from the start of the restore until
      the restored instance was healthy (null when it never was), that is the RTO measured.
  returned: success, not in check mode
  type: dict
  sample:
    backup: files-full-2026-12-03-02-00-00
    path: /var/lib/drkit/backups/files-full-2026-12-03-02-00-00
    provider: files
    created: "2026-12-03T02:00:00.000000Z"
    size: 1048576
    scratch: /var/tmp/drkit-drill/ldap
    started_at: "2026-12-03T09:00:00.000000Z"
    finished_at: "2026-12-03T09:00:04.000000Z"
    restore_seconds: 1.2
    healthy_seconds: 1.3
    checks:
      - {name: verify, kind: verify, passed: true, seconds: 0.4, message: every part decrypted and authenticated}
    passed: true
    torn_down: true
plan:
  description: In check mode, what the drill would do.
  returned: check mode
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import drill


def main():
    argument_spec = dict(
        backup=dict(type="path", required=True),
        scratch_dir=dict(type="path", required=True),
        provider_options=dict(type="dict", default={}),
        provider_secrets=dict(type="dict", default={}, no_log=True),
        checks=dict(type="list", elements="dict", default=[]),
        check_secrets=dict(type="dict", default={}, no_log=True),
        allow_no_summary=dict(type="bool", default=False),
        health_timeout=dict(type="int", default=300),
        health_interval=dict(type="float", default=2.0),
    )
    argument_spec.update(_module.unlock_argument_spec())
    argument_spec.update(_module.hsm_argument_spec())
    argument_spec.update(_module.trust_argument_spec())
    argument_spec.update(_module.state_dir_argument_spec())
    argument_spec.update(_module.lease_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    _module.run(module, drill.drill_backup, unlocker=_module.unlocker(params), backup=params["backup"],
                scratch_dir=params["scratch_dir"], checks=params["checks"], check_secrets=params["check_secrets"],
                provider_options=params["provider_options"], provider_secrets=params["provider_secrets"],
                allow_no_summary=params["allow_no_summary"], health_timeout=params["health_timeout"],
                health_interval=params["health_interval"], state_dir=params["state_dir"], lease_id=params["lease_id"],
                trusted_certificates=params["trusted_certificates"], trusted_crls=params["trusted_crls"],
                signature_expired=params["signature_expired"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
