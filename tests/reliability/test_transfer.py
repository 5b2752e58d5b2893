# -*- coding: utf-8 -*-
"""An interrupted transfer: the backup role copies a host's backup to the controller over SSH (a real sshd on
127.0.0.41, reached through a throttling relay, its ProxyCommand) and the connection is cut mid-copy:

- once (the relay killed while the copy grows): Ansible reconnects and retries, or the role fails with a
  clear message; either way the controller holds no copy that is not whole and identical;
- for good (every relay killed while the copy grows, no retries): a clear failure, and no copy left;
- the controller itself killed mid-copy: the next run does not take what it left for a finished copy.

Slow (several playbook runs): make reliability runs it, the quick subset does not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import faults
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys

from procs import COLLECTIONS
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
        inventory.write_text(
            "far ansible_host=%s ansible_port=%d ansible_user=root ansible_ssh_private_key_file=%s "
            "ansible_python_interpreter=%s ansible_ssh_common_args='-o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o ProxyCommand=\"%s %s %%h %%p %s %d\"'\n"
            % (ADDRESS, PORT, ssh / "client_key", sys.executable, sys.executable, ssh / "relay.py", relays, RATE))
        yield {"base": base, "inventory": inventory, "relays": relays, "keystore": store.path}
    finally:
        if pid:
            os.kill(pid, signal.SIGTERM)


def playbook(host, run):
    path = host["base"] / ("backup-%s.yml" % run)
    path.write_text("""- hosts: far
  gather_facts: false
  roles:
    - role: drkit.backup.backup
      vars:
        drkit_backup_provider: files
        drkit_backup_provider_options: {paths: [%(data)s]}
        drkit_backup_online: true
        drkit_backup_dest: %(base)s/backups
        drkit_backup_state_dir: %(base)s/state
        drkit_backup_keystore: %(keystore)s
        drkit_backup_verify: checksum
        drkit_backup_copy: controller
        drkit_backup_copy_dir: %(base)s/copies
        drkit_backup_max_age: 1d
""" % {"data": host["base"] / "data", "base": host["base"], "keystore": host["keystore"]})
    return path


def start_playbook(host, run, retries):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_SSH_RETRIES=str(retries),
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(host["base"] / "cp"), ANSIBLE_HOST_KEY_CHECKING="false")
    env.pop(faults.ENV, None)
    return subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                             str(host["inventory"]), str(playbook(host, run))], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def copies(host):
    """Every file under the controller's copy directory: path -> size."""
    found = {}
    for directory, _dirs, names in os.walk(str(host["base"] / "copies")):
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


def finished_copies(host):
    """The copies the controller holds under a copy's name (not .incoming): each must be whole."""
    result = []
    for path in copies(host):
        if "/.incoming/" in path:
            continue
        info = backup_info(path, "checksum")
        result.append((path, info["verified"]))
    return result


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def reset(host):
    shutil.rmtree(str(host["base"] / "copies"), ignore_errors=True)
    shutil.rmtree(str(host["base"] / "backups"), ignore_errors=True)


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
