# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One drill of one backup (drkit.backup.backup_drill): verify, restore into a scratch target, check, tear down.

The steps (DESIGN decisions 18, 26 and 28), each recorded as a check with its result and duration:

1. ``verify``: every part decrypted and authenticated (a failure is recorded beside the backup, as
   backup_verify records it);
2. ``restore``: through the provider's scratch options (its own directory, every outbound peer rewritten, no
   live service stopped), refused when they would reach the live instance;
3. ``health``: polled until the restored instance is healthy (the time from the start of the restore until then
   is the RTO measured);
4. the provider's own check (for a provider captured part by part: the backup read again against what was
   restored, which must differ in nothing), the ``content`` check (what the restored instance holds, counted
   through the provider, against the backup's content summary), then the user's checks (drill/checks.py).

The scratch target is torn down whatever happened. A failed step is a result, not an error: the role reports
every service; only what makes a drill impossible to start (bad input, a scratch target that is not one) fails
the module.
"""

from __future__ import annotations

import os
import shutil
import time

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import DrkitError, InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.common.timeutil import rfc3339, utc_now
from ansible_collections.drkit.backup.plugins.module_utils.drill import checks as user_checks
from ansible_collections.drkit.backup.plugins.module_utils.format.sources import open_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.verify import verify_backups
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider
from ansible_collections.drkit.backup.plugins.module_utils.providers.content import differences

# The file that marks a scratch directory as a drill's own: only such a directory is ever removed.
MARKER = ".drkit-drill"


def drill_backup(unlocker, backup, scratch_dir, checks=None, check_secrets=None, provider_options=None,
                 provider_secrets=None, allow_no_summary=False, health_timeout=300, health_interval=2.0,
                 state_dir=None, lease_id=None, trusted_certificates=None, trusted_crls=None,
                 signature_expired="refuse", check_mode=False) -> dict:
    """Drills ``backup`` into ``scratch_dir``; returns ``{"drill": {...}}`` (every step's result) or the plan."""
    checks = user_checks.validate(list(checks or []))
    check_secrets = {str(key): str(value) for key, value in (check_secrets or {}).items()}
    header = open_backup(backup).header()
    product = header.manifest["product"]
    options = dict(provider_options or {})
    live = get_provider(product, options, provider_secrets, verb="restore")
    options.update(live.scratch_options(scratch_dir, header))  # the scratch target wins over anything given
    unlocker.data_key(header)  # a missing key, said before anything is written
    _check_scratch_dir(scratch_dir)
    trust = dict(trusted_certificates=trusted_certificates, trusted_crls=trusted_crls,
                 signature_expired=signature_expired)
    if check_mode:
        return {"changed": False, "drill": None,
                "plan": ["verify %s in full" % header.name,
                         "restore it into %s (%s)" % (scratch_dir, ", ".join("%s=%s" % item for item in sorted(
                             options.items()))),
                         "wait until healthy, run the %s check, the content check and %d check(s) of yours"
                         % (live.drill_check_name, len(checks)),
                         "remove %s" % scratch_dir]}
    started, steps = utc_now(), []
    drill = {"backup": header.name, "path": os.path.abspath(backup), "provider": product,
             "created": header.manifest.get("createdAt"), "size": sum(part["storedSize"] for part in header.parts),
             "scratch": os.path.abspath(scratch_dir), "started_at": rfc3339(started), "restore_seconds": None,
             "healthy_seconds": None, "checks": steps}
    changed = False
    scratch = get_provider(product, options, provider_secrets, verb="restore")
    try:
        _make_scratch_dir(scratch_dir, scratch)
        scratch.scratch_start()
        verified = _step(steps, "verify", "verify", lambda: _verify(unlocker, backup, state_dir, lease_id, trust))
        changed = bool(verified and verified.get("changed"))
        if verified and verified["verified"]:
            _restore_and_check(drill, steps, scratch, unlocker, backup, header, product, options, provider_secrets,
                               checks, check_secrets, allow_no_summary, health_timeout, health_interval, state_dir,
                               lease_id, trust)
    finally:
        drill["torn_down"] = _teardown(scratch_dir, scratch, steps)
        drill["finished_at"] = rfc3339(utc_now())
    drill["passed"] = bool(steps) and all(step["passed"] for step in steps)
    return {"changed": changed, "drill": drill}


def _restore_and_check(drill, steps, scratch, unlocker, backup, header, product, options, provider_secrets, checks,
                       check_secrets, allow_no_summary, health_timeout, health_interval, state_dir, lease_id, trust):
    began = time.monotonic()
    restored = _step(steps, "restore", "restore", lambda: _restore(
        scratch, unlocker, backup, product, options, provider_secrets, state_dir, lease_id, trust))
    if restored is None:
        return
    drill["restore_seconds"] = round(time.monotonic() - began, 3)
    if not _step(steps, "health", "health", lambda: _healthy(scratch, header, health_timeout, health_interval)):
        return
    drill["healthy_seconds"] = round(time.monotonic() - began, 3)
    _step(steps, scratch.drill_check_name, "provider", lambda: _provider_check(
        scratch, unlocker, backup, header, product, options, provider_secrets, state_dir, lease_id, trust))
    _step(steps, "content", "content", lambda: _content(scratch, header, allow_no_summary))
    for check in checks:
        steps.append(user_checks.run(check, check_secrets, options.get("target_root") or drill["scratch"],
                                     netns=options.get("netns")))


def _step(steps, name, kind, action):
    """Runs one step; records ``{name, kind, passed, seconds, message}``; returns its value, None when it failed.

    ``action`` returns a dict (its ``message``, if any, is the result), or raises :class:`StepFailed` (its message is the result) or a DrkitError."""
    began = time.monotonic()
    try:
        value = action()
        passed, message = True, value.get("message", "passed")
    except (StepFailed, DrkitError) as exc:
        value, passed, message = None, False, str(exc)
    steps.append({"name": name, "kind": kind, "passed": passed, "seconds": round(time.monotonic() - began, 3),
                  "message": message})
    return value if passed else None


class StepFailed(Exception):
    """A drill's step found a problem (its message says which): a result for the report, not an error."""


def _restore(scratch, unlocker, backup, product, options, provider_secrets, state_dir, lease_id, trust):
    result = restore_backup(unlocker, backup, provider=product, provider_options=options,
                            provider_secrets=provider_secrets, state_dir=state_dir, lease_id=lease_id, **trust)
    scratch.scratch_restored()
    result["message"] = "%d part(s) restored into the scratch target" % len(result.get("restored_parts") or [])
    return result


def _verify(unlocker, backup, state_dir, lease_id, trust):
    result = verify_backups(backup, level="full", unlocker=unlocker, state_dir=state_dir, lease_id=lease_id, **trust)
    if not result["verified"]:
        raise StepFailed("the backup failed verification: %s" % (" ".join(result["problems"]) or "nothing to verify"))
    result["message"] = "every part decrypted and authenticated"
    return result


def _healthy(provider, header, timeout, interval):
    deadline = time.monotonic() + timeout
    while True:
        problems = provider.health(header)
        if not problems:
            return {"message": "healthy"}
        if time.monotonic() >= deadline:
            raise StepFailed("not healthy after %d s: %s" % (timeout, "; ".join(problems)))
        time.sleep(interval)


def _provider_check(provider, unlocker, backup, header, product, options, provider_secrets, state_dir, lease_id,
                    trust):
    problems = []
    if not provider.restores_whole():
        # The backup read again against what was restored: a change would mean a file did not land as it is in the
        # backup (a short write, a tool that said it wrote and did not).
        plan = restore_backup(unlocker, backup, provider=product, provider_options=options,
                              provider_secrets=provider_secrets, state_dir=state_dir, lease_id=lease_id,
                              check_mode=True, **trust)
        for part in plan["restored_parts"]:
            if part["changed"]:
                problems.append("part %s: %d path(s) differ from the backup after the restore (%s)"
                                % (part["name"], part["changed"], ", ".join(part["changes"][:5])))
    problems.extend(provider.drill_check(header))
    if problems:
        raise StepFailed("; ".join(problems))
    return {"message": "what was restored matches the backup"}


def _content(provider, header, allow_no_summary):
    summary = header.manifest.get("contentSummary")
    if not summary:
        if allow_no_summary:
            return {"message": "the backup holds no content summary: not compared (allowed)"}
        raise StepFailed("the backup holds no content summary (made by a provider or release that records none), so "
                         "nothing says what the restore must hold; allow it with allow_no_summary")
    found = differences(summary, provider.count(summary))
    if found:
        raise StepFailed("the restored instance does not hold what the backup says: %s" % "; ".join(found))
    return {"message": "the restored instance holds what the backup says (%s)" % _describe(summary)}


def _describe(summary, limit=3) -> str:
    flat = []

    def walk(node, label):
        for key, value in sorted(node.items()):
            if isinstance(value, dict):
                walk(value, "%s %s" % (label, key) if label else key)
            else:
                flat.append("%s %s %s" % (label, key, value) if label else "%s %s" % (key, value))

    walk(summary, "")
    return "; ".join(flat[:limit]) + ("; ..." if len(flat) > limit else "")


def _check_scratch_dir(scratch_dir):
    if not scratch_dir or not os.path.isabs(scratch_dir):
        raise InvalidInput("scratch_dir must be an absolute path, not %r" % (scratch_dir,))
    if os.path.realpath(scratch_dir) == "/":
        raise InvalidInput("scratch_dir cannot be /: a drill removes its scratch directory afterwards")
    if os.path.lexists(scratch_dir) and not os.path.exists(os.path.join(scratch_dir, MARKER)):
        if not os.path.isdir(scratch_dir) or os.listdir(scratch_dir):
            raise InvalidInput("scratch_dir %s exists and is not a drill's: a drill only writes into (and removes) a "
                               "directory of its own; give a path that does not exist" % scratch_dir)


def _make_scratch_dir(scratch_dir, scratch):
    if os.path.exists(os.path.join(scratch_dir, MARKER)):  # left by a drill that was killed
        problems = scratch.scratch_end()
        if problems:
            raise DrkitError("the scratch target %s of an earlier drill cannot be torn down: %s"
                             % (scratch_dir, "; ".join(problems)))
        shutil.rmtree(scratch_dir)
    os.makedirs(scratch_dir, mode=0o700, exist_ok=True)
    os.chmod(scratch_dir, 0o700)
    with open(os.path.join(scratch_dir, MARKER), "w") as out:
        out.write("a drkit drill's scratch target: removed when the drill ends\n")


def _teardown(scratch_dir, scratch, steps) -> bool:
    if not os.path.exists(os.path.join(scratch_dir, MARKER)):
        return not os.path.lexists(scratch_dir)
    began = time.monotonic()
    try:
        problems = scratch.scratch_end()
    except DrkitError as exc:
        problems = [str(exc)]
    try:
        shutil.rmtree(scratch_dir)
    except OSError as exc:
        problems.append("the scratch directory %s could not be removed: %s" % (scratch_dir, exc))
    if problems:
        steps.append({"name": "teardown", "kind": "teardown", "passed": False,
                      "seconds": round(time.monotonic() - began, 3),
                      "message": "the scratch target was not torn down: %s" % "; ".join(problems)})
    return not problems
