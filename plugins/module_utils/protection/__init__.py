# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who can open or vouch for a backup: cryptographic primitives (crypto.py), the keystore and key files
(keystore.py), key slots, the protection plan and opening a backup again (slots.py), GnuPG (gpg.py), the HSM
(hsm.py), signed manifests (signing.py) and the trust a signature is checked against: chains to trust anchors,
key usage, validity and CRLs (trust.py). python-gnupg and python-pkcs11 are imported only when used.
It imports common, and format's header for the manifest MAC."""
