# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench (part): the database providers against the servers' own tools, on real servers, in one run.

For PostgreSQL (about --pg-gib GiB: pgbench's tables plus one of mixed text and numbers) and MariaDB (about
--mariadb-gib GiB, the same mix), each on the benchmark's own server (tests/servers/), alternating the
commands, medians of --reps runs, each measured by measure.py (wall time, peak RSS of the process and children):

- backup: drkit (encrypted) against the native dump alone to /dev/null (``pg_dump -Fc``, its default
  compression; ``mariadb-dump --single-transaction``) and against native dump | gzip | gpg --symmetric to a file;
- restore: drkit into a new database against the native restore from an unencrypted file on disk
  (``pg_restore -j2`` from the -Fc file; ``mariadb`` from the SQL file);
- sizes: drkit's stored backup against the native file.

Prints the tables and writes bench/databases.json.
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
PASSWORD = "bench-password-not-a-secret"


class PostgreSQL:
    name, provider = "postgresql", "postgresql"
    server, port = "/var/tmp/drkit-bench-pg", "55440"
    script = "postgresql.sh"

    def sql(self, sql, database="postgres"):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.server, "-p", self.port, "-U",
                        "postgres", "-d", database, "-f", "-"], input=sql.encode(), check=True)

    def connection(self):
        return {"host": self.server, "port": int(self.port), "user": "postgres"}

    def make_data(self, gib):
        """pgbench's tables (numbers and padding) and notes (text of words and numbers)."""
        self.sql("DROP DATABASE IF EXISTS bench WITH (FORCE); CREATE DATABASE bench;")
        subprocess.run(["pgbench", "-i", "-q", "-s", str(max(1, int(gib * 35))), "-h", self.server, "-p", self.port,
                        "-U", "postgres", "bench"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.sql("CREATE TABLE notes (id bigint PRIMARY KEY, author text, body text, amount numeric, at timestamptz);"
                 " INSERT INTO notes SELECT g, 'user' || (g %% 5000), md5(g::text) || ' ' || md5((g * 7)::text) || "
                 "' note number ' || g, g * 0.37, now() - g * interval '1 second' FROM generate_series(1, %d) g; "
                 "VACUUM ANALYZE;" % int(gib * 4000000), "bench")

    def size(self):
        out = subprocess.run(["psql", "-X", "-A", "-t", "-h", self.server, "-p", self.port, "-U", "postgres", "-c",
                              "SELECT pg_database_size('bench')"], stdout=subprocess.PIPE, check=True).stdout
        return int(out)

    def env(self):
        return {"PGHOST": self.server, "PGPORT": self.port, "PGUSER": "postgres"}

    native_file = "bench.dump"
    dump_to_file = "pg_dump -Fc -d bench > %s"
    dump_alone = "pg_dump -Fc -d bench > /dev/null"
    dump_plain = "pg_dump -d bench"

    def fresh(self, name):
        self.sql("DROP DATABASE IF EXISTS %s WITH (FORCE);" % name)

    def native_restore(self, path):
        self.sql("CREATE DATABASE native_copy;")
        return ["pg_restore", "-j2", "-d", "native_copy", path], False


class MariaDB:
    name, provider = "mariadb", "mysql"
    server, port = "/var/tmp/drkit-bench-mariadb", "55441"
    script = "mariadb.sh"

    def client(self):
        return ["mariadb", "--no-defaults", "--socket=%s/mysqld.sock" % self.server, "-u", "root"]

    def sql(self, sql, database=None):
        subprocess.run(self.client() + (["--database=%s" % database] if database else []), input=sql.encode(),
                       check=True)

    def connection(self):
        return {"socket": "%s/mysqld.sock" % self.server, "user": "root"}

    def make_data(self, gib):
        """accounts (numbers and padding, like pgbench's) and notes (text of words and numbers)."""
        rows = int(gib * 4000000)
        self.sql("DROP DATABASE IF EXISTS bench; CREATE DATABASE bench;")
        self.sql("CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84)) ENGINE=InnoDB;"
                 " INSERT INTO accounts SELECT seq, seq DIV 100000, 0, '' FROM seq_1_to_%d;"
                 " CREATE TABLE notes (id bigint PRIMARY KEY, author varchar(20), body text, amount decimal(14, 2),"
                 " at datetime) ENGINE=InnoDB; INSERT INTO notes SELECT seq, CONCAT('user', seq %% 5000),"
                 " CONCAT(md5(seq), ' ', md5(seq * 7), ' note number ', seq), seq * 0.37,"
                 " NOW() - INTERVAL seq SECOND FROM seq_1_to_%d; ANALYZE TABLE accounts, notes;"
                 % (rows * 3, rows), "bench")

    def size(self):
        out = subprocess.run(self.client() + ["--batch", "--skip-column-names", "-e", "SELECT SUM(data_length + "
                             "index_length) FROM information_schema.tables WHERE table_schema = 'bench'"],
                             stdout=subprocess.PIPE, check=True).stdout
        return int(out)

    def env(self):
        return {}

    native_file = "bench.sql"

    @property
    def dump_to_file(self):
        return " ".join(self.dump_args()) + " > %s"

    @property
    def dump_alone(self):
        return " ".join(self.dump_args()) + " > /dev/null"

    @property
    def dump_plain(self):
        return " ".join(self.dump_args())

    def dump_args(self):
        return ["mariadb-dump", "--no-defaults", "--socket=%s/mysqld.sock" % self.server, "-u", "root",
                "--single-transaction", "--routines", "--events", "--triggers", "bench"]

    def fresh(self, name):
        self.sql("DROP DATABASE IF EXISTS %s;" % name)

    def native_restore(self, path):
        self.sql("CREATE DATABASE native_copy;")
        return " ".join(self.client() + ["native_copy", "<", path]), True


def measure(command, shell=False):
    argv = [sys.executable, os.path.join(HERE, "measure.py")] + (["--shell", command] if shell else command)
    out = subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out.decode().strip().splitlines()[-1])


def bench(engine, gib, reps, work):
    script = os.path.join(ROOT, "tests", "servers", engine.script)
    os.makedirs(os.path.dirname(engine.server), exist_ok=True)
    subprocess.run([script, "start", engine.server, engine.port], check=True)
    work = os.path.join(work, engine.name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.environ.update(engine.env(), PYTHONPATH=os.path.join(ROOT, ".build", "collections"))
    try:
        engine.make_data(gib)
        keys = os.path.join(work, "keys")
        subprocess.run([sys.executable, "-c", "from ansible_collections.drkit.backup.plugins.module_utils.protection "
                        "import keystore as k; s = k.Keystore(%r); key = k.BackupKey.generate('main', 'system', None);"
                        " s.add(key); s.set_default(key, True)" % keys], check=True)
        with open(os.path.join(work, "pass"), "w") as out:
            out.write(PASSWORD)
        native = os.path.join(work, engine.native_file)
        subprocess.run(engine.dump_to_file % native, shell=True, check=True)
        drkit = [sys.executable, os.path.join(HERE, "drkit_bench.py")]
        connection = json.dumps(engine.connection())
        runs = {name: [] for name in ("dump", "drkit", "pipeline", "native_restore", "drkit_restore")}
        stored = None
        for _rep in range(reps):
            runs["dump"].append(measure(engine.dump_alone, shell=True))
            dest = os.path.join(work, "backups")
            shutil.rmtree(dest, ignore_errors=True)
            made = measure(drkit + ["db-create", engine.provider, keys, dest, connection, "bench"])
            runs["drkit"].append(made)
            stored = made["stored"]
            runs["pipeline"].append(measure(
                "%s | gzip | gpg --batch --yes --symmetric --passphrase-file %s -o %s" % (
                    engine.dump_plain, os.path.join(work, "pass"), os.path.join(work, "bench.gz.gpg")), shell=True))
            engine.fresh("native_copy")
            command, shell = engine.native_restore(native)
            runs["native_restore"].append(measure(command, shell=shell))
            engine.fresh("drkit_copy")
            runs["drkit_restore"].append(measure(drkit + ["db-restore", engine.provider, keys, made["path"],
                                                          connection, "bench", "drkit_copy"]))
        median = {name: statistics.median(run["seconds"] for run in values) for name, values in runs.items()}
        rss = {name: max(run["rss"] for run in values) for name, values in runs.items()}
        return {"database_bytes": engine.size(), "reps": reps, "seconds": median, "peak_rss": rss,
                "sizes": {"native_file": os.path.getsize(native), "drkit_stored": stored},
                "ratios": {"backup_vs_dump": median["drkit"] / median["dump"],
                           "pipeline_vs_backup": median["pipeline"] / median["drkit"],
                           "restore_vs_native_restore": median["drkit_restore"] / median["native_restore"],
                           "size_vs_native_file": stored / os.path.getsize(native)}}
    finally:
        engine.fresh("native_copy")
        engine.fresh("drkit_copy")
        subprocess.run([script, "stop", engine.server], check=True)
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-gib", type=float, default=2.0)
    parser.add_argument("--mariadb-gib", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", choices=["postgresql", "mariadb"])
    parser.add_argument("--work", default="/var/tmp/drkit-bench-db-work")
    args = parser.parse_args()
    results = {}
    for engine, gib in ((PostgreSQL(), args.pg_gib), (MariaDB(), args.mariadb_gib)):
        if args.only in (None, engine.name):
            results[engine.name] = bench(engine, gib, args.reps, args.work)
    with open(os.path.join(HERE, "databases.json"), "w") as out:
        json.dump(results, out, indent=1, sort_keys=True)
    for name, result in results.items():
        print("%s: database %.2f GiB, medians of %d" % (name, result["database_bytes"] / 2 ** 30, result["reps"]))
        for run, seconds in result["seconds"].items():
            print("  %-15s %8.1f s  peak RSS %6.1f MiB" % (run, seconds, result["peak_rss"][run] / 2 ** 20))
        for ratio, value in result["ratios"].items():
            print("  %-26s %.2f" % (ratio, value))


if __name__ == "__main__":
    main()
