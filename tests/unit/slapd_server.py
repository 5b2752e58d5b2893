# -*- coding: utf-8 -*-
"""The tests' own slapd (tests/servers/slapd.sh, started by conftest's ldap_server) and what the tests do to it."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile


def run(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True)


SUFFIX = "dc=example,dc=com"
ADMIN_DN = "cn=admin,dc=example,dc=com"
ADMIN_PASSWORD = "Adm1n ldap:pass"  # the script's default rootDN password
ALICE_DN = "uid=alice,ou=people,dc=example,dc=com"
ALICE_PASSWORD = "Al1ce's pass:word"


class Slapd:
    """A slapd of the tests' own, laid out as Debian's: cn=config in ``config_dir``, the data in ``data_dir``."""

    suffix, admin_dn, admin_password = SUFFIX, ADMIN_DN, ADMIN_PASSWORD
    alice_dn, alice_password = ALICE_DN, ALICE_PASSWORD

    def __init__(self, script, where, port):
        self.script, self.where, self.port = script, where, port
        self.uri = "ldap://127.0.0.1:%d" % port
        self.ldapi = "ldapi://%s" % os.path.join(where, "ldapi").replace("/", "%2F")
        self.config_dir = os.path.join(where, "slapd.d")
        self.data_dir = os.path.join(where, "data")

    def start(self):
        run(self.script, "start", self.where, str(self.port))

    def stop(self):
        run(self.script, "stop", self.where)

    def running(self) -> bool:
        return subprocess.run(["ldapsearch", "-Q", "-Y", "EXTERNAL", "-H", self.ldapi, "-s", "base", "-b", "", "1.1"],
                              capture_output=True, check=False).returncode == 0

    def commands(self) -> dict:
        """stop_command and start_command that stop and start this slapd whatever the service's name."""
        return {"stop_command": "%s stop %s {service}" % (self.script, self.where),
                "start_command": "%s start %s %d {service}" % (self.script, self.where, self.port)}

    def options(self, **extra) -> dict:
        """Provider options for this server, bound as root over its socket (SASL EXTERNAL)."""
        return dict({"config_dir": self.config_dir, "uri": self.ldapi}, **extra)

    def ldap(self, tool, *args, input=None, check=True):
        """An LDAP client tool as root over the socket (SASL EXTERNAL, which manages everything here)."""
        return subprocess.run([tool, "-Q", "-Y", "EXTERNAL", "-H", self.ldapi] + list(args), input=input,
                              capture_output=True, text=True, check=check)

    def admin(self, tool, *args, input=None):
        """An LDAP client tool bound as the rootDN over the socket (only the rootDN may delete the suffix entry)."""
        with tempfile.NamedTemporaryFile("w") as secret:
            secret.write(self.admin_password)
            secret.flush()
            return subprocess.run([tool, "-x", "-H", self.ldapi, "-D", self.admin_dn, "-y", secret.name] + list(args),
                                  input=input, capture_output=True, text=True, check=True)

    def reset(self, people=3000):
        """The known content, loaded offline into an empty database: the suffix, ou=people with ``people`` users
        (alice among them, with a salted SHA password), and ou=groups."""
        self.stop()
        shutil.rmtree(self.data_dir)
        os.mkdir(self.data_dir, 0o750)
        with tempfile.NamedTemporaryFile("w", suffix=".ldif") as ldif:
            ldif.write(directory_ldif(people))
            ldif.flush()
            run("slapadd", "-q", "-F", self.config_dir, "-n", "1", "-l", ldif.name)
        run("chown", "-R", "openldap:openldap", self.data_dir)
        self.start()

    def entries(self) -> int:
        out = self.ldap("ldapsearch", "-LLL", "-b", SUFFIX, "1.1", check=False).stdout
        return sum(1 for line in out.splitlines() if line.startswith("dn:"))

    def fingerprint(self) -> tuple:
        """(entries, SHA-256 of every entry's user attributes and entryUUID, in DN order)."""
        out = self.ldap("ldapsearch", "-LLL", "-o", "ldif_wrap=no", "-b", SUFFIX, "*", "entryUUID", check=False).stdout
        chunks = sorted("\n".join(sorted(chunk.splitlines())) for chunk in out.split("\n\n") if chunk.strip())
        return len(chunks), hashlib.sha256("\n\n".join(chunks).encode()).hexdigest()

    def binds(self, dn, password) -> bool:
        with tempfile.NamedTemporaryFile("w") as secret:
            secret.write(password)
            secret.flush()
            return subprocess.run(["ldapwhoami", "-x", "-H", self.uri, "-D", dn, "-y", secret.name],
                                  capture_output=True, check=False).returncode == 0


def ssha(password: str) -> str:
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def directory_ldif(people: int) -> str:
    parts = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n" % SUFFIX,
             "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n" % SUFFIX,
             "dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n" % SUFFIX,
             "dn: %s\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Example\nsn: Example\nuserPassword: %s\n"
             % (ALICE_DN, ssha(ALICE_PASSWORD))]
    for number in range(1, people):
        parts.append("dn: uid=user%05d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: user%05d\ncn: User %d\n"
                     "sn: Number %d\nmail: user%05d@example.com\ndescription: %s\n"
                     % (number, SUFFIX, number, number, number, number, "x" * (1 + number % 300)))
    parts.append("dn: cn=staff,ou=groups,%s\nobjectClass: groupOfNames\ncn: staff\n%s" % (
        SUFFIX, "".join("member: uid=user%05d,ou=people,%s\n" % (n, SUFFIX) for n in range(1, min(people, 500)))))
    return "\n".join(parts)
