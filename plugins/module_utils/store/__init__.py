# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backup root holds: the catalog of finished, partial and single-file backups (catalog.py) and which
of them a retention policy keeps (retention.py). It imports common and format."""
