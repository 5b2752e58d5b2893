# -*- coding: utf-8 -*-
"""The user's own drill checks (drill/checks.py) against real servers: slapd for ldap_search, an HTTP server for
http, a real program for command; their secrets never in a message."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.drill import checks

from conftest import require  # tests/unit/conftest.py: skips when a tool is missing, fails under CI=true

PASSWORD = "check-secret-17"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def slapd(tmp_path):
    """A real slapd on 127.0.0.1 with dc=drill,dc=test, one user and a root password."""
    require("slapd", "ldapadd", "ldapsearch")
    data = tmp_path / "ldap"
    data.mkdir()
    conf = tmp_path / "slapd.conf"
    port = free_port()
    conf.write_text("include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n"
                    "include /etc/ldap/schema/inetorgperson.schema\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                    "pidfile %s/slapd.pid\ndatabase mdb\nsuffix \"dc=drill,dc=test\"\nrootdn \"cn=admin,dc=drill,dc=test\"\n"
                    "rootpw %s\ndirectory %s\n" % (tmp_path, PASSWORD, data))
    uri = "ldap://127.0.0.1:%d/" % port
    subprocess.run(["slapd", "-f", str(conf), "-h", uri], check=True)
    ldif = tmp_path / "seed.ldif"
    ldif.write_text("dn: dc=drill,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: drill\no: drill\n\n"
                    "dn: uid=alice,dc=drill,dc=test\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice\nsn: A\n")
    for _attempt in range(50):
        if subprocess.run(["ldapadd", "-x", "-H", uri, "-D", "cn=admin,dc=drill,dc=test", "-w", PASSWORD, "-f",
                           str(ldif)], capture_output=True, check=False).returncode == 0:
            break
        time.sleep(0.1)
    yield uri
    pid = int((tmp_path / "slapd.pid").read_text())
    os.kill(pid, 15)


def run(check, secrets=None, root="/"):
    return checks.run(checks.validate([check])[0], secrets or {}, root)


def test_ldap_search_finds_the_entry_with_the_named_secret(slapd):
    search = {"uri": slapd, "base": "dc=drill,dc=test", "filter": "(uid=alice)", "bind_dn": "cn=admin,dc=drill,dc=test",
              "password_secret": "ldap"}
    found = run({"name": "alice", "ldap_search": search}, {"ldap": PASSWORD})
    assert found["passed"] and found["message"] == "found 1 entries under dc=drill,dc=test for (uid=alice)"
    missing = run({"name": "bob", "ldap_search": {"uri": slapd, "base": "dc=drill,dc=test", "filter": "(uid=bob)"}})
    assert not missing["passed"] and "found 0 entries" in missing["message"] and "at least 1" in missing["message"]
    wrong = run({"name": "x", "ldap_search": {"uri": slapd, "base": "dc=drill,dc=test", "bind_dn":
                                              "cn=admin,dc=drill,dc=test", "password_secret": "ldap"}},
                {"ldap": "not-" + PASSWORD})
    assert not wrong["passed"] and "exit 49" in wrong["message"] and PASSWORD not in wrong["message"]


def test_a_check_naming_an_unknown_secret_fails_saying_so(slapd):
    result = run({"name": "x", "ldap_search": {"uri": slapd, "base": "dc=drill,dc=test", "password_secret": "nope"}})
    assert not result["passed"] and "secret 'nope'" in result["message"]


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        status = 200 if self.path == "/health" else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"realm drill: ready" if status == 200 else b"starting")

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def test_http_checks_the_status_and_the_body(web):
    assert run({"name": "up", "http": {"url": web + "/health", "contains": "ready"}})["passed"]
    assert "answered 503, expected 200" in run({"name": "down", "http": {"url": web + "/other"}})["message"]
    assert "without 'gone'" in run({"name": "body", "http": {"url": web + "/health", "contains": "gone"}})["message"]
    closed = run({"name": "closed", "http": {"url": "http://127.0.0.1:%d/" % free_port(), "timeout": 5}})
    assert not closed["passed"] and "did not answer" in closed["message"]


def test_command_fills_in_the_scratch_root_and_masks_secrets(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "app.conf").write_text("token = %s\n" % PASSWORD)
    shown = run({"name": "conf", "command": {"argv": ["cat", "{root}/etc/app.conf"], "stdout_contains": "token"}},
                {"app": PASSWORD}, str(tmp_path))
    assert shown["passed"]
    failed = run({"name": "conf", "command": {"argv": [sys.executable, "-c", "import sys; print(open(sys.argv[1]).read());"
                                                       " sys.exit(2)", "{root}/etc/app.conf"]}},
                 {"app": PASSWORD}, str(tmp_path))
    assert not failed["passed"] and "exited 2" in failed["message"] and PASSWORD not in failed["message"]
    assert "********" in failed["message"]
