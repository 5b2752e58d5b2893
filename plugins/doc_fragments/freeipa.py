# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """What the drkit.backup.freeipa_* modules share."""

    DOCUMENTATION = r"""
options:
  krb5_ccache:
    description:
      - The Kerberos credential cache the C(ipa) client uses (C(KRB5CCNAME)), holding a ticket of a user allowed to
        read (and, to change a server's state, to manage) the IdM topology, for example after C(kinit admin).
      - Default is the cache of the user the module runs as.
    type: path
requirements:
  - Python 3.9 or later on the managed host.
  - An IdM (FreeIPA) server or client with the C(ipa) command-line client.
notes:
  - The module runs the FreeIPA command-line tools on the managed host, without a shell; no password ever goes on
    their command line.
"""
