# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``mariadb_physical`` provider: physical hot backups of a MariaDB server (mariadb-backup, mbstream)."""
