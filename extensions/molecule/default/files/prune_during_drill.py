"""prune_during_drill.py COLLECTIONS DEST STATE_DIR: a scheduled prune that runs while a drill holds the host.

Run as one of the drill's own checks, so it runs in the middle of the drill. The prune keeps only the newest
backup: the backup being drilled must be pinned, and still there afterwards; a prune with anything to remove must
be refused, naming the drill's lease, and one with nothing to remove removes nothing. Exits 0 when that holds, 1
saying what did not. (That prune keeps a pinned backup no rule keeps is the unit tests' part: test_pin.py.)
"""
import glob
import os
import sys

collections, dest, state_dir = sys.argv[1:4]
sys.path.insert(0, collections)
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError  # noqa: E402
from ansible_collections.drkit.backup.plugins.module_utils.operations.prune import prune_backups  # noqa: E402

pins = glob.glob(os.path.join(dest, ".pins", "*.json"))
if len(pins) != 1:
    sys.exit("the drilled backup is not pinned: %s" % pins)
drilled = os.path.basename(pins[0]).split(".")[0]
try:
    result = prune_backups(dest, keep_last=1, state_dir=state_dir)
    outcome, held = "the prune ran and removed %s" % ([row["name"] for row in result["removed"]] or "nothing"), \
        not result["removed"]
except DrkitError as exc:
    outcome, held = "the prune was refused: %s" % exc, "drkit.backup.drill role" in str(exc)
there = os.path.isdir(os.path.join(dest, drilled))
print("%s: %s; %s" % (drilled, outcome, "still there" if there else "GONE"))
sys.exit(0 if held and there else 1)
