#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kanidm_online_backup
short_description: Set kanidmd's own scheduled online backups (the [online_backup] table of server.toml)
version_added: 0.1.0
description:
  - Makes the C([online_backup]) table of kanidmd's C(server.toml) hold exactly the values given, or removes it,
    leaving every other line of the file as it was.
  - The new file is checked with C(kanidmd configtest) before it takes the old one's place; a refused file leaves
    the old one untouched and fails the task with kanidmd's reason.
  - kanidmd reads the table when it starts, so restart it (a handler) when the task reports a change.
  - The files kanidmd writes there (C(backup-<time>.json.gz)) are what an online backup of the C(kanidm)
    provider of M(drkit.backup.backup) adopts.
options:
  config:
    description: kanidmd's C(server.toml).
    type: path
    default: /etc/kanidm/server.toml
  state:
    description: V(present) writes the table; V(absent) removes it (kanidmd then writes no online backups).
    type: str
    choices: [present, absent]
    default: present
  path:
    description: Where kanidmd writes its online backups (its default, when left out, is the directory of
      C(db_path)).
    type: path
  schedule:
    description:
      - When kanidmd writes one, in UTC. A cron expression (five fields, or seven with seconds and year) or
        V(@hourly), V(@daily), V(@weekly). Required with O(state=present).
    type: str
  versions:
    description: How many of its online backups kanidmd keeps (it removes older ones of its own naming only).
    type: int
    default: 7
  compression:
    description: V(gzip) (kanidmd's default) or V(none).
    type: str
    choices: [gzip, none]
    default: gzip
  enabled:
    description: Whether kanidmd writes them.
    type: bool
    default: true
  kanidmd:
    description: The kanidmd program that checks the new file (default the one on PATH).
    type: path
    default: kanidmd
  validate:
    description: Check the new file with C(kanidmd configtest) before it replaces the old one.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reports whether the file would change and writes nothing.
  diff_mode:
    support: full
    details: The diff is the whole server.toml before and after.
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup
"""

EXAMPLES = r"""
- name: Have kanidmd write an online backup every night at 22:00 UTC, keeping a week of them
  drkit.backup.kanidm_online_backup:
    config: /etc/kanidm/server.toml
    path: /var/lib/private/kanidm/backups
    schedule: "00 22 * * *"
    versions: 7
  notify: Restart kanidmd

- name: Adopt the newest of them into an encrypted drkit backup (nothing stopped)
  drkit.backup.backup:
    provider: kanidm
    online: true
    dest: /var/backups/drkit
    provider_options:
      config: /etc/kanidm/server.toml
"""

RETURN = r"""
config:
  description: The server.toml.
  returned: success
  type: str
  sample: /etc/kanidm/server.toml
online_backup:
  description: What the table holds now (null once removed).
  returned: success
  type: dict
  sample: {path: /var/lib/private/kanidm/backups, schedule: "00 22 * * *", versions: 7, compression: gzip,
           enabled: true}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import kanidm


def main():
    module = AnsibleModule(argument_spec=dict(
        config=dict(type="path", default="/etc/kanidm/server.toml"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        path=dict(type="path"),
        schedule=dict(type="str"),
        versions=dict(type="int", default=7),
        compression=dict(type="str", choices=["gzip", "none"], default="gzip"),
        enabled=dict(type="bool", default=True),
        kanidmd=dict(type="path", default="kanidmd"),
        validate=dict(type="bool", default=True),
    ), required_if=[("state", "present", ["schedule"])], supports_check_mode=True)
    params = module.params
    _module.run(module, kanidm.online_backup, libraries=False, config_path=params["config"], state=params["state"],
                path=params["path"], schedule=params["schedule"], versions=params["versions"],
                compression=params["compression"], enabled=params["enabled"], kanidmd=params["kanidmd"],
                validate=params["validate"], check_mode=module.check_mode)


if __name__ == "__main__":
    main()
