# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``keycloak`` provider: a Keycloak server's database, realm export and configuration (provider.py)."""
