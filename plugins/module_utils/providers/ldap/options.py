# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the ``ldap`` provider (format: providers/options.py)."""

from __future__ import annotations

BOTH = ["backup", "restore"]

OPTIONS = {
    "suffixes": {
        "type": "list", "elements": "str", "default": [], "verbs": ["backup"], "describes": True,
        "description": "The databases to back up, by suffix, each one part (an LDIF); empty means every database "
                       "that holds entries: offline those of the configuration, online the server's naming contexts.",
    },
    "config": {
        "type": "bool", "default": True, "verbs": ["backup"], "describes": True,
        "description": "Back up the cn=config database too, as its own part (slapcat -n 0 of config_dir, online "
                       "as well: it is read from its files). Needs config_dir on this host; set it false for a "
                       "slapd.conf (back that up with the files provider) or for a server elsewhere.",
    },
    "services": {
        "type": "list", "elements": "str", "default": ["slapd"], "verbs": ["backup"], "describes": True,
        "description": "For an offline backup (online false): the services to stop first, in this order, started "
                       "again in reverse. Stopped, slapd holds still and the entries counted are the entries "
                       "exported, on every backend; with back-mdb alone, [] is safe too (slapcat(8): it is always "
                       "safe to run with slapd-mdb) and streams without a raw capture on disk.",
    },
    "config_dir": {
        "type": "path", "default": "/etc/ldap/slapd.d", "verbs": BOTH,
        "description": "The server's cn=config directory (slapd -F), where the databases and their directories are "
                       "read from.",
    },
    "config_file": {
        "type": "path", "verbs": BOTH,
        "description": "The server's slapd.conf (slapd -f), instead of config_dir.",
    },
    "uri": {
        "type": "str", "default": "ldapi:///", "verbs": BOTH,
        "description": "The LDAP URI of the running server, for an online backup, counting the entries of a restored "
                       "one, and an online restore (ldap://, ldaps:// or ldapi://; default the local socket).",
    },
    "bind_dn": {
        "type": "str", "verbs": BOTH,
        "description": "The DN of a simple bind, with provider_secrets.password. An online backup needs one that "
                       "reads every entry and attribute (userPassword too) without a size limit, as the database's "
                       "rootDN does: a search leaves out what the ACLs hide, and says nothing. Without it, SASL "
                       "EXTERNAL: over ldapi, root (gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth), which "
                       "Debian's slapd lets manage cn=config only; the data needs ACLs and limits that grant it too. "
                       "Only the rootDN may delete a suffix entry (an online restore's cleanup after a failure).",
    },
    "password": {
        "type": "str", "verbs": BOTH, "secret": True,
        "description": "The password of bind_dn; it reaches the LDAP tools in a file only root can read (-y), "
                       "removed afterwards.",
    },
    "ca_file": {
        "type": "path", "verbs": BOTH,
        "description": "The CA certificates the server's certificate is checked with (ldaps:// or start_tls).",
    },
    "start_tls": {
        "type": "bool", "default": False, "verbs": BOTH,
        "description": "Require StartTLS on an ldap:// URI (-ZZ).",
    },
    "bin_dir": {
        "type": "path", "verbs": BOTH,
        "description": "Where slapd, slapcat, slapadd, ldapsearch, ldapadd and ldapdelete are (default: on PATH, "
                       "then /usr/sbin and /usr/bin).",
    },
    "restore_with": {
        "type": "str", "default": "slapadd", "choices": ["slapadd", "ldapadd"], "verbs": ["restore"],
        "description": "slapadd: into a stopped slapd, each database loaded into a new directory that takes the "
                       "old one's place only once complete. ldapadd: into a running slapd by LDAP adds, parents "
                       "first, with the Relax Rules control (entryUUID and timestamps kept; entryCSN is new); only "
                       "into an empty suffix (a failed restore deletes what it added), and without the cn=config part.",
    },
    "replace": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Replace a database that holds entries (and, with restore_config, an existing cn=config). "
                       "Without it such a restore is refused before anything is touched. With slapadd only: the "
                       "old directory is moved aside on its file system and put back if the restore fails.",
    },
    "restore_config": {
        "type": "bool", "default": False, "verbs": ["restore"],
        "description": "Restore the backup's cn=config into config_dir first (slapadd -n 0), then the databases "
                       "into the directories it names: for a fresh or replacement host. Off, the data goes into the "
                       "databases this server's configuration has for the same suffixes.",
    },
    "os_user": {
        "type": "str", "verbs": ["restore"],
        "description": "The user slapd runs as (Debian: openldap), who owns what a restore writes (default the owner "
                       "of the directory it replaces, else of its parent directory).",
    },
    "staging_dir": {
        "type": "path", "verbs": ["restore"],
        "description": "Where a restore stages the verified LDIF for the tools, in a directory only root can read, "
                       "removed afterwards (default the system's temporary directory). It needs room for the "
                       "backup's plaintext, twice for ldapadd (parents first).",
    },
    "drill_root": {
        "type": "path", "verbs": ["restore"],
        "description": "Set by drkit.backup.backup_drill, not by hand: the directory of the drill's own slapd. With "
                       "restore_config, the backup's cn=config is made standalone there first (every database "
                       "directory, the pid file and the socket under it; no replication, referral or TLS; root "
                       "allowed to read everything over ldapi), and that slapd runs in a network namespace of its "
                       "own.",
    },
}
