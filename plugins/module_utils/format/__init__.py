# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup format: names in a backup root (names.py), the header (header.py), the part codec (codec.py),
writing a backup (writer.py), reading one from a directory or a single file (sources.py), verifying it
(verify.py), and making or unmaking the single-file form (single_file.py). It imports common and the
cryptographic primitives of protection (crypto.py, signing.py)."""
