# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench (part): the postgresql provider against PostgreSQL's own tools, on a real server, in one run.

A database of about --gib GiB (pgbench's tables plus one of mixed text and numbers), on the benchmark's own
server (tests/servers/postgresql.sh). Alternating the commands, medians of --reps runs, each measured by
measure.py (wall time, peak RSS of the process and its children):

- backup: drkit (postgresql provider, encrypted) against ``pg_dump -Fc`` to /dev/null (the native dump alone,
  its default compression) and ``pg_dump | gzip | gpg --symmetric`` to a file;
- restore: drkit into a new database against ``pg_restore -j2`` from an unencrypted ``-Fc`` file on disk;
- sizes: drkit's stored backup against the ``-Fc`` file.

Prints the table and writes bench/postgresql.json.
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
SERVER = "/var/tmp/drkit-bench-pg"
PORT = "55440"
PASSWORD = "bench-password-not-a-secret"


def psql(sql, database="postgres"):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", SERVER, "-p", PORT, "-U", "postgres",
                    "-d", database, "-f", "-"], input=sql.encode(), check=True)


def measure(command, shell=False):
    argv = [sys.executable, os.path.join(HERE, "measure.py")] + (["--shell", command] if shell else command)
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out.decode().strip().splitlines()[-1])


def make_data(gib):
    """pgbench's tables (numbers and padding) and notes (text of words and numbers), about ``gib`` GiB."""
    psql("DROP DATABASE IF EXISTS bench WITH (FORCE); CREATE DATABASE bench;")
    scale = max(1, int(gib * 35))
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), "-h", SERVER, "-p", PORT, "-U", "postgres", "bench"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    psql("CREATE TABLE notes (id bigint PRIMARY KEY, author text, body text, amount numeric, at timestamptz); "
         "INSERT INTO notes SELECT g, 'user' || (g %% 5000), md5(g::text) || ' ' || md5((g * 7)::text) || ' note "
         "number ' || g, g * 0.37, now() - g * interval '1 second' FROM generate_series(1, %d) g; VACUUM ANALYZE;"
         % int(gib * 4000000), "bench")


def database_size():
    out = subprocess.run(["psql", "-X", "-A", "-t", "-h", SERVER, "-p", PORT, "-U", "postgres", "-c",
                          "SELECT pg_database_size('bench')"], stdout=subprocess.PIPE, check=True).stdout
    return int(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", default="/var/tmp/drkit-bench-pg-work")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(SERVER), exist_ok=True)
    subprocess.run([os.path.join(ROOT, "tests", "servers", "postgresql.sh"), "start", SERVER, PORT], check=True)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    env = dict(os.environ, PGHOST=SERVER, PGPORT=PORT, PGUSER="postgres",
               PYTHONPATH=os.path.join(ROOT, ".build", "collections"))
    os.environ.update(env)
    try:
        make_data(args.gib)
        keys = os.path.join(args.work, "keys")
        subprocess.run([sys.executable, "-c", "from ansible_collections.drkit.backup.plugins.module_utils.protection "
                        "import keystore as k; s = k.Keystore(%r); key = k.BackupKey.generate('main', 'system', None);"
                        " s.add(key); s.set_default(key, True)" % keys], check=True)
        with open(os.path.join(args.work, "pass"), "w") as out:
            out.write(PASSWORD)
        fc = os.path.join(args.work, "bench.dump")
        subprocess.run("pg_dump -Fc -d bench > %s" % fc, shell=True, check=True)
        bench = [sys.executable, os.path.join(HERE, "drkit_bench.py")]
        runs = {name: [] for name in ("pg_dump", "drkit", "pipeline", "pg_restore", "drkit_restore")}
        stored = None
        for rep in range(args.reps):
            runs["pg_dump"].append(measure("pg_dump -Fc -d bench > /dev/null", shell=True))
            dest = os.path.join(args.work, "backups")
            shutil.rmtree(dest, ignore_errors=True)
            made = measure(bench + ["pg-create", keys, dest, SERVER, PORT, "bench"])
            runs["drkit"].append(made)
            stored = made["stored"]
            runs["pipeline"].append(measure(
                "pg_dump -d bench | gzip | gpg --batch --yes --symmetric --passphrase-file %s -o %s"
                % (os.path.join(args.work, "pass"), os.path.join(args.work, "bench.sql.gz.gpg")), shell=True))
            psql("DROP DATABASE IF EXISTS native_copy WITH (FORCE); CREATE DATABASE native_copy;")
            runs["pg_restore"].append(measure(["pg_restore", "-j2", "-d", "native_copy", fc]))
            psql("DROP DATABASE IF EXISTS drkit_copy WITH (FORCE);")
            runs["drkit_restore"].append(measure(bench + ["pg-restore", keys, made["path"], SERVER, PORT, "bench",
                                                          "drkit_copy"]))
        median = {name: statistics.median(run["seconds"] for run in values) for name, values in runs.items()}
        rss = {name: max(run["rss"] for run in values) for name, values in runs.items()}
        result = {"database_bytes": database_size(), "reps": args.reps, "seconds": median, "peak_rss": rss,
                  "sizes": {"pg_dump_Fc": os.path.getsize(fc), "drkit_stored": stored},
                  "ratios": {"backup_vs_pg_dump": median["drkit"] / median["pg_dump"],
                             "pipeline_vs_backup": median["pipeline"] / median["drkit"],
                             "restore_vs_pg_restore_j2": median["drkit_restore"] / median["pg_restore"],
                             "size_vs_pg_dump_Fc": stored / os.path.getsize(fc)}}
    finally:
        psql("DROP DATABASE IF EXISTS native_copy WITH (FORCE); DROP DATABASE IF EXISTS drkit_copy WITH (FORCE);")
        subprocess.run([os.path.join(ROOT, "tests", "servers", "postgresql.sh"), "stop", SERVER], check=True)
    with open(os.path.join(HERE, "postgresql.json"), "w") as out:
        json.dump(result, out, indent=1, sort_keys=True)
    print("database %.2f GiB, medians of %d" % (result["database_bytes"] / 2 ** 30, args.reps))
    for name in runs:
        print("%-14s %8.1f s  peak RSS %6.1f MiB" % (name, median[name], rss[name] / 2 ** 20))
    for name, value in result["ratios"].items():
        print("%-26s %.2f" % (name, value))


if __name__ == "__main__":
    main()
