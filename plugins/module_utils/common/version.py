# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's release, recorded in every backup (kept equal to galaxy.yml by a unit test)."""

COLLECTION_VERSION = "0.1.0"
TOOL = "drkit.backup %s" % COLLECTION_VERSION
