# -*- coding: utf-8 -*-
"""Shared fixtures for the engine's unit tests (no Ansible process needed)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common import workers
from ansible_collections.drkit.backup.plugins.module_utils.host import state as host_state
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection import keystore as keys


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


def _certificate(subject, issuer_name, issuer_key, key, is_ca):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Two CAs, each with a signer: PEM files for certificates and keys."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    base = tmp_path_factory.mktemp("pki")
    files = {}
    for name, make_key in (("site", lambda: ec.generate_private_key(ec.SECP256R1())),
                           ("other", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))):
        ca_key, signer_key = make_key(), make_key()
        ca = _certificate("%s backup CA" % name, "%s backup CA" % name, ca_key, ca_key, True)
        signer = _certificate("%s backup signer" % name, "%s backup CA" % name, ca_key, signer_key, False)
        for label, obj in (("ca", ca), ("signer", signer)):
            path = base / ("%s-%s.pem" % (name, label))
            path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
            files["%s_%s" % (name, label)] = str(path)
        key_path = base / ("%s-signer.key" % name)
        key_path.write_bytes(signer_key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        files["%s_key" % name] = str(key_path)
    return files
