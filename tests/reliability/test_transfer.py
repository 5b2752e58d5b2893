# -*- coding: utf-8 -*-
"""An interrupted transfer: the backup role copies a host's backup to the controller over SSH (a real sshd on
127.0.0.41, reached through a throttling relay, its ProxyCommand) and the connection is cut mid-copy:

- once (the relay killed while the copy grows): Ansible reconnects and retries, or the role fails with a
  clear message; either way the controller holds no copy that is not whole and identical;
- for good (every relay killed while the copy grows, no retries): a clear failure, and no copy left;
- the controller itself killed mid-copy: the next run does not take what it left for a finished copy;
- a copy to a storage host (the same sshd under a second inventory name, relayed through the controller)
  with the controller killed once the copy is written there and before it is checked: nothing under the
  copy's name, and the next run copies it again;
- a controller without room to relay a copy to the storage host (a small tmpfs as its relay directory): a
  clear failure naming the directory, the space needed and free, and nothing copied;
- a backup an earlier run took that no longer verifies (its manifest changed, its checksums made to match):
  a later run does not copy it.

Slow (several playbook runs): make reliability runs it, the quick subset does not.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import canonjson, faults
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys

from procs import COLLECTIONS, tmpfs
from test_crashes import fill

ADDRESS = "127.0.0.41"
PORT = 2222
MIB = 1024 * 1024
RATE = 16 * MIB  # bytes per second through the relay, host to controller

RELAY = r'''
import os, socket, sys, threading, time
host, port, piddir, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
open(os.path.join(piddir, "relay-%d" % os.getpid()), "w").close()
sock = socket.create_connection((host, port))
def up():
    while True:
        data = os.read(0, 65536)
        if not data:
            sock.shutdown(socket.SHUT_WR)
            return
        sock.sendall(data)
threading.Thread(target=up, daemon=True).start()
out, sent, began = sys.stdout.buffer, 0, time.monotonic()
while True:
    data = sock.recv(65536)
    if not data:
        break
    out.write(data)
    out.flush()
    sent += len(data)
    ahead = sent / rate - (time.monotonic() - began)
    if ahead > 0:
        time.sleep(ahead)
'''

SSHD_CONFIG = """Port %(port)d
ListenAddress %(address)s
HostKey %(dir)s/host_key
PidFile %(dir)s/sshd.pid
AuthorizedKeysFile %(dir)s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 50
MaxStartups 50:30:100
LogLevel ERROR
Subsystem sftp internal-sftp
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory, fast):
    if fast:
        pytest.skip("several playbook runs over SSH: make reliability only")
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd"):
        pytest.fail("the transfer test needs root and sshd (make deps installs it)")
    base = tmp_path_factory.mktemp("transfer")
    ssh = base / "ssh"
    ssh.mkdir()
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / key)], check=True)
    shutil.copy(str(ssh / "client_key.pub"), str(ssh / "authorized_keys"))
    (ssh / "sshd_config").write_text(SSHD_CONFIG % {"port": PORT, "address": ADDRESS, "dir": ssh})
    (ssh / "relay.py").write_text(RELAY)
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-f", str(ssh / "sshd_config")], check=True)
    pid = None
    try:
        deadline = time.monotonic() + 10
        while not (ssh / "sshd.pid").exists():
            assert time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.05)
        pid = int((ssh / "sshd.pid").read_text())
        store = keys.Keystore(str(base / "keys"))
        key = keys.BackupKey.generate("main", "system", None)
        store.add(key)
        store.set_default(key, True)
        fill(str(base / "data"), [("random.bin", os.urandom(24 * MIB), 0o600)])
        relays = base / "relays"
        relays.mkdir()
        inventory = base / "inventory"
        # "store" is the storage host of the storage-copy tests: the same sshd under another inventory name.
        inventory.write_text("".join(
            "%s ansible_host=%s ansible_port=%d ansible_user=root ansible_ssh_private_key_file=%s "
            "ansible_python_interpreter=%s ansible_ssh_common_args='-o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o ProxyCommand=\"%s %s %%h %%p %s %d\"'\n"
            % (name, ADDRESS, PORT, ssh / "client_key", sys.executable, sys.executable, ssh / "relay.py", relays, RATE)
            for name in ("far", "store")))
        yield {"base": base, "inventory": inventory, "relays": relays, "keystore": store.path}
    finally:
        if pid:
            os.kill(pid, signal.SIGTERM)


def playbook(host, run, overrides=None):
    variables = {
        "drkit_backup_provider": "files",
        "drkit_backup_provider_options": {"paths": [str(host["base"] / "data")]},
        "drkit_backup_online": True,
        "drkit_backup_dest": str(host["base"] / "backups"),
        "drkit_backup_state_dir": str(host["base"] / "state"),
        "drkit_backup_keystore": str(host["keystore"]),
        "drkit_backup_verify": "checksum",
        "drkit_backup_copy": "controller",
        "drkit_backup_copy_dir": str(host["base"] / "copies"),
        "drkit_backup_max_age": "1d",
    }
    variables.update(overrides or {})
    path = host["base"] / ("backup-%s.yml" % run)
    path.write_text(json.dumps([{"hosts": "far", "gather_facts": False,
                                 "roles": [{"role": "drkit.backup.backup", "vars": variables}]}], indent=1))
    return path


def to_storage(host, **more):
    """The variables of a copy to the storage host "store", relayed through the controller."""
    return dict({"drkit_backup_copy": "storage", "drkit_backup_storage_host": "store",
                 "drkit_backup_storage_dir": str(host["base"] / "storage"),
                 "drkit_backup_copy_relay_dir": str(host["base"] / "relay")}, **more)


def start_playbook(host, run, retries, overrides=None):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_SSH_RETRIES=str(retries),
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(host["base"] / "cp"), ANSIBLE_HOST_KEY_CHECKING="false")
    env.pop(faults.ENV, None)
    return subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                             str(host["inventory"]), str(playbook(host, run, overrides))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def copies(host, where="copies"):
    """Every file under the controller's copy directory (or the storage host's): path -> size."""
    found = {}
    for directory, _dirs, names in os.walk(str(host["base"] / where)):
        for name in names:
            found[os.path.join(directory, name)] = os.path.getsize(os.path.join(directory, name))
    return found


def cut(host, stop, times, on_cut=None):
    """Kills the relays (the SSH connection) once a copy is growing on the controller, ``times`` times."""
    done = 0
    while not stop.is_set() and done < times:
        if any(size > 0 for size in copies(host).values()):
            for name in os.listdir(str(host["relays"])):
                pid = int(name.split("-")[1])
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.unlink(os.path.join(str(host["relays"]), name))
            done += 1
            if on_cut:
                on_cut()
            time.sleep(0.3)
        time.sleep(0.01)
    return done


def finished_copies(host, where="copies"):
    """The copies the controller (or the storage host) holds under a copy's name (not .incoming): each must be whole."""
    result = []
    for path in copies(host, where):
        if "/.incoming/" in path:
            continue
        info = backup_info(path, "checksum")
        result.append((path, info["verified"]))
    return result


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def reset(host):
    for name in ("copies", "backups", "storage", "relay"):
        shutil.rmtree(str(host["base"] / name), ignore_errors=True)
    (host["base"] / "relay").mkdir()


def test_connection_cut_once_is_retried_or_fails_clearly(host, tally):
    reset(host)
    stop = threading.Event()
    counted = []
    thread = threading.Thread(target=lambda: counted.append(cut(host, stop, 1)), daemon=True)
    thread.start()
    proc = start_playbook(host, "once", retries=3)
    out = proc.communicate(timeout=600)[0]
    stop.set()
    thread.join()
    assert counted == [1], "the copy never started, nothing was cut: %s" % out[-3000:]
    tally["faults injected"] += 1
    finished = finished_copies(host)
    print("cut once: %s" % ("retried, copy whole" if proc.returncode == 0 else "failed: " + out[-1500:]))
    if proc.returncode == 0:
        assert len(finished) == 1 and finished[0][1], (finished, out[-3000:])
    else:
        assert "copying backup" in out and "failed at" in out, out[-3000:]
        assert not finished, finished
    tally["faults survived"] += 1


def test_connection_cut_for_good_fails_clearly_and_leaves_no_copy(host, tally):
    reset(host)
    stop = threading.Event()
    thread = threading.Thread(target=cut, args=(host, stop, 20), daemon=True)
    thread.start()
    proc = start_playbook(host, "never", retries=0)
    out = proc.communicate(timeout=600)[0]
    stop.set()
    thread.join()
    tally["faults injected"] += 1
    assert proc.returncode != 0, out[-3000:]
    assert "copying backup" in out and "to the controller failed" in out, out[-3000:]
    assert not finished_copies(host) and not [p for p in copies(host) if "/.incoming/" in p], copies(host)
    tally["faults survived"] += 1


def test_controller_killed_mid_copy_leaves_nothing_taken_for_a_copy(host, tally):
    reset(host)
    stop = threading.Event()
    proc = start_playbook(host, "killed", retries=0)
    # The controller (ansible-playbook and everything it started: its own session) dies mid-copy.
    thread = threading.Thread(target=cut, args=(host, stop, 1, lambda: os.killpg(proc.pid, signal.SIGKILL)),
                              daemon=True)
    thread.start()
    proc.communicate(timeout=600)
    stop.set()
    thread.join()
    tally["faults injected"] += 1
    assert proc.returncode == -signal.SIGKILL
    assert not finished_copies(host), copies(host)  # what the killed fetch left is under .incoming only
    again = start_playbook(host, "after-kill", retries=0)
    out = again.communicate(timeout=600)[0]
    assert again.returncode == 0, out[-3000:]
    finished = finished_copies(host)
    assert len(finished) == 1 and finished[0][1], finished
    tally["faults survived"] += 1


def packed_on_host(host):
    """The packed file waiting on the host to be copied (``<dest>/.outbox/<name>.drkit``), or None."""
    found = glob.glob(str(host["base"] / "backups" / ".outbox" / "*.drkit"))
    return found[0] if found else None


def test_storage_copy_killed_before_its_check_is_copied_again(host, tally):
    reset(host)
    proc = start_playbook(host, "storage-killed", retries=0, overrides=to_storage(host))
    # The controller (ansible-playbook and its whole session) dies as soon as the whole file is written on the
    # storage host, under whatever name, before the check that follows it can finish.
    written = None
    deadline = time.monotonic() + 600
    while written is None and proc.poll() is None and time.monotonic() < deadline:
        packed = packed_on_host(host)
        if packed:
            size = os.path.getsize(packed)
            written = next((path for path, got in copies(host, "storage").items()
                            if os.path.basename(path) == os.path.basename(packed) and got == size), None)
        if written is None:
            time.sleep(0.01)
    if written is not None:
        os.killpg(proc.pid, signal.SIGKILL)
    out = proc.communicate(timeout=600)[0]
    tally["faults injected"] += 1
    assert written is not None and proc.returncode == -signal.SIGKILL, \
        "the run ended before the copy was written: %s" % out[-3000:]
    # Under .incoming only: nothing the next run (or anyone listing the storage directory) takes for a copy.
    assert "/.incoming/" in written, written
    assert not finished_copies(host, "storage"), copies(host, "storage")
    again = start_playbook(host, "storage-after-kill", retries=0, overrides=to_storage(host))
    out = again.communicate(timeout=600)[0]
    assert again.returncode == 0, out[-3000:]
    # What the killed run left was removed and the backup copied again (not merely renamed into place).
    assert re.search(r"TASK \[[^\]]*Copy the packed backup to the storage host[^\]]*\] \**\nchanged: \[far -> store\b",
                     out), out[-3000:]
    finished = finished_copies(host, "storage")
    assert len(finished) == 1 and finished[0][1], finished
    assert not [path for path in copies(host, "storage") if "/.incoming/" in path], copies(host, "storage")
    tally["faults survived"] += 1


def test_storage_copy_without_room_on_the_controller_fails_and_copies_nothing(host, tally):
    reset(host)
    with tmpfs(host["base"] / "small-relay", "8m") as relay:
        proc = start_playbook(host, "no-room", retries=0,
                              overrides=to_storage(host, drkit_backup_copy_relay_dir=relay))
        out = proc.communicate(timeout=600)[0]
        left_in_relay = os.listdir(relay)
    tally["faults injected"] += 1
    assert proc.returncode != 0, out[-3000:]
    assert re.search(r"copying backup \S+ of far to store failed at 'Check that the controller has room to relay the "
                     r"backup': not enough free space on the controller to relay the backup: %s has 8\.0 MiB free, "
                     r"and the backup needs about 2\d\.\d MiB there \(its stored size, 2\d\.\d MiB from its header"
                     % re.escape(relay), out), out[-3000:]
    assert "Nothing was copied" in out and "drkit_backup_copy_relay_dir" in out, out[-3000:]
    # Nothing copied: not on the storage host, not staged on the controller, not even packed on the host.
    assert not copies(host, "storage"), copies(host, "storage")
    assert not left_in_relay, left_in_relay
    assert packed_on_host(host) is None
    tally["faults survived"] += 1


def test_backup_that_no_longer_verifies_is_not_copied(host, tally):
    reset(host)
    first = start_playbook(host, "unverified-take", retries=0,
                           overrides={"drkit_backup_copy": "none", "drkit_backup_verify": "full"})
    out = first.communicate(timeout=600)[0]
    assert first.returncode == 0, out[-3000:]
    (backup,) = glob.glob(str(host["base"] / "backups" / "files-full-*"))
    # A changed manifest whose checksum was made to match: the format's checksums (and packing) still pass, only
    # its MAC under the data key (verify: full) tells.
    header = os.path.join(backup, "header.json")
    with open(header, "rb") as handle:
        doc = json.loads(handle.read())
    doc["manifest"]["description"] = "changed after the backup"
    doc["manifestSha256"] = hashlib.sha256(canonjson.dumps(doc["manifest"])).hexdigest()
    with open(header, "wb") as handle:
        handle.write(canonjson.dumps(doc))
    tally["corruptions made"] += 1
    assert backup_info(backup, "checksum")["verified"]
    again = start_playbook(host, "unverified-copy", retries=0, overrides={"drkit_backup_verify": "full"})
    out = again.communicate(timeout=600)[0]
    assert again.returncode != 0, out[-3000:]
    assert re.search(r"backup %s on far failed its full verification and is not copied \(it is recorded as "
                     r"failed_verification, and retention does not count it\): " % os.path.basename(backup),
                     out), out[-3000:]
    # Recorded beside it: the next run does not take it for a recent backup.
    assert os.path.isfile(os.path.join(os.path.dirname(backup), ".verify", os.path.basename(backup) + ".json"))
    assert not copies(host), copies(host)
    assert packed_on_host(host) is None
    tally["corruptions detected"] += 1
