# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench, the fleet: the fleet role backs up 8 hosts at once, against one host's backup alone.

Each host is a real sshd on its own loopback address (127.0.0.31-38, port 2222, root logins by key) with
256 MiB of its own incompressible data (--mib), a keystore and a backup root; each is a cluster of its own, so
the fleet role backs every one up, and copies each backup to the controller, as a nightly run does. Reported:
the fleet's time over one host's (target: at most 1.5x), and the fleet's time over the compute limit, the
total bytes over the one-core pipeline rate (one host's bytes over the CPU seconds of its backup through the
engine) times the cores (DESIGN decision 34): on 2 cores, 8 hosts cannot take less than that.

    python bench/fleet.py [--hosts 8] [--mib 256] [--reps 3] [--work DIR]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
sys.path.insert(0, HERE)

from run import MIB, keystream, settle, warm_memory  # noqa: E402  pylint: disable=wrong-import-position
from sshd_server import Sshd  # noqa: E402  pylint: disable=wrong-import-position

PORT = 2222
PLAYBOOK = """---
- name: Back up the fleet
  hosts: fleet
  gather_facts: false
  roles:
    - role: drkit.backup.fleet
"""


def address(index):
    return "127.0.0.%d" % (31 + index)


class Fleet:
    def __init__(self, work, hosts, size):
        self.work, self.hosts, self.size = work, hosts, size
        self.names = ["bench%d" % (index + 1) for index in range(hosts)]
        self.servers = [Sshd(os.path.join(work, name, "sshd"), address(index), PORT)
                        for index, name in enumerate(self.names)]
        self.key = os.path.join(work, "client_key")
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
                        PYTHONPATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_HOST_KEY_CHECKING="false",
                        ANSIBLE_FORKS=str(hosts), ANSIBLE_NOCOLOR="1")

    def host_dir(self, name, *parts):
        return os.path.join(self.work, name, *parts)

    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        if not os.path.exists(self.key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        with open(self.key + ".pub", encoding="utf-8") as handle:
            public = handle.read()
        for index, (name, server) in enumerate(zip(self.names, self.servers)):
            server.start()
            server.authorize(public)
            data = self.host_dir(name, "data")
            if not os.path.isdir(data):
                os.makedirs(data + ".tmp")
                with open(os.path.join(data + ".tmp", "blob.bin"), "wb") as out:
                    for chunk in keystream(b"fleet%d" % index, self.size):
                        out.write(chunk)
                os.rename(data + ".tmp", data)
            keys = self.host_dir(name, "keys")
            if not os.path.isdir(keys):
                subprocess.run([sys.executable, "-c", (
                    "from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as k;"
                    "s=k.Keystore(%r);key=k.BackupKey.generate('bench','system',None);s.add(key);"
                    "s.set_default(key,True)") % keys], env=self.env, check=True)
        inventory = {"fleet": {"hosts": {}, "vars": {
            "ansible_user": "root", "ansible_port": PORT, "ansible_ssh_private_key_file": self.key,
            "ansible_python_interpreter": sys.executable, "drkit_backup_provider": "files",
            "drkit_backup_online": True, "drkit_backup_copy": "controller",
            "drkit_backup_copy_dir": os.path.join(self.work, "copies"),
            "drkit_backup_fleet_clusters": self.names}}}
        for index, name in enumerate(self.names):
            inventory["fleet"]["hosts"][name] = {
                "ansible_host": address(index),
                "drkit_backup_provider_options": {"paths": [self.host_dir(name, "data")]},
                "drkit_backup_dest": self.host_dir(name, "backups"),
                "drkit_backup_keystore": self.host_dir(name, "keys"),
                "drkit_backup_state_dir": self.host_dir(name, "state")}
            inventory[name] = {"hosts": {name: None}}
        with open(os.path.join(self.work, "inventory.json"), "w", encoding="utf-8") as out:
            json.dump(inventory, out)
        with open(os.path.join(self.work, "fleet.yml"), "w", encoding="utf-8") as out:
            out.write(PLAYBOOK)

    def fresh(self):
        for name in self.names:
            shutil.rmtree(self.host_dir(name, "backups"), ignore_errors=True)
            shutil.rmtree(self.host_dir(name, "state"), ignore_errors=True)
        shutil.rmtree(os.path.join(self.work, "copies"), ignore_errors=True)
        settle()

    def backup(self, hosts):
        """Seconds of one fleet backup of the first ``hosts`` hosts (the others are not in the play)."""
        self.fresh()
        limit = ",".join(self.names[:hosts])
        start = time.monotonic()
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                               os.path.join(self.work, "inventory.json"), os.path.join(self.work, "fleet.yml"),
                               "-e", json.dumps({"drkit_backup_fleet_clusters": self.names[:hosts]}),
                               "--limit", limit, "-f", str(self.hosts)],
                              env=self.env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError("the fleet backup failed:\n%s" % proc.stdout[-4000:])
        copies = [os.path.join(root, name) for root, _dirs, names in os.walk(os.path.join(self.work, "copies"))
                  for name in names if name.endswith(".drkit") and ".incoming" not in root]
        if len(copies) != hosts:
            raise RuntimeError("%d copies on the controller, not %d" % (len(copies), hosts))
        return seconds

    def engine_cpu(self):
        """(bytes, CPU seconds) of one host's backup through the engine alone: the one-core pipeline rate."""
        self.fresh()
        name = self.names[0]
        before = os.times()
        subprocess.run([sys.executable, os.path.join(HERE, "drkit_bench.py"), "create", self.host_dir(name, "keys"),
                        self.host_dir(name, "backups"), self.host_dir(name, "data")], env=self.env, check=True,
                       capture_output=True)
        after = os.times()
        return self.size, (after.children_user - before.children_user) + (after.children_system - before.children_system)

    def stop(self):
        for server in self.servers:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--mib", type=int, default=256, help="each host's data")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", default="/var/tmp/drkit-bench-fleet")
    parser.add_argument("--warm", type=int, default=8, help="GiB of memory to touch before measuring")
    parser.add_argument("--out", default=os.path.join(HERE, "fleet-results.json"))
    args = parser.parse_args()
    warm_memory(args.warm)
    fleet = Fleet(args.work, args.hosts, args.mib * MIB)
    try:
        fleet.setup()
        one, many, cpu = [], [], []
        for rep in range(args.reps):  # alternating: one host, then the fleet
            one.append(fleet.backup(1))
            many.append(fleet.backup(args.hosts))
            cpu.append(fleet.engine_cpu()[1])
            print("  rep %d  one host %.2fs  %d hosts %.2fs  engine CPU %.2fs"
                  % (rep + 1, one[-1], args.hosts, many[-1], cpu[-1]), flush=True)
    finally:
        fleet.stop()
    cores = os.cpu_count()
    one_s, many_s, cpu_s = statistics.median(one), statistics.median(many), statistics.median(cpu)
    limit = args.hosts * cpu_s / cores  # all the bytes at the one-core rate, on every core
    result = {"hosts": args.hosts, "mib_per_host": args.mib, "cores": cores, "one_host_seconds": one_s,
              "fleet_seconds": many_s, "engine_cpu_seconds_per_host": cpu_s, "compute_limit_seconds": limit,
              "fleet_over_one": many_s / one_s, "fleet_over_limit": many_s / limit,
              "samples": {"one": one, "fleet": many, "cpu": cpu}}
    met = result["fleet_over_one"] <= 1.5
    result["targets"] = [{"target": "fleet: %d hosts within 1.5x of one host" % args.hosts,
                          "value": result["fleet_over_one"], "bound": 1.5, "met": met}]
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1, sort_keys=True)
    print("fleet of %d hosts x %d MiB on %d cores: one host %.2fs, the fleet %.2fs (%.2fx; target 1.5x: %s); the "
          "compute limit %.2fs (%d x %.2f CPU s / %d cores): the fleet takes %.2fx the limit"
          % (args.hosts, args.mib, cores, one_s, many_s, result["fleet_over_one"], "met" if met else "NOT MET",
             limit, args.hosts, cpu_s, cores, result["fleet_over_limit"]))


if __name__ == "__main__":
    main()
