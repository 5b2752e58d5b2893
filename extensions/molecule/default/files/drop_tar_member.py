"""drop_tar_member.py TAR SUFFIX: rewrites the tar file TAR without the member whose name ends with SUFFIX.

The drill test loses an entry from a capture before it is sealed: the capture's content summary still counts it.
"""
import os
import sys
import tarfile

path, suffix = sys.argv[1], sys.argv[2]
kept = path + ".new"
dropped = []
with tarfile.open(path) as src, tarfile.open(kept, "w", format=tarfile.PAX_FORMAT) as out:
    for member in src:
        if member.name.endswith(suffix):
            dropped.append(member.name)
            continue
        out.addfile(member, src.extractfile(member) if member.isreg() else None)
if len(dropped) != 1:
    os.unlink(kept)
    sys.exit("expected one member ending with %s, found %s" % (suffix, dropped))
os.replace(kept, path)
print(dropped[0])
