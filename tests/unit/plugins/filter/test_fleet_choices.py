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


# --- clusters whose product reports its own topology (IdM) ----------------------------------------

IPA_HOSTVARS = {
    "ipa1": {"drkit_backup_freeipa_server": "ipa1.example.test"},
    "ipa2": {"drkit_backup_freeipa_server": "ipa2.example.test", "drkit_backup_roles": ["ca"]},
    "ipa3.example.test": {"drkit_backup_hidden": True},  # stale inventory: the topology decides
}
IPA_GROUPS = {"idm": ["ipa1", "ipa2", "ipa3.example.test"]}


def topology(server="ipa2.example.test", hidden=True, **result):
    choice = {"server": server, "hidden": hidden, "roles_in_use": ["CA", "KRA", "DNS"],
              "reason": "hidden server holding every role in use (CA, KRA, DNS)"}
    return {"idm": {"provider": "freeipa", "host": "ipa1", "result": dict({"backup_server": choice}, **result)}}


def test_the_topology_chooses_and_its_server_is_mapped_to_the_inventory_host():
    choice = fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, topology())["idm"]
    assert (choice["host"], choice["server"], choice["hidden"], choice["online"]) == (
        "ipa2", "ipa2.example.test", True, False)
    assert choice["source"] == "freeipa_topology_info" and choice["roles"] == ["CA", "KRA", "DNS"]
    assert choice["reason"] == "IdM topology read on ipa1: hidden server holding every role in use (CA, KRA, DNS)"
    assert choice["error"] is None
    # Without drkit_backup_freeipa_server the inventory name is the server's name.
    assert fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, topology("ipa3.example.test"))["idm"]["host"] == \
        "ipa3.example.test"


def test_an_enabled_server_chosen_by_the_topology_is_backed_up_online():
    choice = fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, topology("ipa1.example.test", hidden=False))["idm"]
    assert choice["host"] == "ipa1" and choice["online"] and not choice["hidden"]
    assert choice["reason"].endswith("it serves clients, so it is backed up online")


def test_what_the_topology_refuses_or_cannot_map_is_the_clusters_error():
    refused = {"idm": {"provider": "freeipa", "host": "ipa1", "result": {
        "failed": True, "msg": "no hidden replica holds every role in use (CA, KRA, DNS): servers are "
                               "ipa3.example.test (hidden; has CA; lacks KRA, DNS); install the missing roles"}}}
    choice = fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, refused)["idm"]
    assert choice["host"] is None
    assert choice["error"] == ("cluster idm (IdM topology read on ipa1): no hidden replica holds every role in use "
                               "(CA, KRA, DNS): servers are ipa3.example.test (hidden; has CA; lacks KRA, DNS); "
                               "install the missing roles")
    # The fleet role registers the module under failed_when: false: failed is false then, the msg is kept.
    refused["idm"]["result"].update(failed=False, failed_when_result=False)
    assert fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, refused)["idm"]["error"] == choice["error"]
    unknown = fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, topology("ipa9.example.test"))["idm"]
    assert unknown["host"] is None and "IdM chose ipa9.example.test" in unknown["error"]
    assert "set drkit_backup_freeipa_server" in unknown["error"]
    down = topology()
    down["idm"]["result"] = {"unreachable": True, "msg": "ssh: connect to host 127.0.0.21 port 2322: refused"}
    assert "because ipa1 did not answer (ssh: connect" in fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, down)["idm"]["error"]
    skipped = topology()
    skipped["idm"]["result"] = {"skipped": True}
    assert "was not read on ipa1" in fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, skipped)["idm"]["error"]


def test_discovered_clusters_and_inventory_clusters_side_by_side():
    groups = dict(IPA_GROUPS, east=["idm1", "idm2"])
    hostvars = dict(HOSTVARS, **IPA_HOSTVARS)
    choices = fleet_choices(["east", "idm"], groups, hostvars, topology())
    assert (choices["east"]["host"], choices["east"]["source"]) == ("idm2", "inventory")
    assert (choices["idm"]["host"], choices["idm"]["source"]) == ("ipa2", "freeipa_topology_info")
    with pytest.raises(AnsibleFilterError, match="must be {provider: freeipa, host, result}"):
        fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, {"idm": {"provider": "keycloak"}})
    with pytest.raises(AnsibleFilterError, match="discovered as a dict"):
        fleet_choices(["idm"], IPA_GROUPS, IPA_HOSTVARS, ["idm"])
