# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The user's own checks of a restored scratch instance (a drill's step 4, DESIGN decision 28).

Each check is a dict with a ``name`` and exactly one kind:

- ``command``: ``{argv: [...]}`` must exit 0 (and print ``stdout_contains`` when given);
- ``ldap_search``: ``{uri, base, filter, scope, bind_dn, password_secret, min_entries}`` must find at least
  ``min_entries`` entries (default 1), through ``ldapsearch``;
- ``sql``: ``{engine: postgresql|mysql, query, expect, host, port, socket, user, database, password_secret}`` must
  return ``expect`` (its first row, columns joined by a tab), through ``psql`` or ``mysql`` (``socket``: MySQL's);
- ``http``: ``{url, status, contains, ca_file, validate_certs}`` must answer ``status`` (default 200).

``{root}`` in a command's words, a URL, a query, a host or a socket is the scratch target's root (a database
drill's server listens on a socket there: ``{root}/postgresql``, ``{root}/mysql/mysqld.sock``; an LDAP drill's slapd
on ``ldapi://{root}%2Fldap%2Fldapi``, where ``{root}`` is percent-encoded as ldapi wants). Passwords are named, never
given: ``password_secret`` names an entry of the drill's no_log secrets, which reaches the tool through a
root-only file or an environment variable and is masked in every message.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.drkit.backup.plugins.module_utils.common import netns as namespace
from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput

KINDS = {
    "command": {"argv", "stdout_contains", "timeout"},
    "ldap_search": {"uri", "base", "filter", "scope", "bind_dn", "password_secret", "min_entries", "timeout"},
    "sql": {"engine", "query", "expect", "host", "port", "socket", "user", "database", "password_secret",
            "timeout"},
    "http": {"url", "status", "contains", "ca_file", "validate_certs", "timeout"},
}
REQUIRED = {"command": ("argv",), "ldap_search": ("uri", "base"), "sql": ("engine", "query", "expect"),
            "http": ("url",)}
DEFAULT_TIMEOUT = 60


def validate(checks) -> list:
    """The checks as given, refused (naming the check and what is wrong) before anything is restored."""
    if not isinstance(checks, list):
        raise InvalidInput("checks must be a list of checks, not %r" % (checks,))
    names = set()
    for check in checks:
        if not isinstance(check, dict) or not isinstance(check.get("name"), str) or not check["name"]:
            raise InvalidInput("each check needs a name: %r" % (check,))
        name = check["name"]
        if name in names:
            raise InvalidInput("two checks are named %r: give each its own name (the reports list them by name)"
                               % name)
        names.add(name)
        kinds = [kind for kind in KINDS if kind in check]
        if len(kinds) != 1 or set(check) - {"name", kinds[0]}:
            raise InvalidInput("check %r must have a name and exactly one of %s, and nothing else"
                               % (name, ", ".join(KINDS)))
        kind = kinds[0]
        spec = check[kind]
        if not isinstance(spec, dict):
            raise InvalidInput("check %r: %s must be a dict of its settings" % (name, kind))
        unknown = sorted(set(spec) - KINDS[kind])
        missing = [key for key in REQUIRED[kind] if spec.get(key) in (None, "", [])]
        if unknown or missing:
            raise InvalidInput("check %r (%s): %s" % (name, kind, "; ".join(
                (["unknown setting %s (it takes %s)" % (", ".join(unknown), ", ".join(sorted(KINDS[kind])))]
                 if unknown else []) + (["%s is required" % ", ".join(missing)] if missing else []))))
        if kind == "command" and (not isinstance(spec["argv"], list)
                                  or not all(isinstance(word, str) for word in spec["argv"])):
            raise InvalidInput("check %r: command.argv must be a list of words (no shell)" % name)
        if kind == "sql" and spec["engine"] not in ("postgresql", "mysql"):
            raise InvalidInput("check %r: sql.engine must be postgresql or mysql, not %r" % (name, spec["engine"]))
    return checks


def kind_of(check: dict) -> str:
    return next(kind for kind in KINDS if kind in check)


def run(check: dict, secrets: dict, root: str, netns=None) -> dict:
    """Runs one check: ``{name, kind, passed, seconds, message}``; a failure is a result, never an exception.
    ``netns``: the drill's network namespace (a file bound to it), where the restored instance alone answers."""
    kind = kind_of(check)
    spec = check[kind]
    started = time.monotonic()
    try:
        if netns and kind == "http":
            raise InvalidInput("an http check cannot reach an instance drilled in a network namespace of its own "
                               "yet: check it with a command check (curl) instead")
        passed, message = _RUNNERS[kind](spec, secrets, root, int(spec.get("timeout") or DEFAULT_TIMEOUT),
                                         lambda argv: namespace.inside(netns, argv))
    except DrkitError as exc:
        passed, message = False, str(exc)
    message = process.mask(message, secrets.values())
    return {"name": check["name"], "kind": kind, "passed": passed, "seconds": round(time.monotonic() - started, 3),
            "message": message}


def _secret(spec, secrets):
    name = spec.get("password_secret")
    if name is None:
        return None
    if name not in secrets:
        raise InvalidInput("the check names secret %r, which drkit_backup_drill_secrets does not hold" % name)
    return str(secrets[name])


def _fill(text, root):
    return str(text).replace("{root}", root)


def _fill_uri(uri, root):
    """An ldapi:// URI names its socket's path percent-encoded (ldap_url(3))."""
    return _fill(uri, urllib.parse.quote(root, safe="") if str(uri).startswith("ldapi://") else root)


def _command(spec, secrets, root, timeout, inside):
    argv = [_fill(word, root) for word in spec["argv"]]
    result = process.run(inside(argv), what="command %s" % argv[0], timeout=timeout, check=False,
                         secrets=list(secrets.values()))
    if result.code != 0:
        return False, "%s exited %d: %s" % (argv[0], result.code, result.tail())
    wanted = spec.get("stdout_contains")
    if wanted and str(wanted) not in result.output:
        return False, "%s exited 0 but did not print %r: %s" % (argv[0], wanted, result.tail())
    return True, "%s exited 0%s" % (argv[0], ": %s" % result.tail(1) if result.output.strip() else "")


def _ldap_search(spec, secrets, root, timeout, inside):
    argv = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", _fill_uri(spec["uri"], root), "-b", spec["base"],
            "-s", spec.get("scope") or "sub", "-l", str(timeout)]
    password = _secret(spec, secrets)
    wanted = int(spec.get("min_entries", 1))
    query = [spec.get("filter") or "(objectClass=*)", "1.1"]

    def search(extra):
        result = process.run(inside(argv + extra + query), what="ldapsearch", timeout=timeout + 5, check=False,
                             secrets=[password] if password else [])
        if result.code not in (0, 32):  # 32: no such object, i.e. nothing found
            return False, "ldapsearch on %s failed (exit %d): %s" % (spec["uri"], result.code, result.tail())
        found = sum(1 for line in result.output.splitlines() if line.startswith("dn:"))
        if found < wanted:
            return False, "found %d entries under %s for %s, expected at least %d" % (
                found, spec["base"], query[0], wanted)
        return True, "found %d entries under %s for %s" % (found, spec["base"], query[0])

    if password is None:
        return search([])
    with process.secret_file(password) as path:
        return search(["-D", spec.get("bind_dn") or "", "-y", path])


def _sql(spec, secrets, root, timeout, inside):
    password = _secret(spec, secrets)
    query = _fill(spec["query"], root)
    env = {}
    if spec["engine"] == "postgresql":
        argv = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query]
        for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user"), ("-d", "database")):
            if spec.get(key) is not None:
                argv[1:1] = [flag, _fill(spec[key], root)]
        if password is not None:
            env["PGPASSWORD"] = password
        env["PGCONNECT_TIMEOUT"] = str(timeout)
    else:
        argv = ["mysql", "--batch", "--skip-column-names", "--connect-timeout=%d" % timeout, "-e", query]
        for flag, key in (("--host", "host"), ("--port", "port"), ("--socket", "socket"), ("--user", "user"),
                          ("--database", "database")):
            if spec.get(key) is not None:
                argv[1:1] = ["%s=%s" % (flag, _fill(spec[key], root))]
        if password is not None:
            env["MYSQL_PWD"] = password
    result = process.run(inside(argv), what=argv[0], env=env, timeout=timeout + 5, check=False,
                         secrets=[password] if password else [])
    if result.code != 0:
        return False, "%s failed (exit %d): %s" % (argv[0], result.code, result.tail())
    first = (result.output.strip().splitlines() or [""])[0].strip()
    if first != str(spec["expect"]):
        return False, "the query returned %r, expected %r" % (first, str(spec["expect"]))
    return True, "the query returned %r" % first


def _http(spec, secrets, root, timeout, _inside):
    url = _fill(spec["url"], root)
    wanted = int(spec.get("status", 200))
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=spec.get("ca_file"))
        if spec.get("validate_certs") is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    # No proxy: a drill's scratch instance is reached directly, never through the live network's proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=timeout) as answer:
            status, body = answer.status, answer.read(1 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, ""
    except (urllib.error.URLError, OSError) as exc:
        return False, "%s did not answer: %s" % (url, getattr(exc, "reason", exc))
    if status != wanted:
        return False, "%s answered %d, expected %d" % (url, status, wanted)
    wanted_text = spec.get("contains")
    if wanted_text and str(wanted_text) not in body:
        return False, "%s answered %d without %r" % (url, status, wanted_text)
    return True, "%s answered %d" % (url, status)


_RUNNERS = {"command": _command, "ldap_search": _ldap_search, "sql": _sql, "http": _http}
