# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Requirements shared by the drkit.backup modules, and the options several of them take."""

    DOCUMENTATION = r"""
options: {}
requirements:
  - Python 3.9 or later on the managed host.
  - cryptography (50.0 or later recommended; older releases hold the GIL during AES-GCM, so encryption
    then uses one core).
  - zstandard.
  - python-gnupg and the gpg binary, for GnuPG recipients only.
  - python-pkcs11 and the token's PKCS#11 library, for backups tied to an HSM only.
notes:
  - Install the Python requirements on a host with the C(requirements-host.txt) file of the collection, or
    with the playbook C(drkit.backup.prepare_hosts).
"""

    KEYSTORE = r"""
options:
  keystore:
    description:
      - Directory holding the backup keys on the managed host. It and the files in it are readable by their
        owner only.
    type: path
    default: /var/lib/drkit/keys
"""

    SERVICES = r"""
options:
  stop_command:
    description:
      - The command that stops a service, C({service}) standing for its name. It runs without a shell.
      - Services are stopped in the order given and started again in reverse, whatever happens in between.
    type: str
    default: systemctl stop {service}
  start_command:
    description: The command that starts a service, C({service}) standing for its name.
    type: str
    default: systemctl start {service}
"""

    GPG_HOME = r"""
options:
  gpg_home:
    description:
      - The GnuPG home directory (C(GNUPGHOME)) holding the recipients' public keys (to encrypt) or the secret
        keys (to open backups). Default is gpg's own default for the user the module runs as.
    type: path
"""

    UNLOCK = r"""
options:
  gpg_passphrase:
    description:
      - The passphrase of the GnuPG secret key that opens a backup's GnuPG key slot, when the key is not
        already unlocked in a gpg agent. Handed to gpg on a file descriptor, never on its command line.
    type: str
"""

    HSM = r"""
options:
  hsm:
    description:
      - Access to the PKCS#11 token of a backup tied to an HSM. To open such a backup, O(hsm.module) and
        O(hsm.pin) are enough, since the labels recorded in the backup are used unless given.
      - Set the token library's own environment (for SoftHSM2, C(SOFTHSM2_CONF)) with the task's C(environment).
    type: dict
    suboptions:
      module:
        description: The PKCS#11 library of the token.
        type: path
        required: true
      token_label:
        description: The token's label.
        type: str
      key_label:
        description: The label of the AES key in the token (it never leaves the token).
        type: str
      pin:
        description: The token's user PIN.
        type: str
        required: true
"""

    TRUST = r"""
options:
  trusted_certificates:
    description:
      - PEM files of certificates (or CA bundles) that a backup's manifest signature must come from; a backup that
        is not signed then fails. Without it, a signature is still checked against its own certificate.
      - Every certificate in these files is trusted. The signer's certificate must be one of them or chain to one
        of them, through the intermediate certificates that the signature carries (those that followed the
        signer's own in the file given as O(drkit.backup.backup#module:signing_certificate)) or that these files
        hold. Each issuer in the chain must be a CA (basic constraints, and C(keyCertSign) when it has a key
        usage) within its path length, and sign with an RSA key of 2048 bits or more or an ECDSA key (P-256,
        P-384, P-521) and SHA-256, SHA-384 or SHA-512 (not SHA-1, nor Ed25519; the signer's own key may be
        Ed25519).
      - The signer's certificate must allow digital signatures when it has a key usage, and when it has an
        extended key usage, that must include code signing (C(1.3.6.1.5.5.7.3.3)), document signing
        (C(1.3.6.1.5.5.7.3.36)) or any purpose (C(2.5.29.37.0)).
      - Every certificate of the chain must be valid now, when the check runs, not only at the creation time the
        signer wrote in the backup; O(signature_expired) decides about backups whose signer has expired since.
    type: list
    elements: path
  trusted_crls:
    description:
      - Certificate revocation lists (PEM files, each holding one or more, or DER files) for the chains of
        O(trusted_certificates). A backup whose signer's certificate, or an intermediate or trusted certificate
        of its chain, is revoked fails, naming the certificate's serial number and subject.
      - A CRL whose issuer is in the chain must be signed by that issuer's key (which must allow C(cRLSign) when
        it has a key usage), and, unless it lists the certificate as revoked, be current (its next update not
        past); otherwise the backup fails, so a forged or stale list cannot vouch for anything. A CRL of an issuer
        whose certificate is not available fails it too. CRLs of other issuers are ignored.
      - Needs O(trusted_certificates).
    type: list
    elements: path
  signature_expired:
    description:
      - What to do with a signed backup whose signer's certificate, or another of its chain, has expired since it
        was made.
      - V(refuse) fails it; the message names the certificate and when it expired.
      - V(allow) accepts it with a warning when the whole chain was valid at the backup's creation time. That time
        is written by the signer itself, so this trusts the signer's clock; revocation (O(trusted_crls)) still
        applies.
      - A certificate that is not yet valid, or was not valid at the creation time, fails either way.
    type: str
    choices: [refuse, allow]
    default: refuse
"""

    STATE_DIR = r"""
options:
  state_dir:
    description:
      - The host's state directory (root-only), which holds the lock that lets one backup or restore run at a
        time on the host, the record of the running operation, and the services a run left stopped.
      - A second operation fails at once with a message naming the running one; a record left by a process
        that was killed is detected (its lock is free), reported as a warning and cleared.
      - Several hosts that share one machine (test fleets, containers) each need their own.
    type: path
    default: /var/lib/drkit
    version_added: 0.1.0
"""

    LEASE = r"""
options:
  lease_id:
    description:
      - The id of the lease (M(drkit.backup.backup_lease)) that holds the host for the sequence this call belongs to,
        as a role's restore does. While another holder's lease is in force, a call without its id is refused with a
        message naming the lease's purpose and holder; a call with the id renews it; a call with an id that has
        expired or was released is refused (the sequence lost its hold on the host).
    type: str
    version_added: 0.1.0
"""

    # What most modules' attributes are; a module says only where it differs (its check mode's details).
    ATTRIBUTES = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""
