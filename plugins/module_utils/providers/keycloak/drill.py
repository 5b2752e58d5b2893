# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drills of Keycloak backups (DESIGN decisions 18 and 26): a Keycloak of the drill's own, where no peer answers.

A Keycloak's database holds peers a drill must never reach (LDAP and Kerberos user federation, identity brokers,
SMTP), and its configuration names its database. So a drill runs everything in a network namespace of its own
(common/netns.py), where only a loopback exists: a PostgreSQL server of the drill's own (databases/postgres.py's
ScratchServer, on 127.0.0.1 there and on its socket in the scratch directory, where the restore reaches it), and a
Keycloak home of the drill's own under the scratch directory: the host's Keycloak distribution (home: bin/ and
the top files copied, lib/ linked, lib/quarkus/ copied since kc.sh build writes there), with the backup's conf/,
providers/, themes/ and data/, and its keycloak.conf rewritten before the first start to name the drill's
database and listen on 127.0.0.1. Files the backup holds outside home (environment files) are left out. The
check: the realm ``check_realm``'s OpenID configuration answers, and ``check_username`` logs in.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from ansible_collections.drkit.backup.plugins.module_utils.common import netns, process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.databases.postgres import ScratchServer
from ansible_collections.drkit.backup.plugins.module_utils.providers.keycloak import config, rest

# From the backup, not from the distribution.
RESTORED = ("conf", "data", "providers", "themes")
# A small HTTP client run inside the namespace by a python of its own (where ansible's open_url cannot be
# imported); the request, with any password, on its standard input.
PROBE = r"""
import json, ssl, sys, urllib.error, urllib.parse, urllib.request
asked = json.load(sys.stdin)
data = urllib.parse.urlencode(asked["form"]).encode() if asked.get("form") is not None else None
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
try:
    with opener.open(urllib.request.Request(asked["url"], data=data, method=asked["method"]), timeout=20) as answer:
        status, body = answer.status, answer.read()
except urllib.error.HTTPError as exc:
    status, body = exc.code, exc.read()
except OSError as exc:
    status, body = 0, str(getattr(exc, "reason", exc)).encode()
print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")[:4000]}))
"""


class KeycloakDrill:
    """The drill methods of the keycloak provider (mixed into KeycloakProvider)."""

    drill_check_name = "keycloak"

    def scratch_options(self, scratch_dir, header):
        made = (header.manifest.get("keycloak") or {}).get("database") or {}
        part = self._database_part(header)
        if made.get("vendor") != "postgres" or part is None:
            raise InvalidInput("backup %s holds a %s database: a drill of a Keycloak backup restores a PostgreSQL "
                               "database only so far" % (header.name, made.get("vendor") or "dev-file"))
        if not os.path.isfile(os.path.join(self.distribution, "bin", "kc.sh")):
            raise InvalidInput("a drill runs the Keycloak installed under %s, and it is not there (no bin/kc.sh): "
                               "drill on a host with Keycloak installed, or set home" % self.distribution)
        name = part["database"]
        facts = ((header.manifest.get("database") or {}).get("databases") or {}).get(name) or {}
        return {"scratch_dir": os.path.realpath(scratch_dir), "service": "", "environment_files": [],
                "db": "postgres", "db_url": "", "db_url_host": "127.0.0.1", "db_url_port": ScratchServer.PORT,
                "db_url_database": name, "db_username": facts.get("owner") or "keycloak", "restore_database": True,
                "restore_config": True, "import_realms": [], "health_url": ""}

    # --- where the drill's parts are --------------------------------------------------------------------------

    def _in_scratch(self, *names):
        return os.path.join(self.option("scratch_dir"), *names)

    def scratch_database(self) -> ScratchServer:
        return ScratchServer(self._in_scratch("postgresql"), bin_dir=self.option("db_bin_dir") or None,
                             netns=self._in_scratch("netns"))

    def _inside(self, argv):
        return netns.inside(self._in_scratch("netns"), argv)

    # --- start and end ------------------------------------------------------------------------------------------

    def scratch_start(self):
        netns.create(self._in_scratch("netns"))
        self.scratch_database().start()
        owner = self.database().user
        inner = self.inner()
        with inner.connection.environment() as env:  # the dump's objects belong to it
            inner.connection.query(env, "CREATE ROLE %s LOGIN;" % _quoted(owner))
        self._copy_distribution()

    def _copy_distribution(self):
        os.makedirs(self.home, mode=0o700)
        for name in sorted(os.listdir(self.distribution)):
            source, target = os.path.join(self.distribution, name), os.path.join(self.home, name)
            if name in RESTORED:
                os.mkdir(target, 0o700)
            elif name == "lib" and os.path.isdir(source):
                quarkus = os.path.join(source, "quarkus")
                shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy,
                                ignore=lambda where, _names: ["quarkus"] if where == source else [])
                if os.path.isdir(quarkus):
                    shutil.copytree(quarkus, os.path.join(target, "quarkus"), symlinks=True)
            elif os.path.isdir(source) and not os.path.islink(source):
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)

    def point_at_scratch(self):
        """Rewrites the restored keycloak.conf: the drill's database and 127.0.0.1, nothing of the live ones."""
        db = self.database()
        lines = ["db=postgres", "db-url-host=127.0.0.1", "db-url-port=%d" % ScratchServer.PORT,
                 "db-url-database=%s" % db.name, "db-username=%s" % db.user, "http-host=127.0.0.1"]
        if db.schema:
            lines.append("db-schema=%s" % db.schema)
        config.rewrite(os.path.join(self.home, config.CONF), config.HOST_KEYS, lines,
                       "drkit.backup drill: the drill's own database, in its network namespace")

    def scratch_restored(self):
        self._settings = None  # read again: the restore brought the configuration
        argv = self._inside([self.kc().path, "start"] + (["--optimized"] if self.option("optimized") else []))
        with open(self._in_scratch("keycloak.log"), "ab") as log:
            child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, **self.kc().environment), start_new_session=True)
        with open(self._in_scratch("keycloak.pid"), "w", encoding="utf-8") as handle:
            handle.write("%d\n" % child.pid)

    def scratch_end(self) -> list:
        if not self.option("scratch_dir") or not os.path.lexists(self._in_scratch("netns")):
            return []
        problems = _stop(self._in_scratch("keycloak.pid"))
        problems += self.scratch_database().stop()
        try:
            netns.remove(self._in_scratch("netns"))
        except DrkitError as exc:
            problems.append(str(exc))
        return problems

    # --- health and the check -------------------------------------------------------------------------------

    def _request(self, method, url, form=None, secrets=()):
        """(status, body) of one request made inside the drill's namespace (0: no answer)."""
        asked = json.dumps({"method": method, "url": url, "form": form})
        result = process.run(self._inside([sys.executable, "-c", PROBE]), input=asked, secrets=list(secrets),
                             what="a request to the drill's Keycloak", timeout=60)
        answer = json.loads(result.output.strip().splitlines()[-1])
        return answer["status"], answer["body"]

    def health(self, header):
        url = self.health_url()
        status, body = self._request("GET", url)
        if status != 200:
            log = self._in_scratch("keycloak.log")
            return ["the drill's Keycloak does not answer %s (%s)%s" % (
                url, "HTTP %d" % status if status else body, ": %s" % process.tail(_read(log), 3)
                if not _running(self._in_scratch("keycloak.pid")) else "")]
        return []

    def drill_check(self, header):
        realm = self.option("check_realm")
        base = self.main_url()
        status, body = self._request("GET", "%s/realms/%s/.well-known/openid-configuration" % (base, realm))
        if status != 200 or not rest.json_object(body).get("issuer", "").endswith("/realms/%s" % realm):
            return ["realm %s's OpenID configuration does not answer on the restored Keycloak (%s)"
                    % (realm, "HTTP %d" % status if status else body)]
        user, password = self.option("check_username"), self.secrets.get("check_password")
        if not user or not password:
            return ["realm %s's OpenID configuration answers; no user was tried: give check_username in "
                    "drkit_backup_drill_provider_options and check_password in drkit_backup_drill_provider_secrets"
                    % realm]
        form = {"grant_type": "password", "client_id": self.option("check_client_id"), "username": user,
                "password": password}
        if self.secrets.get("check_client_secret"):
            form["client_secret"] = self.secrets["check_client_secret"]
        status, body = self._request("POST", "%s/realms/%s/protocol/openid-connect/token" % (base, realm), form,
                                     secrets=[password, form.get("client_secret") or password])
        if status != 200 or not rest.json_object(body).get("access_token"):
            answer = rest.json_object(body)
            return ["user %s of realm %s cannot log in through client %s on the restored Keycloak: %s" % (
                user, realm, self.option("check_client_id"),
                answer.get("error_description") or answer.get("error") or ("HTTP %d" % status if status else body))]
        return []


def _quoted(name) -> str:
    return '"%s"' % str(name).replace('"', '""')


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
    return target


def _read(path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-4000:]
    except OSError:
        return ""


def _pid(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _running(path) -> bool:
    pid = _pid(path)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _stop(path, grace=30.0) -> list:
    """Stops the drill's Keycloak (TERM, then KILL): what is left, as sentences."""
    pid = _pid(path)
    if pid is None or not _running(path):
        return []
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return []
        except ChildProcessError:  # not this process's child (a drill that was killed started it)
            if not _running(path):
                return []
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return []
