# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FreeIPA's command-line tools, run through the one process runner.

- :func:`run` runs one IdM tool (a secret, if any, on its standard input and
  masked in what it returns), inside a network namespace when given one (a
  drill's, where no live peer can be reached);
- :func:`ipa` runs the ``ipa`` client with a Kerberos credential cache;
- :func:`parse_entries` reads the text the ``ipa`` client prints (``  Key: value``
  lines, entries separated by blank lines, dashed banners around);
- :func:`backup_argv` and :func:`check_backup_options` are ipa-backup's command
  line and its own option rules.
"""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.module_utils.common import netns as namespace
from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.process import ToolError, tail

COMMAND_TIMEOUT = 600
# "Role name" of ipa server-role-find -> the short names drkit uses (as in ipa-backup's header services).
ROLE_NAMES = {
    "CA server": "CA",
    "KRA server": "KRA",
    "DNS server": "DNS",
    "AD trust controller": "ADTRUST",
    "AD trust agent": "ADTRUST_AGENT",
    "IPA master": "IPA",
}


def run(argv, secret=None, stdin_text=None, env=None, timeout=COMMAND_TIMEOUT, netns=None):
    """(exit code, combined output) of ``argv``; ``secret`` is masked in the output. ``netns``: the file a network
    namespace is bound to, that ``argv`` runs in (through nsenter)."""
    result = process.run(namespace.inside(netns, argv), input=stdin_text, secrets=[secret] if secret else (), env=env, timeout=timeout,
                         check=False, missing="run this on an IdM server")
    return result.code, result.output


def ipa(args, ccache=None, timeout=COMMAND_TIMEOUT, check=True, netns=None):
    """Runs the ``ipa`` client; returns its output (or (rc, output) with ``check=False``)."""
    env = {"KRB5CCNAME": ccache} if ccache else None
    code, output = run(["ipa"] + list(args), env=env, timeout=timeout, netns=netns)
    if not check:
        return code, output
    if code != 0:
        raise ToolError("ipa %s failed (exit %d): %s" % (" ".join(args), code, tail(output, 2)))
    return output


def parse_entries(text) -> list:
    """Entries of ``ipa`` client output as dicts; a key repeated in one entry keeps its first value."""
    entries, current = [], {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or set(stripped) == {"-"}:
            if current:
                entries.append(current)
            current = {}
            continue
        if not line.startswith("  ") or ": " not in stripped:
            continue  # banners ("3 server roles matched", "Number of entries returned 3")
        key, _sep, value = stripped.partition(": ")
        current.setdefault(key, value)
    if current:
        entries.append(current)
    return entries


def backup_argv(backup_type: str, online: bool, options: dict) -> list:
    """ipa-backup's command line (no secret ever goes here)."""
    argv = ["ipa-backup"]
    if backup_type == "data":
        argv.append("--data")
    if online:
        argv.append("--online")
    if options.get("logs"):
        argv.append("--logs")
    if options.get("gpg"):
        argv.append("--gpg")
    if options.get("disable_role_check"):
        argv.append("--disable-role-check")
    return argv


def check_backup_options(backup_type: str, online: bool, options: dict):
    """ipa-backup's own option rules, said before anything runs."""
    if online and backup_type != "data":
        raise InvalidInput("an online FreeIPA backup must be of type data: ipa-backup takes full backups with the "
                           "IdM services stopped (use type data with online true, or online false)")
    if backup_type == "data" and options.get("logs"):
        raise InvalidInput("provider_options.logs cannot go with type data: ipa-backup adds log files to full "
                           "backups only (drop logs, or take a full backup)")
