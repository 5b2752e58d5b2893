# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Directory servers through their own tools (export, import, search, count, version), shared by the ``ldap``
provider and by those of the products that keep their data in a directory."""
