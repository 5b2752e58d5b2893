"""prune_during_drill.py COLLECTIONS DEST STATE_DIR: a scheduled prune that runs while a drill holds the host.

Run as one of the drill's own checks, so it runs in the middle of the drill: the prune (keeping nothing but
today's newest backup) must be refused, naming the drill's lease, the backup being drilled must be pinned, and
every backup must still be there afterwards. Exits 0 when all of that holds, 1 saying what did not.
"""
import glob
import os
import sys

collections, dest, state_dir = sys.argv[1:4]
sys.path.insert(0, collections)
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError  # noqa: E402
from ansible_collections.drkit.backup.plugins.module_utils.operations.prune import prune_backups  # noqa: E402

before = sorted(os.listdir(dest))
pins = glob.glob(os.path.join(dest, ".pins", "*.json"))
try:
    prune_backups(dest, keep_last=1, state_dir=state_dir)
    refusal = None
except DrkitError as exc:
    refusal = str(exc)
after = sorted(os.listdir(dest))
problems = []
if refusal is None or "drkit.backup.drill role" not in refusal:
    problems.append("the prune was not refused by the drill's lease: %s" % refusal)
if len(pins) != 1:
    problems.append("the drilled backup is not pinned: %s" % pins)
if after != before:
    problems.append("backups changed during the drill: %s -> %s" % (before, after))
print("; ".join(problems) or "prune refused during the drill (%s); pinned: %s" % (refusal, os.path.basename(pins[0])))
sys.exit(1 if problems else 0)
