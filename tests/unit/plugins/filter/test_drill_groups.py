# -*- coding: utf-8 -*-
"""The groups a drill covers (DESIGN decision 27): clusters on their chosen host, standalone hosts on their own."""

from __future__ import annotations

from ansible_collections.drkit.backup.plugins.filter.drill_groups import FilterModule, drill_groups

HOSTVARS = {
    "idm1": {"drkit_backup_roles": ["ca", "kra"]},
    "idm2": {"drkit_backup_roles": ["ca", "kra"], "drkit_backup_hidden": True},
    "idm3": {"drkit_backup_roles": ["ca"]},
    "idm4": {"drkit_backup_roles": ["kra"]},
    "web1": {},
    "lab1": {"drkit_backup_drill_skip": "yes"},
    "ipa1": {"drkit_backup_provider": "freeipa"},
    "ipa2": {"drkit_backup_provider": "freeipa"},
}
GROUPS = {"east": ["idm1", "idm2"], "west": ["idm3", "idm4"], "idm": ["ipa1", "ipa2"]}
EVERY_HOST = list(HOSTVARS)


def test_clusters_are_drilled_on_the_fleet_choice_and_other_hosts_alone():
    published = {"east": {"host": "idm1", "error": None, "reason": "published"}}
    found = drill_groups(EVERY_HOST, ["east", "west"], GROUPS, HOSTVARS, published)
    assert list(found) == ["east", "west", "web1", "ipa1", "ipa2"]
    assert (found["east"]["host"], found["east"]["reason"], found["east"]["reported_by"]) == ("idm1", "published", "idm1")
    assert found["web1"] == {"group": "web1", "host": "web1", "hosts": ["web1"], "error": None,
                             "reason": "standalone host", "reported_by": "web1"}


def test_a_cluster_without_a_choice_is_chosen_from_the_inventory_or_fails():
    found = drill_groups(EVERY_HOST, ["east", "west", "idm"], GROUPS, HOSTVARS)
    assert found["east"]["host"] == "idm2"
    # No host of west holds every role: the group stays, with its error, reported by its first host.
    assert found["west"]["host"] is None and "no host holds every role" in found["west"]["error"]
    assert found["west"]["reported_by"] == "idm3"
    # IdM chooses from its own topology: only the fleet role's published choice says which host.
    assert found["idm"]["host"] is None and "run the drkit.backup.fleet role first" in found["idm"]["error"]


def test_a_chosen_host_outside_the_play_is_an_error_and_absent_clusters_are_left_out():
    found = drill_groups(["idm1", "web1"], ["east", "west"], GROUPS, HOSTVARS)
    assert list(found) == ["east", "web1"]
    assert found["east"]["host"] is None and "idm2, which is not in this play" in found["east"]["error"]


def test_the_filter_is_registered():
    assert FilterModule().filters()["drill_groups"] is drill_groups
