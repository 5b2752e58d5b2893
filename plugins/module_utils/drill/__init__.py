# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disaster-recovery drills (DESIGN decisions 18 and 24-28).

checks.py (the user's own checks on a restored scratch instance: command, ldap_search, sql, http) and
report.py (the drill's three reports: JSON, JUnit XML, HTML). operations/drill.py runs one drill of one backup,
operations/drill_report.py writes the reports of a whole drill; the drkit.backup.drill role ties them together.
"""
