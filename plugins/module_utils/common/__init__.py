# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What knows nothing of backups: the exception family (errors.py), the one process runner (process.py),
file-system helpers (fsutil.py), canonical JSON (canonjson.py), UTC times and durations (timeutil.py), the
worker threads (workers.py), named crash points for the reliability suite (faults.py), and the collection's
release (version.py). It imports nothing else of the engine."""
