# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``files`` provider: paths given by the user, one tar part per path (provider.py), and its options
(options.py). It imports only the engine's common and host packages and the standard library."""
