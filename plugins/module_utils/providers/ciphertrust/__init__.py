# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thales CipherTrust Manager: its REST API (client.py) and its backups and backup keys (appliance.py)."""
