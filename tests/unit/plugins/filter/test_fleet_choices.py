# -*- coding: utf-8 -*-
"""The fleet's choice of the host to back up in each cluster (DESIGN decision 10)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.drkit.backup.plugins.filter.fleet_choices import FilterModule, fleet_choices

HOSTVARS = {
    "idm1": {"drkit_backup_roles": ["ca", "kra", "dns"]},
    "idm2": {"drkit_backup_roles": ["dns", "ca", "kra"], "drkit_backup_hidden": True},
    "idm3": {"drkit_backup_roles": ["ca"]},
    "idm4": {"drkit_backup_roles": ["ca", "kra"]},
    "idm5": {"drkit_backup_roles": ["ca", "kra"], "drkit_backup_hidden": "yes", "drkit_backup_online": True},
    "idm6": {"drkit_backup_roles": ["kra"]},
    "idm7": {},
    "idm8": {"drkit_backup_hidden": "true"},
}


def choose(**groups):
    return fleet_choices(list(groups), groups, HOSTVARS)


def test_a_hidden_replica_holding_every_role_wins_over_inventory_order():
    choice = choose(east=["idm1", "idm2"])["east"]
    assert (choice["host"], choice["hidden"], choice["online"]) == ("idm2", True, False)
    assert choice["reason"] == "hidden replica holding every role in use (ca, dns, kra)"
    assert choice["roles"] == ["ca", "dns", "kra"] and choice["error"] is None


def test_roles_come_before_inventory_order_and_serving_hosts_go_online():
    choice = choose(west=["idm3", "idm4"])["west"]
    assert (choice["host"], choice["hidden"], choice["online"]) == ("idm4", False, True)
    assert choice["reason"] == "holds every role in use (ca, kra); it serves clients, so it is backed up online"


def test_a_hidden_replica_missing_a_role_is_not_chosen():
    choice = choose(c=["idm4", "idm6", "idm8"])["c"]
    assert choice["host"] == "idm4" and choice["online"]
    assert "and no hidden replica does" in choice["reason"]


def test_ties_go_to_inventory_order():
    assert choose(c=["idm4", "idm5"])["c"]["host"] == "idm5"  # hidden first
    choice = choose(c=["idm1", "idm4", "idm3"])["c"]
    assert choice["host"] == "idm1" and choice["roles"] == ["ca", "dns", "kra"]
    both = fleet_choices(["c"], {"c": ["idm4", "idm1"]}, dict(HOSTVARS, idm1={"drkit_backup_roles": ["kra", "ca"]}))
    assert both["c"]["host"] == "idm4" and "first in inventory order of idm4, idm1" in both["c"]["reason"]


def test_a_hidden_host_may_ask_to_be_backed_up_online():
    assert choose(c=["idm5"])["c"]["online"] is True


def test_missing_roles_are_named_for_each_host():
    choice = choose(c=["idm3", "idm6"])["c"]
    assert choice["host"] is None
    assert choice["error"].startswith("cluster c: no host holds every role in use (ca, kra): idm3 lacks kra; "
                                      "idm6 lacks ca.")


def test_clusters_without_roles_and_empty_clusters():
    assert choose(c=["idm7", "idm8"])["c"]["host"] == "idm8"  # no roles in use: the hidden host
    assert choose(c=[])["c"]["error"] == "cluster c has no hosts in the inventory"


def test_every_cluster_gets_its_own_choice():
    choices = choose(east=["idm1", "idm2"], west=["idm3", "idm4"], bad=["idm6"])
    assert {name: c["host"] for name, c in choices.items()} == {"east": "idm2", "west": "idm4", "bad": "idm6"}


def test_bad_input_is_refused_clearly():
    with pytest.raises(AnsibleFilterError, match="is in two clusters"):
        fleet_choices(["a", "b"], {"a": ["idm1"], "b": ["idm1"]}, HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="not a group of the inventory"):
        fleet_choices(["nope"], {}, HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="must be a list of role names"):
        fleet_choices(["a"], {"a": ["x"]}, {"x": {"drkit_backup_roles": "ca"}})
    with pytest.raises(AnsibleFilterError, match="list of cluster"):
        fleet_choices("east", {}, HOSTVARS)
    assert FilterModule().filters()["fleet_choices"] is fleet_choices
