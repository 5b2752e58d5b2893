# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one exception family.

Every error the engine raises on purpose is a DrkitError whose message is a
plain sentence naming what is wrong and what to do; modules turn it into
``fail_json(msg=...)`` in one place.
"""

from __future__ import annotations


class DrkitError(Exception):
    """Base class: a clean, user-facing failure."""


class InvalidInput(DrkitError):
    """Parameters that do not fit together, or name something that does not exist."""


class IntegrityError(DrkitError):
    """A backup, part or key file that was changed, damaged, truncated or extended."""


class FormatError(IntegrityError):
    """Input that is not in the expected format at all (or of an unsupported version)."""


class KeyNotFound(DrkitError):
    """A backup key that is needed is not in the keystore."""


class WrongPassword(DrkitError):
    """A key file that does not open with the password given."""


class NoSpace(DrkitError):
    """The disk filled up while writing; the partial output was removed."""


class CaptureError(DrkitError):
    """The provider could not read the data it was asked to back up."""


class RestoreError(DrkitError):
    """A restore that failed part-way while putting its verified files in place (the message says what was)."""


class ServiceError(DrkitError):
    """A service could not be stopped or started."""


class OperationInProgress(DrkitError):
    """Another backup or restore holds this host's lock."""


class PartialFailure(DrkitError):
    """Some items of a batch failed: ``result`` is what the module reports with its failure (each item's fate)."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


def os_error_message(exc: OSError) -> str:
    """An OSError (permissions, a missing directory) as one line naming the path, with no traceback."""
    return "%s%s" % (exc.strerror or exc, ": %s" % exc.filename if exc.filename else "")
