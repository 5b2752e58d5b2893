# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenPGP key slots with the real ``gpg`` binary, through python-gnupg.

For sites that already run ``ipa-backup --gpg``: the backup's data key is
encrypted to each recipient's public key. Restoring takes the private key from
the gpg agent, or a passphrase that python-gnupg hands to gpg on a file
descriptor (never in the process arguments).
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util

# Imported when first used: most backups never need it, and it costs every module run 30 ms.
HAS_GNUPG = importlib.util.find_spec("gnupg") is not None

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput, KeyNotFound


class Gpg:
    """One GNUPGHOME (``home``; None for gpg's default)."""

    def __init__(self, home=None, passphrase=None):
        if not HAS_GNUPG:
            raise InvalidInput("encryption with GnuPG needs the python-gnupg library on the managed host")
        try:
            self._gpg = importlib.import_module("gnupg").GPG(gnupghome=home)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InvalidInput("gpg cannot be run with GNUPGHOME %s: %s" % (home or "(default)", exc))
        self.home = home or "(default GNUPGHOME)"
        self._passphrase = passphrase

    def public_key(self, recipient: str) -> dict:
        """The recipient's usable public key: refuses a missing, expired or revoked one, plainly."""
        keys = self._gpg.list_keys(keys=[recipient])
        if not keys:
            raise KeyNotFound("GnuPG has no public key for recipient %s in %s: import it first" % (recipient, self.home))
        key = keys[0]
        if key.get("trust") in ("r", "e") or key.get("expires") and \
                int(key["expires"]) <= datetime.datetime.now(datetime.timezone.utc).timestamp():
            state = "revoked" if key.get("trust") == "r" else "expired"
            raise InvalidInput("the GnuPG key of recipient %s (%s) is %s: renew it or choose another recipient"
                               % (recipient, key["fingerprint"], state))
        return key

    def encrypt(self, data: bytes, recipient: str) -> tuple:
        """(fingerprint, OpenPGP message) of ``data`` encrypted to ``recipient``."""
        fingerprint = self.public_key(recipient)["fingerprint"]
        # The keyring is the trust decision: the operator put the recipient's key there.
        result = self._gpg.encrypt(data, [fingerprint], armor=False, always_trust=True)
        if not result.ok:
            raise InvalidInput("gpg could not encrypt to recipient %s (%s): %s"
                               % (recipient, fingerprint, result.status or _last_line(result.stderr)))
        return fingerprint, result.data

    def check(self, recipients):
        """A test encryption to every recipient, as ipa-backup does before it stops anything."""
        for recipient in recipients:
            self.encrypt(b"drkit.backup test encryption", recipient)

    def decrypt(self, message: bytes):
        """The plaintext, or None when no secret key here opens the message."""
        result = self._gpg.decrypt(message, passphrase=self._passphrase)
        return result.data if result.ok else None

    def has_secret_key(self, fingerprint: str) -> bool:
        return any(key["fingerprint"] == fingerprint for key in self._gpg.list_keys(secret=True))


def _last_line(text):
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
