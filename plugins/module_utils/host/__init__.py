# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""State on a managed host: the state directory with its lock and records (state.py), taking the lock for an
operation after what killed runs left (lock.py), a restore staged beside its targets (staging.py), the raw
capture waiting to be sealed (capture.py), and stopping and starting services (services.py). It imports common
and format's names."""
