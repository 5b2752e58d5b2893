# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``kanidm`` provider: a Kanidm server's database as kanidmd backs it up, and its configuration (provider.py)."""
