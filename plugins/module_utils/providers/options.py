# -*- coding: utf-8 -*-
# Copyright: drkit.backup contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider options: declared once per provider, checked with Ansible's own validator, documented from it.

A provider's ``OPTIONS`` maps each option name to an Ansible argument-spec
entry (``type``, ``elements``, ``choices``, ``default``) with these keys
added:

- ``verbs``: the verbs that take it, ``backup`` and/or ``restore``;
- ``describes``: it belongs to the backup's identity (the manifest records it,
  and retention groups by it); a restore ignores such an option when it does
  not take it, since the role hands it what the header says;
- ``secret``: a password or key, given in ``provider_secrets`` (no_log), never
  in ``provider_options``; ``instead`` adds another way to the message that
  refuses it in ``provider_options``;
- ``description``: what it does, for docs/providers/<name>.md.

``default`` is documentation and what :meth:`Provider.option` falls back to:
the validator fills in nothing, so a provider sees the options as given.
"""

from __future__ import annotations

import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput

VERBS = ("backup", "restore")
DRKIT_KEYS = ("verbs", "describes", "secret", "instead", "description", "default")
# Ansible would split a string into a list, or make a string of a list: an option that takes a list or a mapping
# must be given one, and no other option takes one.
STRICT_TYPES = {"list": list, "dict": dict}


def names(spec: dict, verb, secret=False) -> list:
    """The options (or, with ``secret``, the secrets) that ``verb`` takes (None: any verb)."""
    return sorted(name for name, entry in spec.items()
                  if (verb is None or verb in entry["verbs"]) and bool(entry.get("secret")) == secret)


def describe(spec: dict) -> dict:
    """The spec as plain data, for the roles and the documentation."""
    return {name: dict(entry, verbs=list(entry["verbs"])) for name, entry in sorted(spec.items())}


def check_spec(provider: str, spec: dict):
    """A provider's spec is well formed (the contract suite runs this on every provider)."""
    for name, entry in spec.items():
        if not entry.get("verbs") or set(entry["verbs"]) - set(VERBS):
            raise ValueError("option %s of provider %s: verbs must be some of %s" % (name, provider, VERBS))
        if not entry.get("description"):
            raise ValueError("option %s of provider %s has no description" % (name, provider))
        if "type" not in entry:
            raise ValueError("option %s of provider %s has no type" % (name, provider))


def _ansible_spec(spec: dict, chosen) -> dict:
    return {name: {key: value for key, value in spec[name].items() if key not in DRKIT_KEYS} for name in chosen}


def _validated(provider: str, spec: dict, chosen, given: dict, where: str, mask: bool) -> dict:
    for name, value in sorted(given.items()):
        kind = STRICT_TYPES.get(spec[name]["type"])
        wrong = not isinstance(value, kind) if kind is not None else isinstance(value, (list, dict))
        if wrong:
            raise InvalidInput("provider %s: %s.%s must be a %s%s" % (
                provider, where, name, spec[name]["type"], "" if mask else ", not %r" % (value,)))
    result = ArgumentSpecValidator(_ansible_spec(spec, chosen)).validate(dict(given))
    if result.error_messages:
        if mask:  # Ansible's message may quote the value: for a secret, name only what is wrong
            names_wrong = ", ".join(sorted(given))
            raise InvalidInput("provider %s: %s holds a value of the wrong type in %s" % (provider, where, names_wrong))
        messages = [re.sub(r"argument '([^']*)'", r"%s.\1" % where, message) for message in result.error_messages]
        raise InvalidInput("provider %s: %s" % (provider, "; ".join(messages)))
    return {name: result.validated_parameters[name] for name in given}


def validate(provider: str, spec: dict, verb, options=None, secrets=None) -> tuple:
    """(options, secrets) checked for ``verb`` (None: for any verb): unknown, misplaced or mistyped ones are
    refused by name."""
    options = dict(options or {})
    secrets = dict(secrets or {})
    takes = names(spec, verb)
    for name in sorted(options):
        entry = spec.get(name)
        if entry is None:
            known = sorted(option for option in spec if not spec[option].get("secret"))
            raise InvalidInput("provider %s has no option %s; its options are: %s"
                               % (provider, name, ", ".join(known) or "none"))
        if entry.get("secret"):
            raise InvalidInput("provider %s: %s must not go in provider_options (they are logged): give it as "
                               "provider_secrets.%s%s" % (provider, name, name,
                                                          entry.get("instead", "")))
        if verb is not None and verb not in entry["verbs"]:
            if verb == "restore" and entry.get("describes"):
                del options[name]  # it describes the backup, as the header does: nothing to do with it here
                continue
            raise InvalidInput("provider %s takes option %s for %s only, not for %s; its %s options are: %s"
                               % (provider, name, " and ".join(entry["verbs"]), verb, verb, ", ".join(takes) or "none"))
    secret_names = names(spec, verb, secret=True)
    for name in sorted(secrets):
        if name not in secret_names:
            raise InvalidInput("provider %s takes no secret %s%s; its secrets are: %s"
                               % (provider, name, " for %s" % verb if verb else "", ", ".join(secret_names) or "none"))
    return (_validated(provider, spec, takes, options, "provider_options", False),
            _validated(provider, spec, secret_names, secrets, "provider_secrets", True))


def markdown(provider) -> str:
    """docs/providers/<name>.md for a provider class (make provider-docs writes them; a unit test compares)."""
    kinds = {"parts": "captured by drkit, part by part", "tool": "the product's own tool, as a whole",
             "appliance": "a remote appliance over its API"}
    summary = (provider.__doc__ or "").strip().splitlines()
    lines = ["# Provider `%s`" % provider.name, "",
             "<!-- Generated by make provider-docs from the provider's option spec; do not edit. -->", "",
             summary[0] if summary else "", "",
             "- Kind: %s (%s); runs on the %s." % (
                 provider.kind, kinds.get(provider.kind, provider.kind),
                 "managed host" if provider.runs_on == "host" else "delegate host"),
             "- Backups: %s." % ", ".join("%s %s" % (t, "online" if o else "offline") for t, o in provider.supports),
             "- Restorable to (release rule, `restorableTo`): %s%s%s." % (
                 provider.release_rule, " %s" % provider.release_params if provider.release_params else "",
                 "; `force_release` overrides it" if provider.release_force else ""),
             "", "| option | verbs | type | default | |", "| --- | --- | --- | --- | --- |"]
    for name, entry in sorted(provider.OPTIONS.items()):
        kind = entry["type"] + ("/%s" % entry["elements"] if entry.get("elements") else "")
        marks = [mark for mark, flag in (("secret: give it in `provider_secrets`", entry.get("secret")),
                                         ("describes the backup", entry.get("describes"))) if flag]
        default = entry.get("default")
        lines.append("| `%s` | %s | %s | %s | %s%s |" % (
            name, ", ".join(entry["verbs"]), kind, "`%s`" % (default,) if default not in (None, [], {}) else "",
            entry["description"], " (%s)" % "; ".join(marks) if marks else ""))
    lines += ["", "An option its verb does not take, or one the provider does not have, is refused with a message "
              "naming the provider and the option. A restore ignores an option that only describes the backup.", ""]
    return "\n".join(lines)
