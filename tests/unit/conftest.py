# -*- coding: utf-8 -*-
"""Shared fixtures for the engine's unit tests (no Ansible process needed)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import workers
from ansible_collections.drkit.backup.plugins.module_utils.host import state as host_state
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys
from kanidm_server import Kanidm
from keycloak_server import DB_PASSWORD as KEYCLOAK_DB_PASSWORD, Keycloak
from slapd_server import Slapd


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Every test gets its own host state directory (never the real /var/lib/drkit)."""
    path = str(tmp_path / "state")
    monkeypatch.setattr(host_state, "DEFAULT_STATE_DIR", path)
    monkeypatch.setattr(host_state, "LOCK_WAIT", 0.3)  # a busy lock fails fast in tests
    return path


@pytest.fixture
def pool():
    with workers.worker_pool() as threads:
        yield threads


@pytest.fixture
def keystore(tmp_path):
    """A keystore holding one default system key."""
    store = keys.Keystore(str(tmp_path / "keys"))
    key = keys.BackupKey.generate("main", "system", None)
    store.add(key)
    store.set_default(key, True)
    return store


@pytest.fixture
def data_tree(tmp_path):
    """A small directory tree with a text file, a binary file, an empty file, a symlink and a subdirectory."""
    root = tmp_path / "data"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "app.conf").write_text("listen = 127.0.0.1\nusers = 10000\n" * 50)
    (root / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "empty").write_bytes(b"")
    os.symlink("conf/app.conf", str(root / "link"))
    os.chmod(str(root / "conf" / "app.conf"), 0o640)
    return root


@pytest.fixture
def backup_dir(tmp_path, keystore, data_tree):
    """A finished, encrypted backup of ``data_tree``; returns its path."""
    result = create_backup(keystore, "files", {"paths": [str(data_tree)]},
                           dest=str(tmp_path / "backups"))
    return result["path"]


# --- real GnuPG, SoftHSM2 and X.509 for the protection tests ---------------------------------

SOFTHSM_MODULE = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"
HSM_PIN = "123456"


def require(*tools):
    """Skips when a real tool is missing, except in CI (CI=true), where that is a failure."""
    import shutil
    missing = [tool for tool in tools if not (shutil.which(tool) or os.path.exists(tool))]
    if missing:
        message = "not installed here: %s (make deps installs them)" % ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run(*argv, **kwargs):
    import subprocess
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="session")
def gnupg_home(tmp_path_factory):
    """A GNUPGHOME with three keys: backup@ (no passphrase), locked@ (passphrase), old@ (expired).

    Only one test opens locked@ (the agent then remembers its passphrase for the session).
    """
    require("gpg", "gpgconf")
    home = str(tmp_path_factory.mktemp("gpg"))
    os.chmod(home, 0o700)
    env = dict(os.environ, GNUPGHOME=home)
    run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Backup <backup@example.test>",
        "future-default", "default", "0", env=env)
    run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "pass phrase 1", "--quick-gen-key",
        "Locked <locked@example.test>", "future-default", "default", "0", env=env)
    run("gpg", "--batch", "--faked-system-time", "20200101T000000", "--passphrase", "", "--quick-gen-key",
        "Old <old@example.test>", "future-default", "default", "1d", env=env)
    run("gpgconf", "--kill", "gpg-agent", env=env)  # forget the cached passphrase of locked@
    yield home
    run("gpgconf", "--kill", "gpg-agent", env=env)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory):
    """A real SoftHSM2 with two tokens: 'drkit' and 'elsewhere', each with its own AES key labelled 'root'.

    The PKCS#11 library reads SOFTHSM2_CONF once per process, so the tokens are made once per session.
    """
    require(SOFTHSM_MODULE, "softhsm2-util", "pkcs11-tool")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n" % (base / "tokens"))
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for token in ("drkit", "elsewhere"):
        run("softhsm2-util", "--init-token", "--free", "--label", token, "--so-pin", "12345678", "--pin", HSM_PIN)
        run("pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", token, "--login", "--pin", HSM_PIN,
            "--keygen", "--key-type", "AES:32", "--label", "root", "--sensitive")
    return {"module": SOFTHSM_MODULE, "token_label": "drkit", "key_label": "root", "pin": HSM_PIN}


def _certificate(subject, issuer_name, issuer_key, key, is_ca, extensions=(), days=(-1, 30), path_length=None):
    """A certificate valid from ``days[0]`` to ``days[1]`` days from now; ``extensions`` are (value, critical)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True))
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(digital_signature=False, key_encipherment=False, key_cert_sign=False, crl_sign=False):
    from cryptography import x509
    return (x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                          key_encipherment=key_encipherment, data_encipherment=False, key_agreement=False,
                          key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False, decipher_only=False),
            True)


def _crl(issuer_name, issuer_key, revoked=(), days=(-1, 7)):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .last_update(now + datetime.timedelta(days=days[0])).next_update(now + datetime.timedelta(days=days[1])))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(now - datetime.timedelta(hours=1)).build())
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """PEM (and one DER) files of certificates, keys and CRLs.

    - site_*, other_*: two CAs with basic constraints only, each with a signer (``*_ca``, ``*_signer``, ``*_key``);
    - root_ca, intermediate_ca (issued by root_ca, path length 0) and chain_signer (issued by the intermediate,
      for code signing, key chain_key); chain_bundle holds chain_signer then intermediate_ca, root_bundle holds
      root_ca then intermediate_ca; root_short is root_ca again (same name and key) with a path length of 0;
      uncertified_bundle is a signer under an intermediate whose key usage lacks keyCertSign;
    - leaves issued by site_ca with leaf_key: nosig_signer (key usage keyEncipherment only), serverauth_signer
      (extended key usage serverAuth), docsign_signer (document signing), expired_signer (expired yesterday);
    - CRLs: site_crl (site_ca revokes site_signer), root_crl_der (root_ca revokes intermediate_ca, DER),
      intermediate_crl (revokes nothing), stale_crl (site_ca, due yesterday), forged_crl (names site_ca as its
      issuer but signed by other_ca's key);
    - nocrl_ca (key usage keyCertSign but not cRLSign), its nocrl_signer (leaf_key) and its nocrl_crl.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    base = tmp_path_factory.mktemp("pki")
    files = {}

    def write(label, *objects, der=False):
        path = base / ("%s.%s" % (label, "der" if der else "pem"))
        encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
        path.write_bytes(b"".join(obj.public_bytes(encoding) for obj in objects))
        files[label] = str(path)

    def write_key(label, key):
        path = base / ("%s.key" % label)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        files[label] = str(path)

    ca_keys, signers = {}, {}
    for name, make_key in (("site", lambda: ec.generate_private_key(ec.SECP256R1())),
                           ("other", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))):
        ca_key, signer_key = make_key(), make_key()
        ca = _certificate("%s backup CA" % name, "%s backup CA" % name, ca_key, ca_key, True)
        signer = _certificate("%s backup signer" % name, "%s backup CA" % name, ca_key, signer_key, False)
        ca_keys[name], signers[name] = ca_key, signer
        write("%s_ca" % name, ca)
        write("%s_signer" % name, signer)
        write_key("%s_key" % name, signer_key)

    def ec_key():
        return ec.generate_private_key(ec.SECP256R1())

    issuing = _key_usage(key_cert_sign=True, crl_sign=True)
    signing = _key_usage(digital_signature=True)
    code_signing = (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]), False)
    root_key, intermediate_key, chain_key, leaf_key = ec_key(), ec_key(), ec_key(), ec_key()
    root = _certificate("chain root CA", "chain root CA", root_key, root_key, True, [issuing])
    root_short = _certificate("chain root CA", "chain root CA", root_key, root_key, True, [issuing], path_length=0)
    intermediate = _certificate("chain intermediate CA", "chain root CA", root_key, intermediate_key, True,
                                [issuing], path_length=0)
    chain_signer = _certificate("chain backup signer", "chain intermediate CA", intermediate_key, chain_key, False,
                                [signing, code_signing])
    uncertified = _certificate("uncertified intermediate CA", "chain root CA", root_key, intermediate_key, True,
                               [signing])
    under_uncertified = _certificate("uncertified backup signer", "uncertified intermediate CA", intermediate_key,
                                     chain_key, False, [signing])
    write("root_ca", root)
    write("root_short", root_short)
    write("intermediate_ca", intermediate)
    write("chain_signer", chain_signer)
    write("chain_bundle", chain_signer, intermediate)
    write("root_bundle", root, intermediate)
    write("uncertified_bundle", under_uncertified, uncertified)
    write_key("chain_key", chain_key)

    site_key = ca_keys["site"]
    for label, extensions, days in (
            ("nosig_signer", [_key_usage(key_encipherment=True)], (-1, 30)),
            ("serverauth_signer", [(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)],
             (-1, 30)),
            ("docsign_signer", [signing, (x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]),
                                          False)], (-1, 30)),
            ("expired_signer", [], (-10, -1))):
        write(label, _certificate(label.replace("_", " "), "site backup CA", site_key, leaf_key, False, extensions,
                                  days))
    write_key("leaf_key", leaf_key)
    nocrl_key = ec_key()
    write("nocrl_ca", _certificate("no CRL CA", "no CRL CA", nocrl_key, nocrl_key, True,
                                   [_key_usage(key_cert_sign=True)]))
    write("nocrl_signer", _certificate("no CRL signer", "no CRL CA", nocrl_key, leaf_key, False, [signing]))
    write("nocrl_crl", _crl("no CRL CA", nocrl_key))

    write("site_crl", _crl("site backup CA", site_key, [signers["site"]]))
    write("stale_crl", _crl("site backup CA", site_key, days=(-10, -1)))
    write("forged_crl", _crl("site backup CA", ca_keys["other"], [signers["site"]]))
    write("root_crl_der", _crl("chain root CA", root_key, [intermediate]), der=True)
    write("intermediate_crl", _crl("chain intermediate CA", intermediate_key))
    return files


# --- a real PostgreSQL server (tests/servers/postgresql.sh), once per session ----------------------

POSTGRES_ADMIN_PASSWORD = "Adm1n pass:word"


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of the tests' own: ``host`` (its socket directory, where the role postgres is trusted),
    ``port``, and ``admin``, a superuser that logs in with ``admin_password`` (over TCP on 127.0.0.1 too)."""
    require("/usr/lib/postgresql", "runuser", "psql", "pg_dump", "pg_restore")
    script = os.path.join(os.path.dirname(__file__), os.pardir, "servers", "postgresql.sh")
    where, port = "/var/tmp/drkit-tests-pg/unit", "55433"
    os.makedirs(os.path.dirname(where), mode=0o755, exist_ok=True)
    run(script, "start", where, port)
    server = {"host": where, "port": int(port), "admin": "drkit_admin", "admin_password": POSTGRES_ADMIN_PASSWORD}
    psql(server, "DROP ROLE IF EXISTS drkit_admin; CREATE ROLE drkit_admin SUPERUSER LOGIN PASSWORD %s;"
         % ("'%s'" % POSTGRES_ADMIN_PASSWORD))
    try:
        yield server
    finally:
        run(script, "stop", where)


def psql(server, sql, database="postgres"):
    """The rows of ``sql`` as the trusted role postgres, each a tuple of strings."""
    # From standard input, each statement on its own (DROP DATABASE cannot run inside a transaction block).
    out = run("psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", "|", "-h", server["host"],
              "-p", str(server["port"]), "-U", "postgres", "-d", database, "-f", "-", input=sql).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line]


# --- a real MariaDB server (tests/servers/mariadb.sh), once per session ----------------------------

MARIADB_ADMIN_PASSWORD = "Adm1n \"pass\":word"


@pytest.fixture(scope="session")
def mariadb_server():
    """A MariaDB server of the tests' own: ``socket`` (where root logs in as the OS user root), ``port``, and
    ``admin``, an account with every privilege that logs in with ``admin_password`` (over TCP on 127.0.0.1 too)."""
    require("mariadbd", "mariadb", "mariadb-dump", "mariadb-install-db")
    script = os.path.join(os.path.dirname(__file__), os.pardir, "servers", "mariadb.sh")
    where, port = "/var/tmp/drkit-tests-mariadb/unit", "55306"
    os.makedirs(os.path.dirname(where), mode=0o755, exist_ok=True)
    run(script, "start", where, port)
    server = {"socket": os.path.join(where, "mysqld.sock"), "port": int(port), "admin": "drkit_admin",
              "admin_password": MARIADB_ADMIN_PASSWORD}
    password = MARIADB_ADMIN_PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
    mariadb(server, "CREATE OR REPLACE USER drkit_admin@'%%' IDENTIFIED BY '%s'; "
                    "GRANT ALL PRIVILEGES ON *.* TO drkit_admin@'%%' WITH GRANT OPTION;" % password)
    try:
        yield server
    finally:
        run(script, "stop", where)


@pytest.fixture(scope="session")
def mariadb_physical_server():
    """A second MariaDB server of the tests' own, for the physical backups, whose restores stop it and replace its
    data directory: ``socket``, ``port``, ``datadir``, ``where`` and the ``script`` that starts and stops it."""
    require("mariadbd", "mariadb", "mariadb-install-db", "mariadb-backup", "mbstream")
    script = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "servers", "mariadb.sh"))
    where, port = "/var/tmp/drkit-tests-mariadb/physical", "55308"
    os.makedirs(os.path.dirname(where), mode=0o755, exist_ok=True)
    run(script, "start", where, port)
    server = {"socket": os.path.join(where, "mysqld.sock"), "port": int(port), "where": where,
              "datadir": os.path.join(where, "data"), "script": script}
    try:
        yield server
    finally:
        run(script, "stop", where)


def mariadb(server, sql, database=None):
    """The rows of ``sql`` as root over the socket, each a tuple of strings."""
    out = run("mariadb", "--no-defaults", "--socket=%s" % server["socket"], "-u", "root", "--batch",
              "--skip-column-names", "--raw", *(["--database=%s" % database] if database else []), input=sql).stdout
    return [tuple(line.split("\t")) for line in out.splitlines() if line]


@pytest.fixture
def command_lines(monkeypatch):
    """Every command line started while the test runs (subprocess.Popen's argv, joined): where a secret must
    never be, since every user of the host can read them."""
    import subprocess
    seen = []
    real_popen = subprocess.Popen

    def recording(argv, *args, **kwargs):
        seen.append(" ".join(argv))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording)
    return seen


def killed_halfway(path, real_tool, after=65536):
    """Writes at ``path`` a stand-in that runs ``real_tool`` and is killed (SIGKILL) once it has written ``after``
    bytes, as if the OOM killer took it."""
    import sys
    with open(path, "w") as out:
        out.write(KILLED_HALFWAY % (sys.executable, real_tool, after))
    os.chmod(path, 0o755)


KILLED_HALFWAY = """#!%s
import os, signal, subprocess, sys
child = subprocess.Popen([%r] + sys.argv[1:], stdout=subprocess.PIPE)
sys.stdout.buffer.write(child.stdout.read(%d))
sys.stdout.buffer.flush()
child.kill()
os.kill(os.getpid(), signal.SIGKILL)
"""


def database_drill_passed(drilled, scratch, user_check):
    """A database drill passed every check (the user's last), and left no scratch directory and no server."""
    import subprocess
    assert drilled["passed"], drilled["checks"]
    assert [step["name"] for step in drilled["checks"]] == ["verify", "restore", "health", "databases", "content",
                                                            user_check]
    assert "the restored instance holds what the backup says" in drilled["checks"][-2]["message"]
    assert drilled["torn_down"] and not os.path.exists(scratch)
    assert subprocess.run(["pgrep", "-f", scratch], check=False).returncode == 1  # no scratch server left


@pytest.fixture(scope="session")
def ldap_server():
    """The tests' slapd on port 55389, its data loaded afresh by ``reset()`` (the tests that change it call it)."""
    require("slapd", "slapadd", "slapcat", "ldapsearch", "ldapadd", "ldapdelete", "ldapwhoami", "slappasswd")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "servers", "slapd.sh")
    os.makedirs("/var/tmp/drkit-tests-ldap", mode=0o755, exist_ok=True)
    server = Slapd(os.path.abspath(script), "/var/tmp/drkit-tests-ldap/unit", 55389)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- an emulated Keycloak (tests/emulators/keycloak) on the real PostgreSQL server, once per session ----------

@pytest.fixture(scope="session")
def keycloak_server(postgres_server):
    """The emulated Keycloak under /var/tmp/drkit-tests-kc/unit on 127.0.0.42:18081 (management 19001), its database
    keycloak (owned by the role keycloak, which may create databases) on the tests' PostgreSQL; running."""
    psql(postgres_server, "DROP DATABASE IF EXISTS keycloak WITH (FORCE); DROP ROLE IF EXISTS keycloak;")
    psql(postgres_server, "CREATE ROLE keycloak LOGIN CREATEDB PASSWORD '%s';" % KEYCLOAK_DB_PASSWORD.replace("'", "''"))
    psql(postgres_server, "CREATE DATABASE keycloak OWNER keycloak;")
    home = "/var/tmp/drkit-tests-kc/unit"
    server = Keycloak(home, postgres_server, "keycloak", "127.0.0.42", 18081, 19001)
    server.create_afresh()
    try:
        yield server
    finally:
        server.destroy()
        psql(postgres_server, "DROP DATABASE IF EXISTS keycloak WITH (FORCE);")


@pytest.fixture(scope="session")
def keycloak_mariadb_server(mariadb_server):
    """A second emulated Keycloak, on MariaDB: under /var/tmp/drkit-tests-kc/unit-mariadb on 127.0.0.42:18082
    (management 19002), its database keycloak on the tests' MariaDB, the account keycloak's; running."""
    password = KEYCLOAK_DB_PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
    mariadb(mariadb_server, "DROP DATABASE IF EXISTS keycloak; CREATE DATABASE keycloak; CREATE OR REPLACE USER "
                            "keycloak@'%%' IDENTIFIED BY '%s'; GRANT ALL PRIVILEGES ON keycloak.* TO keycloak@'%%'; "
                            # the mysql provider's snapshot lock (FLUSH TABLES WITH READ LOCK) needs RELOAD
                            "GRANT RELOAD ON *.* TO keycloak@'%%';" % password)
    home = "/var/tmp/drkit-tests-kc/unit-mariadb"
    server = Keycloak(home, mariadb_server, "keycloak", "127.0.0.42", 18082, 19002, vendor="mariadb")
    server.create_afresh()
    try:
        yield server
    finally:
        server.destroy()
        mariadb(mariadb_server, "DROP DATABASE IF EXISTS keycloak;")


# --- an emulated Kanidm (tests/emulators/kanidm), on its own SQLite database, once per session ----------------

@pytest.fixture(scope="session")
def kanidm_server():
    """The emulated kanidmd under /var/tmp/drkit-tests-kanidm/unit on https://127.0.0.43:18443; each test makes it
    afresh (Kanidm.create_afresh) with the release and [online_backup] it needs."""
    os.makedirs("/var/tmp/drkit-tests-kanidm", mode=0o755, exist_ok=True)
    server = Kanidm("/var/tmp/drkit-tests-kanidm/unit", "127.0.0.43", 18443)
    try:
        yield server
    finally:
        server.destroy()


# --- emulated CipherTrust Manager appliances (tests/emulators/ciphertrust), once per session -------------------

def running_afresh(server):
    """An emulated appliance made afresh (create_afresh also makes its parent directory), running for the
    session, destroyed afterwards."""
    server.create_afresh()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def ciphertrust_server():
    """The emulated CipherTrust Manager 2.19.0 under /var/tmp/drkit-tests-ct/unit on https://127.0.0.44:18444/api/v1
    (its CA at .ca_path), operations of 0.3 s and a restart of 0.5 s; running."""
    from ciphertrust_server import CipherTrust

    yield from running_afresh(CipherTrust("/var/tmp/drkit-tests-ct/unit", "127.0.0.44", 18444))


@pytest.fixture(scope="session")
def ciphertrust_second():
    """A second, empty appliance like ciphertrust_server under /var/tmp/drkit-tests-ct/second on
    https://127.0.0.45:18445/api/v1 (its own CA), for restores onto another appliance; running."""
    from ciphertrust_server import CipherTrust

    yield from running_afresh(CipherTrust("/var/tmp/drkit-tests-ct/second", "127.0.0.45", 18445))


@pytest.fixture(scope="session")
def scp_host():
    """A real sshd on 127.0.0.47:2247 (sshd_server.Sshd) that the appliances' SCP transfers send to, as root."""
    from sshd_server import Sshd

    require("/usr/sbin/sshd", "scp", "ssh-keygen")
    if os.geteuid() != 0:
        pytest.fail("the SCP tests log in to sshd as root: run them as root")
    server = Sshd("/var/tmp/drkit-tests-ct/sshd", "127.0.0.47", 2247)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- emulated IBM MQ Appliances (tests/emulators/mq_appliance), once per session -----------------------------

@pytest.fixture(scope="session")
def mqa_server():
    """The emulated MQ Appliance (firmware 9.4.1.0) under /var/tmp/drkit-tests-mqa/unit on
    https://127.0.0.56:15554/mgmt/ (its CA at .ca_path) and its CLI over SSH on 127.0.0.56:2256, in service; tests
    that reinitialize it make it afresh."""
    from mqa_server import MQAppliance

    require("openssl", "/usr/sbin/sshd", "ssh", "ssh-keygen")
    yield from running_afresh(MQAppliance("/var/tmp/drkit-tests-mqa/unit", "127.0.0.56", 15554, 2256))


@pytest.fixture(scope="session")
def mqa_second():
    """A second appliance like mqa_server on https://127.0.0.57:15555/mgmt/ (CLI on port 2257), the target of
    restores."""
    from mqa_server import MQAppliance

    yield from running_afresh(MQAppliance("/var/tmp/drkit-tests-mqa/second", "127.0.0.57", 15555, 2257))
