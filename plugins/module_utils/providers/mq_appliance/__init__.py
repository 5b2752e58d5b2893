# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IBM MQ Appliance: its REST management interface (client.py), secure backups (manifest.py) and provider."""
