# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenLDAP through its own tools: ``slapcat`` and ``slapadd`` on a server's configuration and databases,
``ldapsearch``, ``ldapadd`` and ``ldapdelete`` on a running server.

Follows the OpenLDAP 2.5 manual pages slapcat(8), slapadd(8), slapd-config(5), slapd.conf(5), ldapsearch(1),
ldapmodify(1), ldapdelete(1) and ldap.conf(5) (LDAPTLS_CACERT), and RFC 2849 (LDIF). A bind password reaches the
clients in a file only root can read (``-y``), never argv.

The configuration is read from its own files (slapd.d's LDIF, or slapd.conf), not from a tool: it is there to read
on a host whose databases are missing. A search returns attributes that slapd computes for each search and never
stores (entryDN, hasSubordinates ...): they are left out of an export, since slapadd would store them as given.
"""

from __future__ import annotations

import array
import base64
import contextlib
import glob
import os
import re
import shlex
import subprocess
import time
import urllib.parse

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.process import ToolError, find_tool, run, secret_file, \
    stop_server, stream, tail

MISSING = ("install OpenLDAP's tools (Debian: slapd for slapd, slapcat and slapadd; ldap-utils for ldapsearch, "
           "ldapadd and ldapdelete), or set bin_dir to where they are")
# Backends whose entries slapcat exports and slapadd loads (back-ldap, back-meta, back-monitor ... hold none).
STORED_BACKENDS = ("mdb", "bdb", "hdb", "wt", "ldif")
# Computed by slapd for each search, never stored (slapd's operational.c and back-mdb's operational.c).
COMPUTED = ("entrydn", "subschemasubentry", "hassubordinates", "numsubordinates")
# Set by slapd on every add and refused in one even with the Relax Rules control (entryUUID and the timestamps are
# taken with it): an add leaves them out.
SET_ON_ADD = ("structuralobjectclass", "entrycsn", "contextcsn")
# What slapcat says on its error output when it could not read a database, whatever its exit code.
SLAPCAT_FAILED = (r"cannot be opened", r"bi_db_open failed", r"slap_startup failed", r"could not open database")
PAGE = 1000


class OpenLDAPError(ToolError):
    """An OpenLDAP tool failed, or the server said no."""


# --- LDIF --------------------------------------------------------------------------------------------------

def _attribute_line(names) -> "re.Pattern":
    """A line (with its continuation lines) of an attribute in ``names``, or a comment."""
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rb"^(?:#|(?:%s)(?:;[^:\n]*)?:)[^\n]*\n(?: [^\n]*\n)*" % alternatives.encode(), re.I | re.M)


class LdifCounter:
    """A binary file object that passes an LDIF on to ``out`` as it comes, counting its entries (``entries``) and
    leaving out its comments and the attributes named in ``drop``. ``finish()`` passes on what is left."""

    def __init__(self, out, drop=()):
        self.out = out
        self.entries = 0
        self.bytes = 0
        self._drop = _attribute_line(drop) if drop else None
        self._rest = b""

    def write(self, data) -> int:
        data = self._rest + bytes(data)
        end = _last_record_line(data)
        self._rest = data[end:]
        self._pass(data[:end])
        return len(data)

    def finish(self):
        rest, self._rest = self._rest, b""
        if rest and not rest.endswith(b"\n"):
            rest += b"\n"
        self._pass(rest)

    def _pass(self, block):
        """``block`` starts at the start of a line that continues none, and ends with a whole line."""
        if not block:
            return
        if self._drop is not None:
            block = self._drop.sub(b"", block)
        self.entries += block.count(b"\ndn:") + block.startswith(b"dn:")
        self.bytes += len(block)
        self.out.write(block)


def _last_record_line(data: bytes) -> int:
    """Where the last line of ``data`` that is whole and is followed by a line continuing nothing ends (0: none)."""
    at = len(data) - 1
    while True:
        at = data.rfind(b"\n", 0, at)
        if at < 0:
            return 0
        if data[at + 1:at + 2] != b" ":
            return at + 1


class Discard:
    """A binary sink (a tool's progress output nobody reads)."""

    def write(self, data) -> int:
        return len(data)


def records(text: str):
    """The entries of an LDIF text, each a dict of lower-case attribute name -> values ('dn' included)."""
    entry, line = {}, None
    for raw in text.splitlines() + [""]:
        if raw.startswith(" ") and line is not None:
            line += raw[1:]
            continue
        if line is not None:
            name, _colon, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8", "replace")
            entry.setdefault(name.split(";")[0].strip().lower(), []).append(value.strip())
            line = None
        if not raw.strip():
            if entry:
                yield entry
            entry = {}
        elif not raw.startswith("#"):
            line = raw


def depth(dn: bytes) -> int:
    """How many RDNs a DN has: a child always has more than its parent, however its own RDN is escaped."""
    return dn.count(b",") - dn.count(b"\\,") + 1


def ordered_for_add(source: str, target: str) -> int:
    """Writes the LDIF ``source`` to ``target`` parents first (slapcat and a search give entries in the order they
    were made, and an entry moved under a newer one comes before its new parent), without the attributes slapd sets
    on an add. Memory: 8 bytes an entry. Returns the entries written."""
    offsets = {}
    with open(source, "rb") as handle:
        at = 0
        for line in handle:
            if line[:3].lower() == b"dn:":
                dn = line[3:].strip()
                if dn.startswith(b":"):
                    dn = base64.b64decode(dn[1:].strip())
                offsets.setdefault(depth(dn), array.array("Q")).append(at)
            at += len(line)
        with open(target, "wb") as out:
            writer = LdifCounter(out, SET_ON_ADD)
            for level in sorted(offsets):
                for offset in offsets[level]:
                    handle.seek(offset)
                    for line in handle:
                        if not line.strip():
                            break
                        writer.write(line)
                    writer.write(b"\n")
            writer.finish()
    return writer.entries


def database_directories(path) -> list:
    """The database directories (olcDbDirectory) that the cn=config LDIF ``path`` names."""
    with open(path, encoding="utf-8") as handle:
        return [entry["olcdbdirectory"][0] for entry in records(handle.read()) if entry.get("olcdbdirectory")]


# --- the server's configuration -----------------------------------------------------------------------------

class Database:
    """One database of the configuration: its number (slapcat -n), backend, suffixes and directory."""

    def __init__(self, number: int, backend: str, suffixes, directory):
        self.number = number
        self.backend = backend
        self.suffixes = list(suffixes)
        self.directory = directory

    @property
    def suffix(self) -> str:
        return self.suffixes[0] if self.suffixes else ""


class Config:
    """A slapd configuration: cn=config in a directory (slapd.d, ``-F``) or a slapd.conf file (``-f``)."""

    def __init__(self, config_dir=None, config_file=None):
        self.config_dir = config_dir
        self.config_file = config_file

    def describe(self) -> str:
        return "the slapd configuration %s" % (self.config_file or self.config_dir)

    def args(self) -> list:
        return ["-f", self.config_file] if self.config_file else ["-F", self.config_dir]

    def exists(self) -> bool:
        if self.config_file:
            return os.path.isfile(self.config_file)
        return os.path.isfile(os.path.join(self.config_dir, "cn=config.ldif"))

    def _require(self):
        if not self.exists():
            raise OpenLDAPError("%s is not there: set config_dir (cn=config, slapd -F) or config_file (slapd.conf, "
                                "slapd -f) to the server's" % self.describe())

    def _entries(self) -> list:
        """The global entry first, then each database's, as LDIF records."""
        paths = [os.path.join(self.config_dir, "cn=config.ldif")]
        paths += sorted(glob.glob(os.path.join(glob.escape(self.config_dir), "cn=config", "olcDatabase=*.ldif")),
                        key=lambda path: _number(os.path.basename(path)))
        found = []
        for path in paths:
            with open(path, encoding="utf-8") as handle:
                found.extend(records(handle.read()))
        return found

    def databases(self) -> list:
        """The databases that hold entries of their own (not the frontend, cn=config, back-ldap ...), in order."""
        self._require()
        if self.config_file:
            return _slapd_conf_databases(self.config_file)
        chosen = []
        for entry in self._entries()[1:]:
            name = entry.get("olcdatabase", [""])[0]
            number, backend = _number(name), re.sub(r"^\{-?\d+\}", "", name)
            if number > 0 and backend in STORED_BACKENDS:
                chosen.append(Database(number, backend, entry.get("olcsuffix", []),
                                       (entry.get("olcdbdirectory") or [None])[0]))
        return chosen

    def pid_file(self):
        self._require()
        if self.config_file:
            return _slapd_conf_directive(self.config_file, "pidfile")
        return (self._entries()[0].get("olcpidfile") or [None])[0]


def _number(name: str) -> int:
    match = re.search(r"\{(-?\d+)\}", name)
    return int(match.group(1)) if match else -1


def _slapd_conf_lines(path: str) -> list:
    """slapd.conf's directives, each a list of words (a line starting with white space continues the one before)."""
    lines = []
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and lines:
                lines[-1] += " " + raw.strip()
            else:
                lines.append(raw.strip())
    return [shlex.split(line, posix=True) for line in lines]


def _slapd_conf_directive(path, name):
    for words in _slapd_conf_lines(path):
        if words[0].lower() == name and len(words) > 1:
            return words[1]
    return None


def _slapd_conf_databases(path) -> list:
    chosen, number = [], 0
    for words in _slapd_conf_lines(path):
        keyword = words[0].lower()
        if keyword == "database" and len(words) > 1:
            number += 1 if words[1] not in ("frontend", "config") else 0
            chosen.append(Database(number, words[1], [], None))
        elif chosen and keyword == "suffix" and len(words) > 1:
            chosen[-1].suffixes.append(words[1])
        elif chosen and keyword == "directory" and len(words) > 1:
            chosen[-1].directory = words[1]
    return [database for database in chosen if database.backend in STORED_BACKENDS]


# --- the tools ------------------------------------------------------------------------------------------------

class Tools:
    """Where the OpenLDAP tools are: ``bin_dir``, else PATH, else where Debian puts them."""

    def __init__(self, bin_dir=None):
        self.bin_dir = bin_dir

    def path(self, name: str) -> str:
        found = find_tool(name, self.bin_dir, also=("/usr/sbin", "/usr/bin"))
        if found is None:
            raise OpenLDAPError("%s is not %s: %s" % (
                name, "in bin_dir %s" % self.bin_dir if self.bin_dir else "installed on this host", MISSING))
        return found

    def version(self):
        """The release of the slapd on this host (``2.5.13``), or None when there is none."""
        try:
            result = run([self.path("slapd"), "-VV"], what="slapd -VV", error=OpenLDAPError, check=False)
        except OpenLDAPError:
            return None
        match = re.search(r"\bslapd (\d+(?:\.\d+)+)", result.output)
        return match.group(1) if match else None

    def export(self, config, number, out, what) -> int:
        """``slapcat`` of database ``number`` into ``out`` as it comes, counted; returns the entries."""
        counter = LdifCounter(out)
        stream([self.path("slapcat")] + config.args() + ["-n", str(number), "-o", "ldif_wrap=no"], counter,
               what=what, error=OpenLDAPError, missing=MISSING, refuse=SLAPCAT_FAILED if number else ())
        counter.finish()
        return counter.entries

    def has_entries(self, config, number) -> bool:
        """Whether database ``number`` holds an entry (slapcat is stopped at the first)."""
        argv = [self.path("slapcat")] + config.args() + ["-n", str(number)]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = proc.stdout.read(4096)
        finally:
            proc.kill()
            errors = proc.communicate()[1]
        if not first and proc.returncode not in (0, -9):
            raise OpenLDAPError("slapcat of database %d failed (exit %d): %s" % (
                number, proc.returncode, errors.decode("utf-8", "replace").strip()[-300:]))
        return b"dn:" in first

    def load(self, config, number, path, what):
        """``slapadd`` of the LDIF ``path`` into database ``number`` (slapd stopped, the database empty)."""
        run([self.path("slapadd")] + config.args() + ["-q", "-n", str(number), "-l", path], what=what,
            error=OpenLDAPError, missing=MISSING, timeout=None, refuse=SLAPCAT_FAILED)


# --- a running server over LDAP ---------------------------------------------------------------------------------

class Client:
    """How to reach one running slapd over LDAP: a simple bind as ``bind_dn``, else SASL EXTERNAL (ldapi, as root)."""

    def __init__(self, uri="ldapi:///", bind_dn=None, password=None, ca_file=None, start_tls=False, tools=None):
        self.uri = uri or "ldapi:///"
        self.bind_dn = bind_dn
        self.password = password
        self.ca_file = ca_file
        self.start_tls = start_tls
        self.tools = tools or Tools()

    def describe(self) -> str:
        return "the LDAP server at %s (bound as %s)" % (self.uri, self.bind_dn or "SASL EXTERNAL")

    @contextlib.contextmanager
    def _argv(self, tool):
        """The tool's argv up to its own arguments, with a password file of its own while it lasts."""
        argv = [self.tools.path(tool), "-H", self.uri, "-o", "nettimeout=10"] + (["-ZZ"] if self.start_tls else [])
        if not self.bind_dn:
            yield argv + ["-Y", "EXTERNAL", "-Q"]
            return
        with secret_file(self.password or "") as path:
            yield argv + ["-x", "-D", self.bind_dn, "-y", path]

    def _env(self) -> dict:
        return {"LDAPTLS_CACERT": self.ca_file} if self.ca_file else {}

    def _stream(self, tool, args, out, what) -> int:
        with self._argv(tool) as argv:
            try:
                return stream(argv + args, out, what=what, env=self._env(), secrets=[self.password],
                              error=OpenLDAPError, missing=MISSING)
            except OpenLDAPError as exc:
                raise OpenLDAPError(explain(str(exc), self))

    def _run(self, tool, args, what, **kwargs):
        with self._argv(tool) as argv:
            result = run(argv + args, what=what, env=self._env(), secrets=[self.password], error=OpenLDAPError,
                         missing=MISSING, check=False, errors_apart=True, **kwargs)
        return result

    def _failed(self, result, what):
        return OpenLDAPError(explain("%s failed (exit %d): %s" % (what, result.code, result.tail()), self))

    def export(self, base, out) -> int:
        """Every entry under ``base``, with its operational attributes but those slapd computes, as LDIF into
        ``out`` as it comes (a paged search); returns the entries."""
        counter = LdifCounter(out, COMPUTED)
        self._stream("ldapsearch", ["-LLL", "-o", "ldif_wrap=no", "-E", "pr=%d/noprompt" % PAGE, "-b", base,
                                    "-s", "sub", "(objectClass=*)", "*", "+"], counter, "ldapsearch of %s" % base)
        counter.finish()
        return counter.entries

    def count(self, base) -> int:
        """How many entries are under ``base`` (``base`` included)."""
        counter = LdifCounter(Discard())
        self._stream("ldapsearch", ["-LLL", "-E", "pr=%d/noprompt" % PAGE, "-b", base, "-s", "sub",
                                    "(objectClass=*)", "1.1"], counter, "the count of the entries under %s" % base)
        counter.finish()
        return counter.entries

    def exists(self, base) -> bool:
        what = "ldapsearch of %s" % base
        result = self._run("ldapsearch", ["-LLL", "-b", base, "-s", "base", "(objectClass=*)", "1.1"], what)
        if result.code == 32:  # noSuchObject
            return False
        if result.code != 0:
            raise self._failed(result, what)
        return True

    def naming_contexts(self) -> list:
        what = "ldapsearch of the root DSE"
        result = self._run("ldapsearch", ["-LLL", "-o", "ldif_wrap=no", "-b", "", "-s", "base", "(objectClass=*)",
                                          "namingContexts"], what)
        if result.code != 0:
            raise self._failed(result, what)
        return [value for entry in records(result.output) for value in entry.get("namingcontexts", [])]

    def add(self, path, what) -> int:
        """``ldapadd`` of the LDIF ``path`` (parents first) with the Relax Rules control, which lets a manager
        give entryUUID, creatorsName and the timestamps as they were; stops at the first error."""
        return self._stream("ldapadd", ["-e", "relax", "-f", path], Discard(), what)

    def delete_tree(self, base, what):
        """``ldapdelete -r``: ``base`` and everything under it."""
        self._stream("ldapdelete", ["-r", base], Discard(), what)


def explain(message: str, client) -> str:
    """An LDAP failure in words an operator acts on (the tool's own words kept)."""
    if "Invalid credentials (49)" in message:
        return ("%s refused the bind (wrong password or bind DN): check provider_secrets.password and bind_dn; %s"
                % (client.describe(), message))
    if "Can't contact LDAP server (-1)" in message:
        return "%s is not reachable (is slapd running, and is the uri right?): %s" % (client.describe(), message)
    if "Size limit exceeded (4)" in message:
        return ("%s stopped the search at this identity's size limit: bind as the database's rootDN (bind_dn), or "
                "give this identity limits size=unlimited; %s" % (client.describe(), message))
    if "Insufficient access (50)" in message or "Inappropriate authentication (48)" in message:
        return ("%s does not let this identity do that: bind as the database's rootDN (bind_dn), or as root over "
                "ldapi with SASL EXTERNAL and an ACL that grants it manage; %s" % (client.describe(), message))
    return message


# --- a slapd of a drill's own (DESIGN decision 18) --------------------------------------------------------------

# What makes a server reach or serve others: replication (a consumer, a provider's mirror), referrals, TLS (its
# files may not be on a drill target, and the scratch server listens on its socket only).
PEER_ATTRIBUTES = ("olcsyncrepl", "olcmirrormode", "olcmultiprovider", "olcupdateref", "olcreferral")


def _record_lines(text: str) -> list:
    """The entries of an unwrapped LDIF (slapcat -o ldif_wrap=no), each a list of (name, value) in order."""
    entries = []
    for block in re.split(r"\n\s*\n", text.replace("\n ", "")):  # a continuation line joins the one before
        lines = []
        for line in block.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _colon, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            else:
                value = value[1:] if value.startswith(" ") else value
            lines.append((name, value))
        if lines:
            entries.append(lines)
    return entries


def _ldif_line(name: str, value: str) -> str:
    safe = re.fullmatch(r"[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*", value)
    if value == "" or (safe and not value.endswith(" ")):
        return "%s: %s\n" % (name, value)
    return "%s:: %s\n" % (name, base64.b64encode(value.encode("utf-8")).decode("ascii"))


def _renumbered(values, first) -> list:
    """X-ORDERED values (``{0}...``) with ``first`` in front, numbered again."""
    kept = [re.sub(r"^\{\d+\}", "", value) for value in values]
    return ["{%d}%s" % (number, value) for number, value in enumerate([first] + kept)]


def scratch_config(source: str, target: str, root: str, manager_dn: str) -> list:
    """Writes the backup's cn=config LDIF ``source`` to ``target`` as the configuration of a standalone slapd under
    ``root``: every database directory under ``root/db``, the pid and args files there, no replication, referral
    or TLS, and ``manager_dn`` (how the drill binds) allowed to manage and read every database without limits,
    whatever its ACLs say. The schema, modules, indexes, overlays, ACLs and rootDNs stay as they were. Returns the
    database directories it names."""
    with open(source, encoding="utf-8") as handle:
        entries = _record_lines(handle.read())
    directories = []
    with open(target, "w", encoding="utf-8") as out:
        for lines in entries:
            dn = lines[0][1]
            kept = [(name, value) for name, value in lines
                    if name.lower() not in PEER_ATTRIBUTES and not name.lower().startswith("olctls")]
            if dn.lower() == "cn=config":
                kept = [(name, value) for name, value in kept if name.lower() not in ("olcpidfile", "olcargsfile")]
                kept += [("olcPidFile", os.path.join(root, "slapd.pid")), ("olcArgsFile", os.path.join(root, "slapd.args"))]
            database = re.match(r"olcDatabase=\{(-?\d+)\}[^,]*,cn=config$", dn, re.I)
            if database and any(name.lower() == "olcdbdirectory" for name, _value in kept):
                directory = os.path.join(root, "db", database.group(1))
                directories.append(directory)
                kept = [(name, directory if name.lower() == "olcdbdirectory" else value) for name, value in kept]
            if database and any(name.lower() == "olcsuffix" for name, _value in kept):
                kept = _with_manager(kept, manager_dn)
            out.write("".join(_ldif_line(name, value) for name, value in kept) + "\n")
    return directories


def _with_manager(lines, manager_dn) -> list:
    """A database entry's lines with ``manager_dn`` first in its ACLs (manage) and limits (none)."""
    ordered = {"olcaccess": "to * by dn.exact=\"%s\" manage by * break" % manager_dn,
               "olclimits": "dn.exact=\"%s\" size=unlimited time=unlimited" % manager_dn}
    result = [(name, value) for name, value in lines if name.lower() not in ordered]
    for lower, first in ordered.items():
        values = [value for name, value in lines if name.lower() == lower]
        result += [("olcAccess" if lower == "olcaccess" else "olcLimits", value) for value in _renumbered(values, first)]
    return result


def peer_credentials_dn() -> str:
    """The DN slapd gives this process over ldapi with SASL EXTERNAL."""
    return "gidNumber=%d+uidNumber=%d,cn=peercred,cn=external,cn=auth" % (os.getegid(), os.geteuid())


class ScratchServer:
    """A slapd of a drill's own under ``root``: the configuration scratch_config wrote in ``root/slapd.d``, run in a
    network namespace of its own (unshare --net: it reaches no peer, whatever the configuration names, and nothing
    reaches it over a network), listening on its ldapi socket only, where the drill binds by SASL EXTERNAL."""

    def __init__(self, root, tools):
        self.root = root
        self.tools = tools
        self.config_dir = os.path.join(root, "slapd.d")
        self.socket = os.path.join(root, "ldapi")
        self.pid_file = os.path.join(root, "slapd.pid")
        self.log = os.path.join(root, "slapd.log")
        self.process = None

    def uri(self) -> str:
        return "ldapi://" + urllib.parse.quote(self.socket, safe="")

    def options(self) -> dict:
        if len(self.socket.encode()) > 100:  # sun_path holds 108 bytes
            raise InvalidInput("the drill's scratch slapd's socket %s is too long for a Unix socket: give a shorter "
                               "scratch_dir" % self.socket)
        return {"config_dir": self.config_dir, "uri": self.uri(), "drill_root": self.root}

    def start(self):
        if os.geteuid() != 0:
            raise InvalidInput("a drill's slapd runs in a network namespace of its own, which needs root: run the "
                               "drill as root (become: true)")
        with open(self.log, "ab") as log:
            # -d 0: in the foreground (this process's child, reaped by stop), its errors in the log.
            argv = ["unshare", "--net", "--", self.tools.path("slapd"), "-d", "0", "-F", self.config_dir,
                    "-h", self.uri()]
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)
        client = Client(self.uri(), tools=self.tools)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise OpenLDAPError("the drill's slapd (%s) stopped at its start (exit %d): %s"
                                    % (self.config_dir, self.process.returncode, self._log_tail()))
            try:
                client.naming_contexts()
                return
            except OpenLDAPError:
                if time.monotonic() > deadline:
                    raise OpenLDAPError("the drill's slapd did not answer on %s within 60 s: %s"
                                        % (self.socket, self._log_tail()))
                time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                return tail(handle.read()) or "(nothing in %s)" % self.log
        except OSError:
            return "(no log)"

    def stop(self) -> list:
        return stop_server(self.process, self.pid_file, "slapd", "the drill's slapd")
