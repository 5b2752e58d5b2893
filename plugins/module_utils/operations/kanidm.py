# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kanidm verb of drkit.backup.kanidm_online_backup: the [online_backup] table of kanidmd's server.toml."""

from __future__ import annotations

import os
import tempfile

from ansible_collections.drkit.backup.plugins.module_utils.common import process
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers.kanidm import cli, config

TABLE = "online_backup"


def online_backup(config_path, state="present", path=None, schedule=None, versions=7, compression="gzip",
                  enabled=True, kanidmd="kanidmd", validate=True, check_mode=False) -> dict:
    """Module result: server.toml's [online_backup] made to hold these values (or removed), the new file checked
    with ``kanidmd configtest`` before it takes the old one's place. Restarting kanidmd is the caller's."""
    if state not in ("present", "absent"):
        raise InvalidInput("state must be present or absent, not %r" % (state,))
    values = None
    if state == "present":
        if not schedule:
            raise InvalidInput("schedule is required with state present: kanidmd refuses an [online_backup] table "
                               "without one (a cron expression in UTC, or @hourly, @daily, @weekly)")
        if versions < 1:
            raise InvalidInput("versions must be 1 or more, not %d" % versions)
        values = {"path": path} if path else {}
        values.update(schedule=schedule, versions=versions, compression=compression, enabled=enabled)
    try:
        with open(config_path, encoding="utf-8") as handle:
            before = handle.read()
    except FileNotFoundError:
        raise InvalidInput("kanidmd's configuration %s is not there" % config_path)
    after = config.with_table(before, TABLE, values)
    result = {"changed": after != before, "config": config_path, "online_backup": values,
              "diff": {"before": before, "after": after, "before_header": config_path, "after_header": config_path}}
    if after == before or check_mode:
        return result
    directory = os.path.dirname(os.path.abspath(config_path))
    handle, candidate = tempfile.mkstemp(prefix=".server.toml.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(after)
        info = os.stat(config_path)
        os.chmod(candidate, info.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(candidate, info.st_uid, info.st_gid)
        if validate:
            checked = process.run([kanidmd, "configtest", "-c", candidate], what="kanidmd configtest", timeout=120,
                                  check=False, error=cli.KanidmError)
            if checked.code != 0:
                raise cli.KanidmError("kanidmd configtest refused the new server.toml (exit %d): %s; %s was left as "
                                      "it was" % (checked.code, checked.tail(), config_path))
        os.replace(candidate, config_path)
        candidate = None
    finally:
        if candidate:
            os.unlink(candidate)
    result["msg"] = "wrote [online_backup] to %s: restart kanidmd for it to take effect" % config_path \
        if values is not None else "removed [online_backup] from %s: restart kanidmd" % config_path
    return result
