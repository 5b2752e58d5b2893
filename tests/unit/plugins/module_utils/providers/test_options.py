# -*- coding: utf-8 -*-
"""Provider options, checked with Ansible's validator against each provider's declaration."""

from __future__ import annotations

import pytest

from ansible_collections.drkit.backup.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.drkit.backup.plugins.module_utils.providers import get_provider


def test_a_secret_in_provider_options_is_refused_without_its_value():
    with pytest.raises(InvalidInput) as caught:
        get_provider("freeipa", {"dm_password": "hunter22"}, verb="restore")
    assert "must not go in provider_options" in str(caught.value)
    assert "provider_secrets.dm_password" in str(caught.value) and "hunter22" not in str(caught.value)


def test_secrets_are_checked_by_name_and_never_quoted():
    with pytest.raises(InvalidInput, match="provider freeipa takes no secret pin for restore"):
        get_provider("freeipa", {}, {"pin": "1234"}, verb="restore")
    with pytest.raises(InvalidInput) as caught:
        get_provider("freeipa", {}, {"dm_password": ["hunter22"]}, verb="restore")
    assert "dm_password" in str(caught.value) and "hunter22" not in str(caught.value)
    assert get_provider("freeipa", {}, {"dm_password": "x"}, verb="restore").secrets == {"dm_password": "x"}


def test_an_option_of_the_other_verb_is_refused_and_a_description_ignored_by_restore():
    with pytest.raises(InvalidInput, match="provider files takes option target_root for restore only, not for backup"):
        get_provider("files", {"paths": ["/etc"], "target_root": "/srv"}, verb="backup")
    restoring = get_provider("files", {"paths": ["/etc"], "target_root": "/srv"}, verb="restore")
    assert restoring.options == {"target_root": "/srv"}  # paths describes the backup: nothing for a restore


def test_types_are_checked_and_lists_are_not_split_from_strings():
    with pytest.raises(InvalidInput, match="provider_options.services must be a list, not 'ldap'"):
        get_provider("files", {"paths": ["/etc"], "services": "ldap"}, verb="backup")
    with pytest.raises(InvalidInput, match="provider_options.timeout is of type str"):
        get_provider("freeipa", {"timeout": "soon"}, verb="backup")
    assert get_provider("freeipa", {"timeout": "60"}, verb="backup").timeout == 60


def test_options_are_seen_as_given_with_declared_defaults_behind():
    provider = get_provider("files", {"paths": ["/etc"]}, verb="backup")
    assert provider.options == {"paths": ["/etc"]}
    assert provider.option("services") == [] and provider.option("target_root") == "/"
