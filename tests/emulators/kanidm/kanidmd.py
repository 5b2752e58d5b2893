# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for the ``kanidmd`` program of a Kanidm server, on a real SQLite database (kanidm_db.py).

Kanidm is a Rust server whose release this machine cannot download. Documents followed (commands, options,
messages, exit codes, file formats), all of kanidm/kanidm at v1.11.1 (``../shared/reference/
notes-keycloak-kanidm-databases.md`` sections 6-8, ``002_3362d2c8aa700673.txt``):

- server/daemon/src/opt.rs and main.rs: ``kanidmd [-c|--config-path server.toml] server | configtest |
  cert-generate | version | database backup PATH | database restore PATH | database verify | database reindex |
  database vacuum`` (``-c`` global, ``KANIDM_CONFIG`` when absent); releases before 1.1.0-alpha.9 spell the database
  commands at the top (``kanidmd backup PATH``, PR #872) and have ``--version``, no ``version``; ``version`` prints
  ``kanidmd <release>``; a configuration that does not parse: "ERROR: Configuration Parse Failure: ..." and exit 1;
  every command that opens the database takes the exclusive lock ``<db_path without extension>.klock`` ("ERROR:
  Refusing to start - unable to lock kanidmd exclusive lock at ...", exit 1), which a running server holds;
- server/core/src/lib.rs: backup's "backup file ... already exists, will not overwrite it.", backend and
  File::create errors all exit 0 having written nothing, "Backup success!"; restore's file-open and backend errors
  exit 0, "Failed to restore database: ..." exits 1, "✅ Restore Success!" after the reindex; verify's
  "Verification passed!", its errors exit 1 and its setup errors exit 0; "✅ Reindex Success!"; "Vacuum Success!"
  on standard error;
- server/core/src/config.rs: ServerConfig/ServerConfigV2 with deny_unknown_fields, [online_backup] (path
  defaulting to db_path's directory, schedule required, versions 7, enabled true, compression gzip unless
  none/nocompression, the backup's own compression too); be/mod.rs: BackupCompression::identify_file (gzip only for
  a name ending .gz), the DbBackup V5 JSON (kanidm_db.py), DB0001/DB0002;
- server/core/src/actors/v1_read.rs and interval.rs: online backups ``backup-<RFC 3339 UTC>.json[.gz]`` on a cron
  schedule in UTC (five fields get seconds 0 prepended), an existing file not overwritten, the oldest beyond
  ``versions`` of those named so removed (https.py).

UNCONFIRMED, chosen here: the log line layout (``<time> LEVEL message``); the built-in entries (kanidm_db.py).
Differs on purpose: SQLite with one index (kanidm_db.py); cert-generate makes one self-signed certificate with
openssl; account recovery is kanidm-emulator's ``account-password`` (kanidmd's goes through the admin socket).
"""

from __future__ import annotations

import datetime
import fcntl
import gzip
import os
import sqlite3
import subprocess
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kanidm_db import Store, StoreError  # noqa: E402

RELEASE = os.environ.get("KANIDMD_EMULATOR_RELEASE", "1.11.1")
# Faults on demand, for the tests through playbooks (which cannot race kanidmd): target-exists, restore-unreadable.
FAULT = os.environ.get("KANIDMD_EMULATOR_FAULT", "")
TOP_KEYS = {"version", "domain", "origin", "db_path", "db_fs_type", "tls_chain", "tls_key", "tls_client_ca",
            "migration_path", "bindaddress", "ldapbindaddress", "role", "log_level", "online_backup",
            "trust_x_forward_for", "http_client_address_info", "ldap_client_address_info", "adminbindpath",
            "thread_count", "maximum_request_size_bytes", "db_arc_size", "replication", "otel_grpc_endpoint"}
BACKUP_KEYS = {"path", "schedule", "versions", "enabled", "compression"}
DATABASE_COMMANDS = ("backup", "restore", "verify", "reindex", "vacuum")


def release_tuple(release=RELEASE):
    core, _sep, pre = release.partition("-")
    numbers = tuple(int(part) for part in core.split("."))
    return numbers + (int(pre.rsplit(".", 1)[-1]) if pre else 1 << 30,)


def series():
    return "%d.%d" % release_tuple()[:2]


def log(level, message, stream=None):
    moment = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    print("%s %-5s %s" % (moment, level, message), file=stream or sys.stdout, flush=True)


def usage(message):
    print("error: %s\n\nUsage: kanidmd [OPTIONS] <COMMAND>\n\nFor more information, try '--help'." % message,
          file=sys.stderr)
    return 2


class Config:
    """server.toml, parsed as kanidmd parses it."""

    def __init__(self, path):
        with open(path, "rb") as handle:
            values = tomllib.load(handle)
        unknown = sorted(set(values) - TOP_KEYS)
        if unknown:
            raise ValueError("unknown field `%s`" % unknown[0])
        backup = values.get("online_backup")
        if backup is not None:
            if sorted(set(backup) - BACKUP_KEYS):
                raise ValueError("unknown field `%s` in online_backup" % sorted(set(backup) - BACKUP_KEYS)[0])
            if "schedule" not in backup:
                raise ValueError("missing field `schedule` in online_backup")
        self.values = values
        self.home = os.path.dirname(os.path.abspath(path))

    def path(self, key):
        value = self.values.get(key)
        return os.path.join(self.home, value) if value and not os.path.isabs(value) else value

    @property
    def db_path(self):
        return self.path("db_path")

    def online_backup(self):
        section = dict(self.values.get("online_backup") or {})
        if not section:
            return None
        section.setdefault("versions", 7)
        section.setdefault("enabled", True)
        section["path"] = os.path.join(self.home, section["path"]) if section.get("path") else \
            os.path.dirname(self.db_path)
        return section

    def gzip(self):
        compression = str((self.values.get("online_backup") or {}).get("compression", "gzip")).lower()
        return compression not in ("none", "nocompression")


class Lock:
    """kanidmd's exclusive lock beside the database."""

    def __init__(self, db_path):
        self.path = os.path.splitext(db_path)[0] + ".klock"
        self.handle = None

    def __enter__(self):
        try:
            self.handle = open(self.path, "w")
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log("ERROR", "ERROR: Refusing to start - unable to lock kanidmd exclusive lock at %s" % self.path)
            raise SystemExit(1)
        return self

    def __exit__(self, *exc):
        self.handle.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def open_store(config, failure="Failed to setup BE"):
    """The backend (setup_backend), None (logged) when it cannot open."""
    try:
        if not os.path.isdir(os.path.dirname(config.db_path)):
            raise OSError("unable to open database file: %s" % config.db_path)
        return Store(config.db_path)
    except (OSError, StoreError, sqlite3.Error) as exc:
        log("ERROR", "%s: %s" % (failure, exc))
        return None


def backup(config, path):
    store = open_store(config)
    if store is None:
        return 0
    if FAULT == "target-exists":  # another writer got there first
        open(path, "ab").close()
    if os.path.exists(path):
        log("ERROR", "backup file %s already exists, will not overwrite it." % path)
        return 0
    try:
        text = store.backup(series())
    except StoreError as exc:
        log("ERROR", "Backup failed: %s" % exc)
        return 1
    try:
        output = open(path, "wb")
    except OSError as exc:
        log("ERROR", "File::create error creating %s: %s" % (path, exc))
        return 0
    with output:
        data = text.encode()
        output.write(gzip.compress(data, 9) if config.gzip() else data)
    log("INFO", "Backup success!")
    return 0


def restore(config, path):
    if not os.path.exists(config.db_path):
        open(config.db_path, "ab").close()
    store = open_store(config, "Failed to setup backend")
    if store is None:
        return 0
    try:
        if FAULT == "restore-unreadable":  # as when the file's mount went away
            raise PermissionError(13, "Permission denied")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        log("ERROR", "File::open error reading %s: %s" % (path, exc))
        return 0
    try:
        text = gzip.decompress(data).decode() if path.endswith(".gz") else data.decode()
        count = store.restore(text, series())
    except (OSError, EOFError, UnicodeDecodeError, StoreError) as exc:
        log("ERROR", "Failed to restore database: Err(%s)" % exc)
        return 1
    log("INFO", "Database loaded successfully (%d entries)" % count)
    store.reindex()
    log("INFO", "✅ Restore Success!")
    return 0


def verify(config):
    store = open_store(config)
    if store is None:
        return 0
    problems = store.verify()
    for problem in problems:
        log("ERROR", problem)
    if problems:
        return 1
    print("Verification passed!", file=sys.stderr)
    return 0


def database(config, command, args):
    if command in ("backup", "restore") and len(args) != 1:
        return usage("the following required arguments were not provided: <PATH>")
    with Lock(config.db_path):
        if command == "backup":
            return backup(config, os.path.abspath(args[0]))
        if command == "restore":
            return restore(config, os.path.abspath(args[0]))
        if command == "verify":
            return verify(config)
        store = open_store(config)
        if store is None:
            return 0
        if command == "reindex":
            store.reindex()
            log("INFO", "✅ Reindex Success!")
        else:
            store.vacuum()
            print("Vacuum Success!", file=sys.stderr)
        return 0


def configtest(config):
    log("INFO", "Running in server configuration test mode ...")
    for key in ("tls_chain", "tls_key"):
        if config.path(key) and not os.path.isfile(config.path(key)):
            log("ERROR", "Unable to read metadata for TLS %s file '%s'" % (key[4:], config.path(key)))
            return 1
    if not config.db_path:
        log("ERROR", "No db_path set in configuration, server startup will FAIL!")
        return 1
    return 0


def cert_generate(config):
    chain, key = config.path("tls_chain"), config.path("tls_key")
    if not chain or not key:
        log("ERROR", "Unable to find TLS configuration")
        return 1
    if os.path.exists(chain) and os.path.exists(key):
        log("INFO", "TLS key and chain already exist - remove them first if you intend to regenerate these")
        return 0
    host = (config.values.get("origin") or "https://localhost").split("://", 1)[1].split(":")[0].split("/")[0]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", chain, "-days", "30", "-subj", "/CN=%s" % host,
                    "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % host], check=True, capture_output=True)
    os.chmod(key, 0o600)
    log("INFO", "certificate generation complete")
    return 0


def main(argv):
    args, config_path = [], os.environ.get("KANIDM_CONFIG")
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg in ("-c", "--config-path"):
            if not rest:
                return usage("a value is required for '--config-path <CONFIG_PATH>' but none was supplied")
            config_path = rest.pop(0)
        elif arg.startswith("--config-path="):
            config_path = arg.split("=", 1)[1]
        else:
            args.append(arg)
    old = release_tuple() < (1, 1, 0, 9)
    if args[:1] == ["--version"] and old or args[:1] == ["version"] and not old:
        print("kanidmd %s" % RELEASE)
        return 0
    if not args:
        return usage("'kanidmd' requires a subcommand but one was not provided")
    if old and args[0] in DATABASE_COMMANDS:
        command, extra = args[0], args[1:]
    elif not old and args[0] == "database" and len(args) > 1 and args[1] in DATABASE_COMMANDS:
        command, extra = args[1], args[2:]
    elif args[0] in ("server", "configtest", "cert-generate"):
        command, extra = args[0], args[1:]
    else:
        return usage("unrecognized subcommand '%s'" % args[0])
    if not config_path:
        print("WARNING: No configuration path was provided, relying on environment variables.", file=sys.stderr)
        print("ERROR: Unable to build server configuration from provided configuration inputs.", file=sys.stderr)
        return 1
    try:
        config = Config(config_path)
    except (OSError, ValueError) as exc:
        print("ERROR: Configuration Parse Failure: %s" % exc, file=sys.stderr)
        return 1
    if command == "configtest":
        return configtest(config)
    if command == "cert-generate":
        return cert_generate(config)
    if command == "server":
        import https  # the server only: the offline commands need no HTTPS
        if configtest(config):
            return 1
        with Lock(config.db_path):
            return https.serve(config, series())
    return database(config, command, extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
