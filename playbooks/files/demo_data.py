# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sample data for the demo: an identity store (SQLite) and its configuration files.

    demo_data.py generate <dir>     writes <dir>/db/identity.db and <dir>/etc/...
    demo_data.py fingerprint <dir>  prints JSON: user count and the SHA-256 of every file

Only the Python standard library is used.
"""

import hashlib
import json
import os
import random
import sqlite3
import sys

USERS = 10000


def generate(root):
    rng = random.Random(20261123)
    os.makedirs(os.path.join(root, "db"), mode=0o750)
    os.makedirs(os.path.join(root, "etc", "tls"), mode=0o755)
    db = sqlite3.connect(os.path.join(root, "db", "identity.db"))
    db.executescript("""
        CREATE TABLE users (uid TEXT PRIMARY KEY, cn TEXT, mail TEXT, uid_number INTEGER,
                            password_hash TEXT, disabled INTEGER);
        CREATE TABLE groups (name TEXT PRIMARY KEY, gid_number INTEGER);
        CREATE TABLE members (grp TEXT, uid TEXT);
    """)
    first = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", [
        ("%s%05d" % (first[i % 10], i), "%s %d" % (first[i % 10].title(), i), "%s%05d@example.test" % (first[i % 10], i),
         100000 + i, hashlib.sha256(b"%d" % rng.getrandbits(64)).hexdigest(), int(rng.random() < 0.02))
        for i in range(USERS)])
    groups = ["admins", "developers", "operators", "auditors", "users"]
    db.executemany("INSERT INTO groups VALUES (?, ?)", [(g, 5000 + i) for i, g in enumerate(groups)])
    db.executemany("INSERT INTO members VALUES (?, ?)", [
        (groups[rng.randrange(len(groups))], "%s%05d" % (first[i % 10], i)) for i in range(USERS)])
    db.commit()
    db.close()
    os.chmod(os.path.join(root, "db", "identity.db"), 0o640)
    files = {
        "etc/idm.conf": "[server]\nrealm = EXAMPLE.TEST\nldap_uri = ldaps://idm1.example.test\nusers = %d\n" % USERS,
        "etc/logging.conf": "level = info\ntarget = /var/log/idm/idm.log\n",
        "etc/tls/ca.pem": "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n"
                          % hashlib.sha256(b"demo ca").hexdigest() * 8,
    }
    for name, content in files.items():
        with open(os.path.join(root, name), "w") as handle:
            handle.write(content)
    os.chmod(os.path.join(root, "etc", "idm.conf"), 0o600)


def fingerprint(root):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(root, "db", "identity.db"), uri=True)
    users = db.execute("SELECT count(*) FROM users").fetchone()[0]
    db.close()
    files = {}
    for directory, _dirs, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root)] = {
                    "sha256": hashlib.sha256(handle.read()).hexdigest(),
                    "mode": oct(os.stat(path).st_mode & 0o7777)}
    return {"users": users, "files": files}


if __name__ == "__main__":
    command, target = sys.argv[1], sys.argv[2]
    if command == "generate":
        generate(target)
    print(json.dumps(fingerprint(target)))
