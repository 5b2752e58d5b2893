# -*- coding: utf-8 -*-
"""Every integration playbook run again with -vvv: the output, Ansible's log, the files the runs leave and
the arguments of every process the collection's modules start (sampled from /proc while they run) hold no
password, passphrase, PIN or key material; keystores and backups are readable by root only.

Slow (all the integration targets): make reliability runs it, the quick subset does not.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGETS = os.path.join(ROOT, "tests", "integration", "targets")
# The secrets the integration targets use (test setup may handle them in clear, with no_log).
SECRETS = ["correct horse battery", "hsm-pin-7391", "hsm-so-pin-7391", "DM-Secret-42"]
# Files the tests themselves write holding a secret (setup, not the collection's output).
TEST_SETUP_FILES = {"dm_password"}


class ProcessSampler(threading.Thread):
    """Reads every process's parent and arguments from /proc, every few milliseconds."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen = {}
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit() and pid not in self.seen:
                    try:
                        with open("/proc/%s/cmdline" % pid, "rb") as handle:
                            argv = handle.read().split(b"\0")
                        with open("/proc/%s/stat" % pid) as handle:
                            ppid = handle.read().rsplit(")", 1)[1].split()[1]
                    except OSError:
                        continue
                    self.seen[pid] = (ppid, [arg.decode(errors="replace") for arg in argv if arg])
            time.sleep(0.005)

    def stop(self):
        self._halt.set()
        self.join()

    def started_by_modules(self, modules):
        """Argument lists of the processes that descend from one of ``modules``' AnsiballZ runs."""
        markers = tuple("AnsiballZ_%s.py" % name for name in modules)

        def from_module(pid, depth=0):
            if pid not in self.seen or depth > 30:
                return False
            ppid, argv = self.seen[pid]
            return any(arg.endswith(markers) for arg in argv) or from_module(ppid, depth + 1)
        return [argv for pid, (ppid, argv) in self.seen.items() if from_module(pid)]


def key_material(base):
    """Every backup key's material found in keystores under ``base`` (raw, base64 and hex)."""
    found = []
    for directory, _dirs, names in os.walk(base):
        for name in names:
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as handle:
                    doc = json.loads(handle.read(100000))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("format") == "drkit-keystore-key":
                raw = base64.b64decode(doc["material"])
                found.append((path, [raw, doc["material"].encode(), raw.hex().encode()]))
    return found


def test_no_secret_leaks_and_private_files(fast, tally):
    if fast:
        pytest.skip("the -vvv scan of every integration playbook runs in make reliability")
    # Never under /tmp, wherever the checkout is: there the freeipa target moves its servers (and the secret files
    # this scan must find) out of output_dir, as IdM's directory server cannot read /tmp (PrivateTmp).
    tmp_path = pathlib.Path("/var/lib/drkit-tests/reliability-secrets")
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir(parents=True, mode=0o700)
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.endswith(".py"))
    inventory = tmp_path / "inventory"
    inventory.write_text("testhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_ROLES_PATH=TARGETS, ANSIBLE_LOG_PATH=str(tmp_path / "ansible.log"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="false")
    outputs = []
    sampler = ProcessSampler()
    sampler.start()
    try:
        for target in sorted(os.listdir(TARGETS)):
            if not os.path.isdir(os.path.join(TARGETS, target, "tasks")):
                continue
            playbook = tmp_path / ("%s.yml" % target)
            playbook.write_text("- hosts: testhost\n  gather_facts: false\n  roles: [%s]\n" % target)
            out_dir = tmp_path / "out" / target
            out_dir.mkdir(parents=True)
            ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
            proc = subprocess.run([ansible_playbook, "-vvv", "-i", str(inventory), str(playbook),
                                   "-e", "output_dir=%s" % out_dir], env=env, capture_output=True, text=True,
                                  check=False)
            failures = [line for line in proc.stdout.splitlines() if line.startswith("fatal:") and "...ignoring" not in line]
            assert proc.returncode == 0, "%s failed under -vvv: %s" % (target, failures[-1:] or proc.stdout[-3000:])
            outputs.append((target, proc.stdout + proc.stderr))
    finally:
        sampler.stop()

    keys = key_material(str(tmp_path / "out"))
    assert keys, "the runs left no keystore to check"
    needles = [(secret, secret.encode()) for secret in SECRETS]
    needles += [("key material of %s" % path, value) for path, values in keys for value in values]
    keystore_files = {path for path, _values in keys}
    spawned = sampler.started_by_modules(modules)
    assert spawned, "no process started by the collection's modules was seen: the sampler did not work"
    tally["process arguments checked"] += len(spawned)
    leaks, controls = [], 0
    with open(tmp_path / "ansible.log", "rb") as handle:
        log = handle.read()
    for label, needle in needles:
        for target, text in outputs:
            if needle in text.encode():
                leaks.append("%s in the -vvv output of %s" % (label, target))
        if needle in log:
            leaks.append("%s in Ansible's log" % label)
        for argv in spawned:
            if needle in " ".join(argv).encode():
                leaks.append("%s in the arguments of %s" % (label, argv[0]))
    for directory, _dirs, names in os.walk(tmp_path / "out"):
        for name in names:
            path = os.path.join(directory, name)
            if path in keystore_files or os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as handle:
                content = handle.read()
            found = ["%s in %s" % (label, path) for label, needle in needles if needle in content]
            if name in TEST_SETUP_FILES:
                controls += bool(found)  # the test's own secret files: proof that the scan finds what is there
            else:
                leaks += found
    assert controls, "the scan did not even find the secrets the tests wrote on purpose"
    tally["secrets found"] += len(leaks)
    assert not leaks, "\n".join(leaks)

    # Keystores and backups: readable by their owner (root) only.
    loose = []
    for directory, dirs, names in os.walk(tmp_path / "out"):
        is_backup = os.path.isfile(os.path.join(directory, "header.json"))
        for name in names:
            path = os.path.join(directory, name)
            private = path in keystore_files or is_backup or name.endswith((".drkit", ".drkitkey")) or \
                os.path.basename(os.path.dirname(path)) == "parts"
            if private and stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
                loose.append(path)
        if is_backup or any(os.path.join(directory, name) in keystore_files for name in names):
            if stat.S_IMODE(os.stat(directory).st_mode) & 0o077:
                loose.append(directory)
    assert not loose, "readable by others than root: %s" % loose
