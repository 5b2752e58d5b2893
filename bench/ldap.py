# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench (part): the ldap provider against OpenLDAP's own tools, on a real slapd, in one run.

On a generated directory of about --gib GiB of LDIF (people with mixed text and numbers), on the benchmark's
own slapd (tests/servers/slapd.sh), alternating the commands, medians of --reps runs, each measured by
measure.py (wall time, peak RSS of the process and its children):

- backup: drkit's offline backup (encrypted; slapd stopped and started by it, downtime reported) against
  ``slapcat -n 1`` to /dev/null;
- restore: drkit's restore with replace (slapd stopped) against ``slapadd -q`` from the LDIF file on disk into
  an empty database;
- sizes: drkit's stored backup against the LDIF file.

Prints the table and writes bench/ldap.json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPT = os.path.join(ROOT, "tests", "servers", "slapd.sh")
SERVER, PORT = "/var/tmp/drkit-bench-ldap", "55442"
CONFIG, DATA = os.path.join(SERVER, "slapd.d"), os.path.join(SERVER, "data")
SUFFIX = "dc=example,dc=com"


def slapd(action):
    subprocess.run([SCRIPT, action, SERVER] + ([PORT] if action == "start" else []), check=True)


def write_ldif(path, gib) -> int:
    """About ``gib`` GiB of people under ou=people (each about 1 KiB); returns the entries."""
    entries, target = 2, int(gib * 2 ** 30)
    with open(path, "w") as out:
        out.write("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n"
                  "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n" % (SUFFIX, SUFFIX))
        while out.tell() < target:
            n = entries
            out.write("dn: uid=user%d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\n"
                      "sn: Number %d\nmail: user%d@example.com\nemployeeNumber: %d\ndescription: %s\n\n"
                      % (n, SUFFIX, n, n, n, n, n * 37, " ".join("word%d %d" % (n % (k + 7), n * k) for k in range(60))))
            entries += 1
    return entries


def load(path):
    """Into an empty database, slapd stopped (what the native restore is, too)."""
    slapd("stop")
    shutil.rmtree(DATA)
    os.mkdir(DATA, 0o750)
    subprocess.run(["slapadd", "-q", "-F", CONFIG, "-n", "1", "-l", path], check=True)
    subprocess.run(["chown", "-R", "openldap:openldap", DATA], check=True)


def measure(command, shell=False):
    argv = [sys.executable, os.path.join(HERE, "measure.py")] + (["--shell", command] if shell else command)
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out.decode().strip().splitlines()[-1])


def drkit(command, keys, where):
    """One drkit operation in a process of its own (so its peak RSS is its own); prints JSON."""
    from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
    from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
    from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import Keystore
    from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
    store = Keystore(keys)
    options = {"config_dir": CONFIG, "config": False}
    if command == "backup":
        made = create_backup(store, "ldap", options, online=False, dest=where,
                             stop_command="%s stop %s {service}" % (SCRIPT, SERVER),
                             start_command="%s start %s %s {service}" % (SCRIPT, SERVER, PORT))
        return {"path": made["path"], "stored": made["backup"]["storedSize"], "downtime": made["downtime_seconds"]}
    restore_backup(Unlocker(store), where, provider_options=dict(options, replace=True))
    return {}


def bench(gib, reps, work):
    os.makedirs(os.path.dirname(SERVER), exist_ok=True)
    slapd("start")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.environ["PYTHONPATH"] = os.path.join(ROOT, ".build", "collections")
    try:
        ldif = os.path.join(work, "directory.ldif")
        entries = write_ldif(ldif, gib)
        load(ldif)
        keys = os.path.join(work, "keys")
        subprocess.run([sys.executable, "-c", "from ansible_collections.drkit.backup.plugins.module_utils.protection "
                        "import keystore as k; s = k.Keystore(%r); key = k.BackupKey.generate('main', 'system', None);"
                        " s.add(key); s.set_default(key, True)" % keys], check=True)
        me = [sys.executable, os.path.abspath(__file__), "--drkit"]
        runs = {name: [] for name in ("slapcat", "drkit", "slapadd", "drkit_restore")}
        stored = downtime = None
        for _rep in range(reps):
            slapd("start")
            runs["slapcat"].append(measure("slapcat -F %s -n 1 > /dev/null" % CONFIG, shell=True))
            dest = os.path.join(work, "backups")
            shutil.rmtree(dest, ignore_errors=True)
            made = measure(me + ["backup", keys, dest])
            runs["drkit"].append(made)
            stored, downtime = made["stored"], made["downtime"]
            slapd("stop")
            shutil.rmtree(DATA)
            os.mkdir(DATA, 0o750)
            runs["slapadd"].append(measure(["slapadd", "-q", "-F", CONFIG, "-n", "1", "-l", ldif]))
            subprocess.run(["chown", "-R", "openldap:openldap", DATA], check=True)
            runs["drkit_restore"].append(measure(me + ["restore", keys, made["path"]]))
        median = {name: statistics.median(run["seconds"] for run in values) for name, values in runs.items()}
        rss = {name: max(run["rss"] for run in values) for name, values in runs.items()}
        native = os.path.getsize(ldif)
        return {"ldif_bytes": native, "entries": entries, "reps": reps, "seconds": median, "peak_rss": rss,
                "downtime_seconds": downtime, "sizes": {"ldif": native, "drkit_stored": stored},
                "ratios": {"backup_vs_slapcat": median["drkit"] / median["slapcat"],
                           "restore_vs_slapadd": median["drkit_restore"] / median["slapadd"],
                           "size_vs_ldif": stored / native}}
    finally:
        slapd("stop")
        shutil.rmtree(work, ignore_errors=True)


def main():
    if sys.argv[1:2] == ["--drkit"]:
        print(json.dumps(drkit(*sys.argv[2:5])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", default="/var/tmp/drkit-bench-ldap-work")
    args = parser.parse_args()
    result = bench(args.gib, args.reps, args.work)
    with open(os.path.join(HERE, "ldap.json"), "w") as out:
        json.dump(result, out, indent=1, sort_keys=True)
    print("ldap: LDIF %.2f GiB, %d entries, medians of %d; downtime of drkit's backup %.1f s"
          % (result["ldif_bytes"] / 2 ** 30, result["entries"], result["reps"], result["downtime_seconds"]))
    for run, seconds in result["seconds"].items():
        print("  %-15s %8.1f s  peak RSS %6.1f MiB" % (run, seconds, result["peak_rss"][run] / 2 ** 20))
    for ratio, value in result["ratios"].items():
        print("  %-20s %.2f" % (ratio, value))


if __name__ == "__main__":
    main()
