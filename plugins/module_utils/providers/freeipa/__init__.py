# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``freeipa`` provider: FreeIPA / Red Hat IdM through ipa-backup and ipa-restore (provider.py), its options
(options.py), IdM's command-line tools (cli.py), ipa-backup's own output (native.py) and the IdM topology:
hidden replicas, the server to back up and the re-initialisation order (topology.py)."""
