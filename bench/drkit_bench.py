# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drkit operations the benchmark times, each in its own process (so its peak RSS is its own).

    drkit_bench.py create  KEYSTORE DEST PATH...      back up PATHs (files provider) into DEST
    drkit_bench.py verify  KEYSTORE BACKUP checksum|full
    drkit_bench.py restore KEYSTORE BACKUP TARGET
    drkit_bench.py offline KEYSTORE DEST SERVICE_SCRIPT PATH   offline backup stopping SERVICE_SCRIPT's service
    drkit_bench.py hash    PATH...                    the machine's limit: read and SHA-256 everything once
    drkit_bench.py db-create  PROVIDER KEYSTORE DEST CONNECTION DATABASE        a database provider, one database
    drkit_bench.py db-restore PROVIDER KEYSTORE BACKUP CONNECTION DATABASE AS   restore it as database AS
                   (CONNECTION: the provider's connection options, as JSON)

Prints one JSON object. It calls the collection's engine (module_utils) directly, as the modules do,
without Ansible around it.
"""

import hashlib
import json
import os
import sys

from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.info import backup_info
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.keystore import Keystore
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker


def read_and_hash(paths):
    total = 0
    digest = hashlib.sha256()
    for path in paths:
        for directory, _dirs, names in os.walk(path) if os.path.isdir(path) else [(os.path.dirname(path), [], [os.path.basename(path)])]:
            for name in sorted(names):
                with open(os.path.join(directory, name), "rb") as handle:
                    while True:
                        data = handle.read(1 << 20)
                        if not data:
                            break
                        digest.update(data)
                        total += len(data)
    return {"bytes": total, "sha256": digest.hexdigest()}


def main(argv):
    command = argv[0]
    if command == "hash":
        return read_and_hash(argv[1:])
    if command.startswith("db-"):
        provider, connection = argv[1], json.loads(argv[4])
        store = Keystore(argv[2])
        if command == "db-create":
            result = create_backup(store, provider, dict(connection, databases=[argv[5]], globals=False),
                                   online=True, dest=argv[3])
            return {"path": result["path"], "stored": result["backup"]["storedSize"]}
        result = restore_backup(Unlocker(store), argv[3], provider_options=dict(
            connection, globals=False, target_databases={argv[5]: argv[6]}))
        return {"changed": result["changed"]}
    store = Keystore(argv[1])
    if command == "create":
        result = create_backup(store, "files", {"paths": argv[3:]}, dest=argv[2])
        return {"path": result["path"], "stored": result["backup"]["storedSize"]}
    if command == "offline":
        script, path = argv[3], argv[4]
        result = create_backup(store, "files", {"paths": [path], "services": ["bench"]}, dest=argv[2],
                               stop_command=script + " stop {service}",
                               start_command=script + " start {service}")
        return {"path": result["path"], "downtime": result["downtime_seconds"],
                "duration": result["duration_seconds"]}
    if command == "verify":
        result = backup_info(argv[2], argv[3], Unlocker(store))
        if not result["verified"]:
            raise SystemExit("verification failed: %s" % result["problems"])
        return {"verified": True}
    if command == "restore":
        result = restore_backup(Unlocker(store), argv[2], provider_options={"target_root": argv[3]})
        return {"changed": result["changed"]}
    raise SystemExit("unknown command %s" % command)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
