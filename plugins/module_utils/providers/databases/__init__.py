# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dumpers over a typed connection (DESIGN decision 29), shared by the database providers and by those of the
products that keep their data in a database (Keycloak): capture, restore, content summary, version."""
