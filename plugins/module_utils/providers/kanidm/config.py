# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kanidmd's ``server.toml``: read for what the provider needs, and one key set in place.

Kanidm's server/core/src/config.rs (ServerConfig, ServerConfigV2, OnlineBackup; deny_unknown_fields): the top
level holds ``domain``, ``origin``, ``db_path``, ``db_fs_type``, ``tls_chain``, ``tls_key``, ``tls_client_ca``,
``bindaddress`` (one address or a list), ``ldapbindaddress``, ``migration_path`` ...; ``[online_backup]`` holds
``path`` (default db_path's directory), ``schedule``, ``versions``, ``enabled``, ``compression`` (gzip unless
``none``/``nocompression``, even with the section absent); ``[replication]`` holds this server's replication
origin and bind address and each partner's certificate, in the file itself.

Python 3.11's tomllib reads it; older Pythons on a managed host get :func:`_parse`, which reads what a
server.toml holds (tables, strings, integers, booleans, arrays of those) and refuses the rest by name.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

# The top-level keys that name files the server needs besides server.toml (kept in the config part).
FILE_KEYS = ("tls_chain", "tls_key", "tls_client_ca", "migration_path")
# kanidmd's default with no [online_backup].compression (config.rs: BackupCompression::default() is Gzip).
UNCOMPRESSED = ("none", "nocompression")


class ServerConfig:
    """One server.toml, read."""

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8")
        except FileNotFoundError:
            raise InvalidInput("kanidmd's configuration %s is not there: give its server.toml "
                               "(provider_options.config)" % path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput("kanidmd's configuration %s cannot be read: %s" % (path, exc))
        try:
            self.values = tomllib.loads(text) if tomllib is not None else _parse(text)
        except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
            raise InvalidInput("kanidmd's configuration %s is not valid TOML: %s" % (path, exc))

    def get(self, key, default=None):
        return self.values.get(key, default)

    def resolve(self, path: str) -> str:
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(self.path)), path))

    @property
    def db_path(self) -> str:
        if not self.get("db_path"):
            raise InvalidInput("kanidmd's configuration %s names no database (db_path)" % self.path)
        return self.resolve(self.get("db_path"))

    def online_backup(self) -> dict:
        """The [online_backup] section, {} when absent."""
        return self.values.get("online_backup") or {}

    def online_backup_dir(self) -> str:
        section = self.online_backup()
        return self.resolve(section["path"]) if section.get("path") else os.path.dirname(self.db_path)

    def compressed(self) -> bool:
        return str(self.online_backup().get("compression", "gzip")).lower() not in UNCOMPRESSED

    def bindaddress(self) -> str:
        """The first HTTPS listen address (kanidmd's default 127.0.0.1:8443)."""
        value = self.get("bindaddress") or "127.0.0.1:8443"
        return value[0] if isinstance(value, list) else value

    def files(self) -> list:
        """server.toml and the files it names that exist (absolute paths)."""
        found = [os.path.abspath(self.path)]
        for key in FILE_KEYS:
            if self.get(key) and os.path.exists(self.resolve(self.get(key))):
                found.append(self.resolve(self.get(key)))
        return found

    def peers(self) -> list:
        """The replication partners the configuration names (their URLs)."""
        section = self.values.get("replication") or {}
        return sorted(key for key, value in section.items() if isinstance(value, dict))


def set_top_key(path: str, key: str, value) -> bool:
    """Sets the top-level ``key`` of the server.toml at ``path`` to ``value`` in place (the line replaced, or
    added before the first table; None removes it); returns whether the file changed. Every other line stays."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines(True)
    wanted = [] if value is None else ["%s = %s\n" % (key, _toml(value))]
    pattern = re.compile(r"^\s*%s\s*=" % re.escape(key))
    first_table = next((number for number, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    where = next((number for number in range(first_table) if pattern.match(lines[number])), None)
    if where is not None:
        if lines[where:where + 1] == wanted:
            return False
        lines[where:where + 1] = wanted
    elif wanted:
        lines[first_table:first_table] = wanted
    else:
        return False
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return True


def without_tables(text: str, name: str) -> str:
    """``text`` without the table [``name``] and its sub-tables ([name."..."]), every other line as it was."""
    lines = text.splitlines(True)
    table = re.compile(r"^\s*\[\s*%s\s*(\]|\.)" % re.escape(name))
    kept, dropping = [], False
    for line in lines:
        if line.lstrip().startswith("["):
            dropping = bool(table.match(line))
        if not dropping:
            kept.append(line)
    return "".join(kept)


def with_table(text: str, name: str, values) -> str:
    """``text`` (a server.toml) with its table [``name``] holding exactly ``values`` (None: no such table),
    written where the table was (else at the end); every other line as it was."""
    lines = text.splitlines(True)
    header = re.compile(r"^\s*\[\s*%s\s*\]\s*(#.*)?$" % re.escape(name))
    start = next((number for number, line in enumerate(lines) if header.match(line.rstrip("\n"))), None)
    block = []
    if values is not None:
        block = ["[%s]\n" % name] + ["%s = %s\n" % (key, _toml(value)) for key, value in values.items()]
    if start is None:
        if not block:
            return text
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return "".join(lines + (["\n"] if lines and lines[-1].strip() else []) + block)
    end = next((number for number in range(start + 1, len(lines)) if lines[number].lstrip().startswith("[")),
               len(lines))
    while end > start + 1 and not lines[end - 1].strip():  # the blank lines before the next table stay
        end -= 1
    if not block and start > 0 and not lines[start - 1].strip():
        start -= 1  # the table's blank line goes with it
    return "".join(lines[:start] + block + lines[end:])


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[%s]" % ", ".join(_toml(item) for item in value)
    return str(value) if isinstance(value, int) else json.dumps(str(value))


# --- a reader for Pythons without tomllib -----------------------------------------------------------------

_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")'
_TABLE = re.compile(r"^\[\s*(%s(?:\s*\.\s*%s)*)\s*\]$" % (_KEY, _KEY))
_PAIR = re.compile(r"^(%s)\s*=\s*(.+)$" % _KEY)


def _parse(text: str) -> dict:
    values, table = {}, None
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        match = _TABLE.match(line)
        if match:
            table = values
            for name in re.findall(_KEY, match.group(1)):
                table = table.setdefault(_key(name), {})
            continue
        match = _PAIR.match(line)
        if not match:
            raise ValueError("line %d is not 'key = value' or a [table]: %s" % (number, raw.strip()))
        (table if table is not None else values)[_key(match.group(1))] = _value(match.group(2).strip(), number)
    return values


def _strip_comment(line: str) -> str:
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:index]
    return line


def _key(name: str) -> str:
    return json.loads(name) if name.startswith('"') else name


def _value(text: str, number: int):
    if text in ("true", "false"):
        return text == "true"
    if re.match(r"^[+-]?\d+$", text):
        return int(text)
    if text.startswith("'") and text.endswith("'") and len(text) > 1:
        return text[1:-1]
    try:
        return json.loads(text)  # a basic string, or an array of strings, numbers and booleans
    except ValueError:
        raise ValueError("line %d: this reader takes strings, integers, booleans and arrays of them, not %s "
                         "(use Python 3.11 or later, whose tomllib reads all of TOML)" % (number, text))
