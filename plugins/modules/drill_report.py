#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_report
short_description: Write a disaster-recovery drill's reports, in JSON, JUnit XML and HTML
version_added: 0.1.0
description:
  - Turns the drill of each backup group (a service) into three files in O(dest) - C(<basename>.json), one
    document with a stable schema (RV(report)); C(<basename>.junit.xml), one test suite per service and one test
    case per check plus C(rpo) and C(rto), valid against the Apache Ant JUnit schema; and C(<basename>.html), a
    self-contained page (inline CSS and SVG, nothing fetched) with a table of the services, failed ones first and
    highlighted, the failures in plain words and a chart of RPO and RTO against their targets.
  - A service passes exactly when it could be drilled, at least one check ran and every check passed, its backup
    is no older than its RPO (the backup's age when the drill started, which must be known) and it was healthy
    within its RTO (the time from the start of the restore until healthy). The task itself does not fail when a
    service fails; RV(passed) and RV(failures) say it (the C(drkit.backup.drill) role fails the play).
  - Runs on the controller (C(delegate_to=localhost)). A file whose content is unchanged is not rewritten; the
    same drill written again changes nothing (its reports keep the time they were first generated).
options:
  services:
    description:
      - One entry per backup group, each with C(group), C(host), C(rpo) and C(rto) (durations such as V(26h) or
        seconds), and either C(drill) (the RV(drkit.backup.backup_drill#module:drill) result of its drill) or
        C(error) (why it could not be drilled).
    type: list
    elements: dict
    required: true
  dest:
    description: The directory that receives the reports (made when missing).
    type: path
    required: true
  basename:
    description: The reports' file name, without extension.
    type: str
    default: drill
  title:
    description: The reports' title.
    type: str
    default: Disaster-recovery drill
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - drkit.backup.common.attributes
attributes:
  check_mode:
    support: full
    details: Check mode works out the reports and whether a file would change, and writes nothing.
  diff_mode:
    support: none
author:
  - drkit.backup maintainers (@drkit)
seealso:
  - module: drkit.backup.backup_drill
"""

EXAMPLES = r"""
- name: Write the drill's reports on the controller
  drkit.backup.drill_report:
    services:
      - group: ldap
        host: ldap2
        rpo: 26h
        rto: 30m
        drill: "{{ ldap_drill.drill }}"
    dest: /srv/drills/2026-12-03
  delegate_to: localhost
  register: drill_report
"""

RETURN = r"""
paths:
  description: The three reports, by kind.
  returned: always
  type: dict
  sample: {"json": /srv/drills/drill.json, "junit": /srv/drills/drill.junit.xml, "html": /srv/drills/drill.html}
passed:
  description: Whether every service passed.
  returned: always
  type: bool
failures:
  description: One sentence per failure, naming the service, its host, the backup and the check (or RPO, RTO).
  returned: always
  type: list
  elements: str
  sample: ["cluster_b (idm4, backup files-full-2026-12-03-02-00-00): check content failed: the restored instance does
           not hold what the backup says"]
report:
  description:
    - The JSON report (C(schema_version) 1, C(kind) V(drkit.backup.drill)) - C(title), C(generated_at), C(passed),
      C(counts) (C(services), C(passed), C(failed)), C(failures), and C(services), failed first, each with C(group),
      C(host), C(provider), C(backup), C(created), C(size), C(started_at), C(passed), C(rpo) (C(target_seconds),
      C(age_seconds), C(passed)), C(rto) (C(target_seconds), C(restore_seconds), C(healthy_seconds), C(passed)),
      C(checks) (each C(name), C(kind), C(passed), C(seconds), C(message)), C(error) and C(failures).
  returned: always
  type: dict
stats:
  description:
    - What the C(drkit.backup.drill) role publishes with C(ansible.builtin.set_stats) as C(drkit_stats) -
      C(schema_version) and C(drills), by group, each with C(passed), C(host), C(backup), C(age_seconds),
      C(healthy_seconds) and C(failures).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.drkit.backup.plugins.module_utils import _module
from ansible_collections.drkit.backup.plugins.module_utils.operations import drill_report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="list", elements="dict", required=True),
            dest=dict(type="path", required=True),
            basename=dict(type="str", default="drill"),
            title=dict(type="str", default="Disaster-recovery drill"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    _module.run(module, drill_report.write_reports, libraries=False, services=params["services"],
                dest=params["dest"], basename=params["basename"], title=params["title"],
                check_mode=module.check_mode)


if __name__ == "__main__":
    main()
