# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs one command and prints JSON: its wall time and the peak RSS of it and its descendants.

    measure.py [--shell] COMMAND...

With --shell the command is one bash command line (a pipeline). What the command prints as JSON on its
last line is merged into the result.
"""

import json
import resource
import subprocess
import sys
import time


def main(argv):
    shell = argv[:1] == ["--shell"]
    command = argv[1] if shell else argv
    start = time.monotonic()
    proc = subprocess.run(command, shell=shell, executable="/bin/bash" if shell else None,
                          stdout=subprocess.PIPE, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write("exit status %d\n" % proc.returncode)
        return proc.returncode
    # The one child of this process: the kernel keeps the largest RSS among it and its descendants.
    result = {"seconds": seconds, "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    if lines:
        try:
            result.update(json.loads(lines[-1]))
        except ValueError:
            pass
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
