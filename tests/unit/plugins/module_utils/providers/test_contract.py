# -*- coding: utf-8 -*-
"""The provider contract suite: every registered provider runs it, as restic runs each backend through one suite.

A provider gets it by being registered (plugins/module_utils/providers/__init__.py) and by giving its test
environment, a ``Contract`` class in ``providers/<name>/contract.py`` beside this file: a real server or an
emulator, the options that back it up and restore it, and a way to damage the live data and see it back. Its
``fixtures`` name the session fixtures of a shared server it runs on (decision 35), given to it by name.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re

import pytest

from ansible_collections.drkit.backup.plugins.module_utils import providers
from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.operations.backup import create_backup
from ansible_collections.drkit.backup.plugins.module_utils.operations.restore import restore_backup
from ansible_collections.drkit.backup.plugins.module_utils.protection.slots import Unlocker
from ansible_collections.drkit.backup.plugins.module_utils.providers import base, content, options, release

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.join(HERE, *[os.pardir] * 5, "docs", "providers")
NAMES = sorted(providers.PROVIDERS)
KINDS = (base.PartsProvider, base.ToolProvider, base.ApplianceProvider)


def contract_class(name):
    path = os.path.join(HERE, name, "contract.py")
    if not os.path.exists(path):
        pytest.fail("provider %s has no test environment: add %s with a Contract class" % (name, path))
    spec = importlib.util.spec_from_file_location("contract_%s" % name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Contract


@pytest.fixture(params=NAMES)
def contract(request, tmp_path, monkeypatch):
    cls = contract_class(request.param)
    # A shared test server (conftest's session fixtures) the environment names in ``fixtures``.
    env = cls(tmp_path, monkeypatch, **{name: request.getfixturevalue(name) for name in getattr(cls, "fixtures", ())})
    env.name = request.param
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def services(tmp_path):
    """Stop and start commands that only write down what they were asked to do."""
    log = tmp_path / "services.log"
    script = tmp_path / "svc.sh"
    script.write_text("#!/bin/sh\necho \"$1 $2\" >> %s\n" % log)
    script.chmod(0o755)
    return {"stop_command": "%s stop {service}" % script, "start_command": "%s start {service}" % script,
            "log": log}


def backup_secrets(contract) -> dict:
    """The secrets a backup needs (an appliance's login), for an environment that has any."""
    return getattr(contract, "backup_secrets", dict)()


def commands(services):
    return {key: value for key, value in services.items() if key != "log"}


def logged(services):
    return services["log"].read_text().splitlines() if services["log"].exists() else []


# --- what every provider declares -------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_a_provider_is_its_own_package_and_one_of_three_kinds(name):
    cls = providers.PROVIDERS[name]
    assert cls.name == name and re.match(r"^[a-z][a-z0-9_]*$", name)
    assert cls.__module__.endswith(".providers.%s.provider" % name)
    assert issubclass(cls, KINDS), "%s must subclass one of %s" % (name, [kind.__name__ for kind in KINDS])
    assert cls.supports and all(t in ("full", "data") and isinstance(o, bool) for t, o in cls.supports)
    assert cls.release_rule in release.RULES, "%s states its release rule (decision 22)" % name


@pytest.mark.parametrize("name", NAMES)
def test_its_options_are_declared_once_and_documented_from_the_declaration(name):
    cls = providers.PROVIDERS[name]
    options.check_spec(name, cls.OPTIONS)
    with open(os.path.join(DOCS, "%s.md" % name)) as handle:
        assert handle.read() == options.markdown(cls), "docs/providers/%s.md is stale: run make provider-docs" % name


@pytest.mark.parametrize("name", NAMES)
def test_its_facts_are_what_the_roles_read(name):
    facts = providers.facts(name)
    json.dumps(facts)  # they reach the roles as plain data
    assert facts["kind"] in ("parts", "tool", "appliance") and facts["runs_on"] in ("host", "delegate")
    assert set(facts["restore"]["from_header"]) <= set(facts["restore_options"])
    assert facts["restore"]["safety_copy"] in ("present_paths", "restore_options", "none")
    assert set(facts["restore"]["rollback_options"]) <= set(facts["restore_options"])
    assert facts["restore"]["counts"] in ("paths", "parts") and facts["fleet_policy"] in ("inventory", "topology")
    assert (facts["fleet_policy"] == "topology") <= (facts["topology"] is not None)
    assert not any(entry.get("secret") for entry in facts["options"].values()
                   if entry.get("describes")), "a secret never describes a backup"


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_or_misplaced_option_is_refused_by_name(name, tmp_path, keystore):
    with pytest.raises(InvalidInput, match="provider %s has no option colour" % name):
        create_backup(keystore, name, {"colour": "blue"}, dest=str(tmp_path / "b"))
    restore_only = [option for option, entry in providers.PROVIDERS[name].OPTIONS.items()
                    if entry["verbs"] == ["restore"] and not entry.get("secret")]
    for option in restore_only:
        with pytest.raises(InvalidInput, match="provider %s takes option %s for restore only" % (name, option)):
            providers.get_provider(name, {option: None}, verb="backup")
    assert not (tmp_path / "b").exists()


# --- on the provider's test server or emulator ------------------------------------------------------

def test_an_unsupported_pair_is_refused_before_anything_stops(contract, tmp_path, keystore, services):
    supported = providers.PROVIDERS[contract.name].supports
    for backup_type, online in itertools.product(("full", "data"), (False, True)):
        if (backup_type, online) in supported:
            continue
        with pytest.raises(InvalidInput):
            create_backup(keystore, contract.name, contract.backup_options(), backup_type=backup_type, online=online,
                          dest=str(tmp_path / "b"), provider_secrets=backup_secrets(contract), **commands(services))
    assert logged(services) == [] and not (tmp_path / "b").exists()


def test_check_mode_plans_and_touches_nothing(contract, tmp_path, keystore, services):
    plan = create_backup(keystore, contract.name, contract.backup_options(), backup_type=contract.backup_type,
                         online=contract.online, dest=str(tmp_path / "b"), check_mode=True,
                         provider_secrets=backup_secrets(contract), **commands(services))
    assert plan["changed"] and plan["path"] is None and "would be written" in plan["msg"]
    assert logged(services) == [] and not (tmp_path / "b").exists()


def test_a_round_trip_brings_the_data_back(contract, tmp_path, keystore, services):
    made = create_backup(keystore, contract.name, contract.backup_options(), backup_type=contract.backup_type,
                         online=contract.online, dest=str(tmp_path / "b"), provider_secrets=backup_secrets(contract),
                         **commands(services))
    stopped = [line.split()[1] for line in logged(services) if line.startswith("stop ")]
    assert [line.split()[1] for line in logged(services) if line.startswith("start ")] == stopped[::-1]
    assert made["backup"]["product"] == contract.name and contract.intact()
    assert made["backup"]["restorableTo"]["rule"] == providers.PROVIDERS[contract.name].release_rule
    contract.damage()
    assert not contract.intact()
    restore = dict(provider_options=contract.restore_options(), provider_secrets=contract.restore_secrets(),
                   **commands(services))
    with pytest.raises(InvalidInput, match="provider %s has no option colour" % contract.name):
        restore_backup(Unlocker(keystore), made["path"], **dict(restore, provider_options=dict(
            contract.restore_options(), colour="blue")))
    planned = restore_backup(Unlocker(keystore), made["path"], check_mode=True, **restore)
    assert planned["changed"] and not contract.intact()
    done = restore_backup(Unlocker(keystore), made["path"], **restore)
    assert done["changed"] and contract.intact()
    summary = made["backup"].get("contentSummary")
    if summary:  # what the capture counted, the restored instance counts too (decision 28)
        counted = providers.get_provider(contract.name, contract.restore_options(), contract.restore_secrets(),
                                         verb="restore").count(summary)
        assert content.differences(summary, counted) == []
