# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Requirements shared by the drkit.backup modules, and the options several of them take."""

    DOCUMENTATION = r"""
options: {}
requirements:
  - Python 3.9 or later on the managed host.
  - cryptography (50.0 or later recommended; older releases hold the GIL during AES-GCM, so encryption
    then uses one core).
  - zstandard.
notes:
  - Install the Python requirements on a host with the C(requirements-host.txt) file of the collection, or
    with the playbook C(drkit.backup.prepare_hosts).
"""

    KEYSTORE = r"""
options:
  keystore:
    description:
      - Directory holding the backup keys on the managed host. It and the files in it are readable by their
        owner only.
    type: path
    default: /var/lib/drkit/keys
"""

    SERVICES = r"""
options:
  stop_command:
    description:
      - The command that stops a service, C({service}) standing for its name. It runs without a shell.
      - Services are stopped in the order given and started again in reverse, whatever happens in between.
    type: str
    default: systemctl stop {service}
  start_command:
    description: The command that starts a service, C({service}) standing for its name.
    type: str
    default: systemctl start {service}
"""

    STATE_DIR = r"""
options:
  state_dir:
    description:
      - The host's state directory (root-only), which holds the lock that lets one backup or restore run at a
        time on the host, the record of the running operation, and the services a run left stopped.
      - A second operation fails at once with a message naming the running one; a record left by a process
        that was killed is detected (its lock is free), reported as a warning and cleared.
      - Several hosts that share one machine (test fleets, containers) each need their own.
    type: path
    default: /var/lib/drkit
    version_added: 0.1.0
"""
