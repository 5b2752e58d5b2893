# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: drkit's archive pipeline and offline window against the tools users would pick instead.

In one run, from page cache, alternating the tools, with medians of --reps repetitions:

- drkit create, verify (checksum and full), restore, and restore again into the tree it wrote (nothing to
  change); the restore through the module as a user runs it (``ansible localhost -m drkit.backup.restore``),
  less Ansible's start-up (a read-only module call);
- restic backup and restore, Borg create and extract, ``tar | gpg --symmetric`` and
  ``gpg -d | tar x`` (gpg's defaults), ``tar czf`` (what ipa-backup does before gpg);
- the machine's limit: reading and SHA-256 hashing the data once in-process;

on three data sets (incompressible, LDIF-like text, a tree of many small configuration files), with each
process's peak RSS and each output's size; then drkit's memory on a data set four times larger, and the
offline window of a real PostgreSQL: how long it is down for drkit's offline backup (services down only
while the raw data is captured) and for a stop-capture-compress-encrypt-start sequence.

Prints a table of ratios and writes bench/results.json. --scale shrinks the data sets for a quick run.
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIB = 1 << 20
PASSWORD = "bench-password-not-a-secret"
PG_BIN = "/usr/lib/postgresql/15/bin"


# --- data sets ------------------------------------------------------------------------------------

def keystream(seed: bytes, size: int):
    """Incompressible bytes, fast and repeatable (AES-CTR of zeros)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    encryptor = Cipher(algorithms.AES(hashlib.sha256(seed).digest()), modes.CTR(b"\0" * 16)).encryptor()
    zeros = bytes(MIB)
    while size > 0:
        chunk = encryptor.update(zeros[:min(size, MIB)])
        size -= len(chunk)
        yield chunk


def make_random(path, size):
    os.makedirs(path)
    per_file = 256 * MIB
    index = 0
    while size > 0:
        with open(os.path.join(path, "blob%02d.bin" % index), "wb") as out:
            for chunk in keystream(b"random%d" % index, min(size, per_file)):
                out.write(chunk)
        size -= per_file
        index += 1


def ldif_entries():
    """An identity directory's export: repetitive structure, varied values, some incompressible fields."""
    groups = ["admins", "developers", "operators", "auditors", "users", "hr", "finance", "sales"]
    number = 0
    salt = keystream(b"ldif", 1 << 62)
    pool = b""
    while True:
        if len(pool) < 48:
            pool = next(salt, b"")  # the key stream is practically endless (2**62 bytes)
        secret, pool = pool[:24], pool[24:]
        uid = "user%07d" % number
        yield (
            "dn: uid={uid},cn=users,cn=accounts,dc=example,dc=test\n"
            "objectClass: top\nobjectClass: person\nobjectClass: organizationalperson\n"
            "objectClass: inetorgperson\nobjectClass: inetuser\nobjectClass: posixaccount\n"
            "objectClass: krbprincipalaux\nobjectClass: ipaobject\nobjectClass: ipasshuser\n"
            "uid: {uid}\ncn: Given{n} Family{m}\nsn: Family{m}\ngivenName: Given{n}\n"
            "mail: {uid}@example.test\nuidNumber: {num}\ngidNumber: {num}\n"
            "homeDirectory: /home/{uid}\nloginShell: /bin/bash\n"
            "krbPrincipalName: {uid}@EXAMPLE.TEST\n"
            "ipaUniqueID: {hexid}\n"
            "userPassword:: {secret}\n"
            "memberOf: cn={g1},cn=groups,cn=accounts,dc=example,dc=test\n"
            "memberOf: cn={g2},cn=groups,cn=accounts,dc=example,dc=test\n\n"
        ).format(uid=uid, n=number % 977, m=number % 3041, num=100000 + number,
                 hexid=hashlib.md5(uid.encode()).hexdigest(), secret=secret.hex(),
                 g1=groups[number % 8], g2=groups[(number * 7) % 8]).encode()
        number += 1


def make_ldif(path, size):
    os.makedirs(path)
    with open(os.path.join(path, "export.ldif"), "wb") as out:
        written, batch = 0, []
        for entry in ldif_entries():
            batch.append(entry)
            if len(batch) == 2000:
                data = b"".join(batch)
                out.write(data)
                written += len(data)
                batch = []
                if written >= size:
                    break


def make_tree(path, size):
    """Many small configuration files in nested directories (sizes 100 B to 8 KiB)."""
    words = b"listen port ssl_cert ssl_key realm domain server timeout retries log_level cache_size ".split()
    written, index = 0, 0
    while written < size:
        directory = os.path.join(path, "etc%02d" % (index % 20), "conf.d%02d" % (index % 13))
        os.makedirs(directory, exist_ok=True)
        length = 100 + (index * 7919) % 8000
        lines, total = [], 0
        while total < length:
            line = b"%s = %d\n" % (words[(index + total) % len(words)], (index * 31 + total) % 65536)
            lines.append(line)
            total += len(line)
        with open(os.path.join(directory, "file%06d.conf" % index), "wb") as out:
            out.write(b"".join(lines))
        written += total
        index += 1


DATASETS = {"random": make_random, "ldif": make_ldif, "tree": make_tree}


def dataset(data_dir, name, size):
    path = os.path.join(data_dir, "%s-%d" % (name, size))
    if not os.path.isdir(path):
        print("generating %s (%d MiB)" % (name, size // MIB), flush=True)
        DATASETS[name](path + ".tmp", size)
        os.rename(path + ".tmp", path)
    return path


def du(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for directory, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                total += os.lstat(full).st_size
    return total


# --- running and measuring -------------------------------------------------------------------------

def warm_memory(gib):
    """Touches ``gib`` GiB of memory once, all of it held at the same time, then frees it.

    On a virtual machine the first touch of a guest page is slow (here 45 s for 16 GiB, about 360 MiB/s,
    against 1.5 GiB/s and more once touched): without this, whichever tool first needs new pages (for its
    output in the page cache) pays for it, and the medians swing by a factor of two.
    """
    code = ("import sys\nheld = []\nfor _ in range(int(sys.argv[1])):\n"
            "    block = bytearray(1 << 30)\n    block[::4096] = b'\\1' * ((1 << 30) // 4096)\n"
            "    held.append(block)\n")
    subprocess.run([sys.executable, "-c", code, str(gib)], check=True)


def settle():
    """Write dirty pages out between runs so that one run's writes do not slow the next one."""
    subprocess.run(["sync"], check=True)


class Runner:
    def __init__(self, work):
        self.work = work
        self.env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".build", "collections"),
                        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
                        RESTIC_PASSWORD=PASSWORD, BORG_PASSPHRASE=PASSWORD, RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"),
                        BORG_BASE_DIR=os.path.join(work, "borg-base"), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
                        BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")
        self.python = sys.executable
        self.keystore = os.path.join(work, "keystore")
        with open(os.path.join(work, "gpg-pass"), "w") as handle:
            handle.write(PASSWORD)
        self.gnupg = os.path.join("/tmp", "drkit-bench-gnupg")
        shutil.rmtree(self.gnupg, ignore_errors=True)
        os.makedirs(self.gnupg, mode=0o700)
        self.env["GNUPGHOME"] = self.gnupg
        if not os.path.isdir(self.keystore):
            subprocess.run([self.python, "-c", (
                "from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys;"
                "s=keys.Keystore(%r);k=keys.BackupKey.generate('bench','system',None);s.add(k);s.set_default(k,True)"
            ) % self.keystore], env=self.env, check=True)

    def fresh(self, *names):
        for name in names:
            path = os.path.join(self.work, name)
            shutil.rmtree(path, ignore_errors=True)
        settle()

    def run_isolated(self, argv, shell=False, cwd=None):
        """Each measured command runs under a small wrapper so that its own peak RSS is reported."""
        wrapper = [self.python, os.path.join(HERE, "measure.py")] + (["--shell"] if shell else []) + argv
        proc = subprocess.run(wrapper, env=self.env, cwd=cwd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(argv), (proc.stderr or proc.stdout)[-2000:]))
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def drkit(self, *args):
        return self.run_isolated([self.python, os.path.join(HERE, "drkit_bench.py")] + list(args))

    def ansible(self, module, args):
        """One ``ansible localhost -m MODULE`` run (local connection, this Python on the managed side)."""
        return self.run_isolated([os.path.join(os.path.dirname(self.python), "ansible"), "localhost", "-c", "local",
                                  "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % self.python,
                                  "-m", module, "-a", json.dumps(args)])


def median(values):
    return statistics.median(values) if values else None


# --- the cases ------------------------------------------------------------------------------------

def cases_for(runner, data):
    """Each case: name -> function running it once and returning {seconds, rss, size?}."""
    work = runner.work
    q = subprocess.list2cmdline

    def drkit_create():
        runner.fresh("drkit")
        result = runner.drkit("create", runner.keystore, os.path.join(work, "drkit"), data)
        result["size"] = du(os.path.join(work, "drkit"))
        return result

    def latest_drkit():
        root = os.path.join(work, "drkit")
        return os.path.join(root, sorted(os.listdir(root))[-1])

    def drkit_verify(level):
        return lambda: runner.drkit("verify", runner.keystore, latest_drkit(), level)

    def drkit_restore():
        runner.fresh("drkit-restore")
        return runner.drkit("restore", runner.keystore, latest_drkit(), os.path.join(work, "drkit-restore"))

    def drkit_restore_unchanged():
        # Into the tree the restore before it wrote: everything matches, nothing is written.
        result = runner.drkit("restore", runner.keystore, latest_drkit(), os.path.join(work, "drkit-restore"))
        assert not result["changed"], "a restore into a matching tree changed it"
        return result

    def module_restore():
        # As a user runs it: ansible, the module, its arguments; Ansible's own start-up is subtracted (below).
        runner.fresh("drkit-module-restore")
        return runner.ansible("drkit.backup.restore", {
            "backup": latest_drkit(), "keystore": runner.keystore, "state_dir": os.path.join(work, "state"),
            "provider_options": {"target_root": os.path.join(work, "drkit-module-restore")}})

    def module_startup():
        # A read-only module call on an empty root: what a module call costs before it does any work.
        os.makedirs(os.path.join(work, "empty-root"), exist_ok=True)
        return runner.ansible("drkit.backup.backup_info", {"path": os.path.join(work, "empty-root")})

    def restic_backup():
        runner.fresh("restic", "restic-cache")
        subprocess.run(["restic", "-r", os.path.join(work, "restic"), "init", "--quiet"], env=runner.env, check=True,
                       capture_output=True)
        result = runner.run_isolated(["restic", "-r", os.path.join(work, "restic"), "backup", "--quiet", data])
        result["size"] = du(os.path.join(work, "restic"))
        return result

    def restic_restore():
        runner.fresh("restic-restore")
        return runner.run_isolated(["restic", "-r", os.path.join(work, "restic"), "restore", "latest", "--quiet",
                                    "--target", os.path.join(work, "restic-restore")])

    def borg_create():
        runner.fresh("borg", "borg-base")
        subprocess.run(["borg", "init", "--encryption=repokey-blake2", os.path.join(work, "borg")], env=runner.env,
                       check=True, capture_output=True)
        result = runner.run_isolated(["borg", "create", os.path.join(work, "borg") + "::bench", data])
        result["size"] = du(os.path.join(work, "borg"))
        return result

    def borg_extract():
        runner.fresh("borg-restore")
        os.makedirs(os.path.join(work, "borg-restore"))
        return runner.run_isolated(["borg", "extract", os.path.join(work, "borg") + "::bench"],
                                   cwd=os.path.join(work, "borg-restore"))

    gpg_out = os.path.join(work, "tar-gpg", "backup.tar.gpg")
    gpg_args = "gpg --batch --yes --pinentry-mode loopback --passphrase-file %s" % q([os.path.join(work, "gpg-pass")])

    def tar_gpg():
        runner.fresh("tar-gpg")
        os.makedirs(os.path.dirname(gpg_out))
        result = runner.run_isolated(["set -o pipefail; tar -C / -cf - %s | %s --symmetric -o %s"
                                      % (q([data.lstrip("/")]), gpg_args, q([gpg_out]))], shell=True)
        result["size"] = du(gpg_out)
        return result

    def gpg_tar():
        runner.fresh("tar-gpg-restore")
        target = os.path.join(work, "tar-gpg-restore")
        os.makedirs(target)
        return runner.run_isolated(["set -o pipefail; %s -d %s | tar -C %s -xf -" % (gpg_args, q([gpg_out]), q([target]))],
                                   shell=True)

    def tar_czf():
        runner.fresh("tar-gz")
        os.makedirs(os.path.join(work, "tar-gz"))
        out = os.path.join(work, "tar-gz", "backup.tar.gz")
        result = runner.run_isolated(["tar", "-C", "/", "-czf", out, data.lstrip("/")])
        result["size"] = du(out)
        return result

    def read_hash():
        return runner.drkit("hash", data)

    return [
        ("read+hash", "limit", read_hash),
        ("drkit", "create", drkit_create),
        ("drkit", "verify checksum", drkit_verify("checksum")),
        ("drkit", "verify full", drkit_verify("full")),
        ("drkit", "restore", drkit_restore),
        ("drkit", "restore unchanged", drkit_restore_unchanged),
        ("ansible", "module start-up", module_startup),
        ("ansible", "restore", module_restore),
        ("restic", "create", restic_backup),
        ("restic", "restore", restic_restore),
        ("borg", "create", borg_create),
        ("borg", "restore", borg_extract),
        ("tar|gpg", "create", tar_gpg),
        ("tar|gpg", "restore", gpg_tar),
        ("tar czf", "create", tar_czf),
    ]


def bench_dataset(runner, data, reps):
    """Medians per (tool, operation), alternating the tools and rotating their order each repetition."""
    size = du(data)
    runner.run_isolated([runner.python, os.path.join(HERE, "drkit_bench.py"), "hash", data])  # into page cache
    cases = cases_for(runner, data)
    groups = {}  # tool -> list of (operation, function): a tool's operations stay in order
    for tool, operation, function in cases:
        groups.setdefault(tool, []).append((operation, function))
    tools = list(groups)
    samples = {}
    for rep in range(reps):
        order = tools[rep % len(tools):] + tools[:rep % len(tools)]
        for tool in order:
            for operation, function in groups[tool]:
                result = function()
                samples.setdefault((tool, operation), []).append(result)
                print("  rep %d  %-8s %-16s %6.2fs  rss %4d MiB" % (
                    rep + 1, tool, operation, result["seconds"], result["rss"] // MIB), flush=True)
    summary = {}
    for (tool, operation), results in samples.items():
        seconds = median([r["seconds"] for r in results])
        summary["%s %s" % (tool, operation)] = {
            "tool": tool, "operation": operation, "seconds": seconds, "mib_s": size / MIB / seconds,
            "rss_mib": max(r["rss"] for r in results) / MIB,
            "output_mib": median([r["size"] for r in results if "size" in r]) / MIB
            if any("size" in r for r in results) else None,
            "samples": [round(r["seconds"], 3) for r in results]}
    return {"bytes": size, "results": summary}


# --- memory on a four times larger data set ---------------------------------------------------------

def bench_memory(runner, data_dir, base_size):
    small = dataset(data_dir, "random", base_size)
    large = dataset(data_dir, "random", 4 * base_size)
    found = {}
    for label, data in (("1x", small), ("4x", large)):
        runner.fresh("drkit", "drkit-restore")
        create = runner.drkit("create", runner.keystore, os.path.join(runner.work, "drkit"), data)
        backup = os.path.join(runner.work, "drkit", sorted(os.listdir(os.path.join(runner.work, "drkit")))[-1])
        verify = runner.drkit("verify", runner.keystore, backup, "full")
        restore = runner.drkit("restore", runner.keystore, backup, os.path.join(runner.work, "drkit-restore"))
        found[label] = {"bytes": du(data), "create_rss_mib": create["rss"] / MIB,
                        "verify_rss_mib": verify["rss"] / MIB, "restore_rss_mib": restore["rss"] / MIB,
                        "create_mib_s": du(data) / MIB / create["seconds"],
                        "verify_mib_s": du(data) / MIB / verify["seconds"],
                        "restore_mib_s": du(data) / MIB / restore["seconds"]}
        print("  memory %s: create %.1f MiB, verify %.1f MiB, restore %.1f MiB" % (
            label, found[label]["create_rss_mib"], found[label]["verify_rss_mib"], found[label]["restore_rss_mib"]))
    runner.fresh("drkit", "drkit-restore")
    return found


# --- the offline window of a real PostgreSQL ---------------------------------------------------------

class Postgres:
    """A PostgreSQL server of the benchmark's own, run as the postgres user, on a unix socket only."""

    def __init__(self, work, scale):
        self.base = os.path.join(work, "pg")
        self.data = os.path.join(self.base, "data")
        self.socket = os.path.join(self.base, "sock")
        self.scale = scale
        self.script = os.path.join(self.base, "service.sh")

    def _as_postgres(self, *argv, check=True):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + list(argv), check=check, capture_output=True,
                              text=True)

    def setup(self):
        if not os.path.isdir(os.path.join(self.data, "base")):
            shutil.rmtree(self.base, ignore_errors=True)
            os.makedirs(self.socket)
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.socket, "postgres", "postgres")
            self._as_postgres(os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust")
            self.start()
            print("loading PostgreSQL (pgbench scale %d)" % self.scale, flush=True)
            self._as_postgres(os.path.join(PG_BIN, "pgbench"), "-i", "-q", "-s", str(self.scale), "-h", self.socket,
                              "-p", "55432", "postgres")
            self.stop()
        with open(self.script, "w") as out:
            out.write("#!/bin/sh\n# stop|start SERVICE: the benchmark's PostgreSQL\n"
                      "exec runuser -u postgres -- %s/pg_ctl -D %s -w -m fast -l %s/log "
                      "-o \"-p 55432 -k %s -c listen_addresses=''\" \"$1\"\n"
                      % (PG_BIN, self.data, self.base, self.socket))
        os.chmod(self.script, 0o755)

    def start(self):
        subprocess.run([self.script, "start"] if os.path.exists(self.script) else
                       ["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w",
                        "-l", os.path.join(self.base, "log"), "-o",
                        "-p 55432 -k %s -c listen_addresses=''" % self.socket, "start"],
                       check=True, capture_output=True)

    def stop(self):
        subprocess.run([self.script, "stop"] if os.path.exists(self.script) else
                       ["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w",
                        "-m", "fast", "stop"], check=True, capture_output=True)

    def running(self):
        return self._as_postgres(os.path.join(PG_BIN, "pg_isready"), "-h", self.socket, "-p", "55432",
                                 check=False).returncode == 0


def bench_offline(runner, scale, reps):
    pg = Postgres(runner.work, scale)
    pg.setup()
    pg.start()
    size = du(pg.data)
    print("offline window: PostgreSQL data directory of %d MiB" % (size // MIB), flush=True)
    q = subprocess.list2cmdline
    gpg_args = "gpg --batch --yes --pinentry-mode loopback --passphrase-file %s" % q([os.path.join(runner.work, "gpg-pass")])
    samples = {"drkit downtime": [], "drkit whole backup": [], "raw capture": [], "sequence downtime": []}
    for rep in range(reps):
        runner.fresh("drkit-offline", "raw", "sequence")
        result = runner.drkit("offline", runner.keystore, os.path.join(runner.work, "drkit-offline"), pg.script,
                              pg.data)
        samples["drkit downtime"].append(result["downtime"])
        samples["drkit whole backup"].append(result["duration"])
        assert pg.running(), "PostgreSQL is not running after drkit's backup"

        os.makedirs(os.path.join(runner.work, "raw"))
        pg.stop()
        start = time.monotonic()
        subprocess.run(["tar", "-C", "/", "-cf", os.path.join(runner.work, "raw", "capture.tar"),
                        pg.data.lstrip("/")], check=True)
        samples["raw capture"].append(time.monotonic() - start)
        pg.start()

        os.makedirs(os.path.join(runner.work, "sequence"))
        start = time.monotonic()
        pg.stop()
        subprocess.run("set -o pipefail; tar -C / -cf - %s | gzip | %s --symmetric -o %s" % (
            q([pg.data.lstrip("/")]), gpg_args, q([os.path.join(runner.work, "sequence", "pg.tar.gz.gpg")])),
            shell=True, check=True, executable="/bin/bash", env=runner.env)
        pg.start()
        samples["sequence downtime"].append(time.monotonic() - start)
        print("  rep %d  drkit down %.2fs (whole %.2fs)  raw capture %.2fs  stop-tar-gzip-gpg-start down %.2fs" % (
            rep + 1, samples["drkit downtime"][-1], samples["drkit whole backup"][-1], samples["raw capture"][-1],
            samples["sequence downtime"][-1]), flush=True)
    pg.stop()
    runner.fresh("drkit-offline", "raw", "sequence")
    return {"bytes": size, "medians": {k: median(v) for k, v in samples.items()}, "samples": samples}


# --- report ------------------------------------------------------------------------------------------

def ratio(results, a, b):
    """How many times faster ``a`` is than ``b`` (throughput ratio)."""
    if a in results and b in results:
        return results[a]["mib_s"] / results[b]["mib_s"]
    return None


def report(report_data):
    lines = []
    checks = []

    def check(label, value, target, ok):
        checks.append({"target": label, "value": value, "bound": target, "met": bool(ok)})

    for name, data in report_data["datasets"].items():
        res = data["results"]
        lines.append("\n%s: %d MiB" % (name, data["bytes"] // MIB))
        lines.append("  %-26s %8s %9s %8s %10s" % ("tool operation", "seconds", "MiB/s", "RSS MiB", "output MiB"))
        for key, row in sorted(res.items(), key=lambda item: -item[1]["mib_s"]):
            lines.append("  %-26s %8.2f %9.0f %8.1f %10s" % (
                key, row["seconds"], row["mib_s"], row["rss_mib"],
                "%.0f" % row["output_mib"] if row["output_mib"] is not None else "-"))
        create_restic = ratio(res, "drkit create", "restic create")
        create_borg = ratio(res, "drkit create", "borg create")
        lines.append("  ratios: create %.2fx restic, %.2fx borg, %.2fx tar|gpg, %.2fx tar czf; "
                     "restore %.2fx restic" % (create_restic, create_borg, ratio(res, "drkit create", "tar|gpg create"),
                                               ratio(res, "drkit create", "tar czf create"),
                                               ratio(res, "drkit restore", "restic restore")))
        limit = res["read+hash limit"]["seconds"]
        lines.append("  against the read-and-hash limit: create %.2fx, verify checksum %.2fx, verify full %.2fx "
                     "(time ratios)" % (res["drkit create"]["seconds"] / limit,
                                        res["drkit verify checksum"]["seconds"] / limit,
                                        res["drkit verify full"]["seconds"] / limit))
        restore = ratio(res, "drkit restore", "restic restore")
        if name in ("random", "ldif"):
            check("%s: create >= 3x restic" % name, create_restic, 3, create_restic >= 3)
            check("%s: create >= 2.5x borg" % name, create_borg, 2.5, create_borg >= 2.5)
            value = res["drkit create"]["seconds"] / limit
            check("%s: create within 1.2x of read+hash" % name, value, 1.2, value <= 1.2)
            check("%s: restore >= 2x restic" % name, restore, 2, restore >= 2)
            # Through the modules as a user runs them, Ansible's start-up (a read-only module call) taken off.
            if "ansible restore" in res:
                work = res["ansible restore"]["seconds"] - res["ansible module start-up"]["seconds"]
                value = res["restic restore"]["seconds"] / work if work > 0 else float("inf")
                lines.append("  through the modules: restore %.2fs (%.2fs with Ansible's start-up), %.2fx restic"
                             % (work, res["ansible restore"]["seconds"], value))
                check("%s: restore through the modules >= 2x restic" % name, value, 2, value >= 2)
        if name == "tree":
            borg_restore = ratio(res, "drkit restore", "borg restore")
            check("tree: create >= 1.5x restic", create_restic, 1.5, create_restic >= 1.5)
            check("tree: create >= borg", create_borg, 1, create_borg >= 1)
            check("tree: restore >= 1.5x restic", restore, 1.5, restore >= 1.5)
            check("tree: restore >= borg", borg_restore, 1, borg_restore >= 1)
            if "drkit restore unchanged" in res:
                value = res["drkit restore"]["seconds"] / res["drkit restore unchanged"]["seconds"]
                check("tree: restore into a matching tree >= 5x faster", value, 5, value >= 5)
        if name == "ldif":
            out = res["drkit create"]["output_mib"] / res["restic create"]["output_mib"]
            check("ldif: output no larger than restic's", out, 1.0, out <= 1.0)
        for level, bound in (("checksum", 1.2), ("full", 1.5)):
            value = res["drkit verify %s" % level]["seconds"] / limit
            check("%s: verify %s within %.1fx of read+hash" % (name, level, bound), value, bound, value <= bound)
        peak = max(row["rss_mib"] for key, row in res.items() if key.startswith("drkit"))
        check("%s: drkit peak RSS < 100 MiB" % name, peak, 100, peak < 100)
    memory = report_data.get("memory")
    if memory:
        lines.append("\nmemory, 1x -> 4x data: " + ", ".join(
            "%s %.1f -> %.1f MiB" % (op, memory["1x"]["%s_rss_mib" % op], memory["4x"]["%s_rss_mib" % op])
            for op in ("create", "verify", "restore")))
        lines.append("throughput, 1x -> 4x data: " + ", ".join(
            "%s %.0f -> %.0f MiB/s" % (op, memory["1x"].get("%s_mib_s" % op, 0), memory["4x"].get("%s_mib_s" % op, 0))
            for op in ("create", "verify", "restore")))
        for op in ("create", "verify", "restore"):
            growth = memory["4x"]["%s_rss_mib" % op] / memory["1x"]["%s_rss_mib" % op]
            check("memory: %s RSS at 4x data within 10%%" % op, growth, 1.1, growth <= 1.1)
    offline = report_data.get("offline")
    if offline:
        m = offline["medians"]
        lines.append("\noffline window, PostgreSQL %d MiB: drkit down %.2fs (whole backup %.2fs), raw capture "
                     "%.2fs, stop-tar-gzip-gpg-start down %.2fs" % (offline["bytes"] // MIB, m["drkit downtime"],
                                                                    m["drkit whole backup"], m["raw capture"],
                                                                    m["sequence downtime"]))
        value = m["drkit downtime"] / m["raw capture"]
        check("offline: down <= 1.2x raw capture", value, 1.2, value <= 1.2)
        value = m["sequence downtime"] / m["drkit downtime"]
        check("offline: down >= 3x shorter than the sequence", value, 3, value >= 3)
    lines.append("\ntargets:")
    for item in checks:
        lines.append("  %-50s %7.2f  (bound %s)  %s"
                     % (item["target"], item["value"], item["bound"], "met" if item["met"] else "NOT MET"))
    return "\n".join(lines), checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="data set size as a fraction of 1 GiB")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--data", default=os.path.join(HERE, "data"))
    parser.add_argument("--out", default=os.path.join(HERE, "results.json"))
    parser.add_argument("--work", help="where outputs go (default: <data>/work); a tmpfs takes the disk out")
    parser.add_argument("--warm", type=int, default=18, help="GiB of memory to touch before measuring")
    parser.add_argument("--skip", action="append", default=[], help="skip a part: random, ldif, tree, memory, offline")
    args = parser.parse_args()
    size = int(args.scale * 1024) * MIB
    work = args.work or os.path.join(args.data, "work")
    os.makedirs(work, exist_ok=True)
    print("touching %d GiB of memory once (first touches are slow on a VM)" % args.warm, flush=True)
    warm_memory(args.warm)
    runner = Runner(work)
    results = {"scale": args.scale, "reps": args.reps, "machine": {"cpus": os.cpu_count()},
               "versions": versions(), "datasets": {}}
    for name in ("random", "ldif", "tree"):
        if name in args.skip:
            continue
        data = dataset(args.data, name, size if name != "tree" else max(size // 8, 8 * MIB))
        print("%s:" % name, flush=True)
        results["datasets"][name] = bench_dataset(runner, data, args.reps)
    if "memory" not in args.skip:
        print("memory:", flush=True)
        results["memory"] = bench_memory(runner, args.data, size)
    if "offline" not in args.skip:
        results["offline"] = bench_offline(runner, max(1, int(68 * args.scale)), args.reps)
    table, checks = report(results)
    results["targets"] = checks
    with open(args.out, "w") as out:
        json.dump(results, out, indent=1, sort_keys=True)
    print(table)
    print("\nwrote %s" % args.out)


def versions():
    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.splitlines()[0]
        except (OSError, IndexError):
            return None
    return {"restic": first_line(["restic", "version"]), "borg": first_line(["borg", "--version"]),
            "gpg": first_line(["gpg", "--version"]), "python": sys.version.split()[0]}


if __name__ == "__main__":
    main()
