# Build and check the drkit.backup collection.
#
#   make test         venv, deps, collection, then sanity and integration beside unit, lint, awx, reliability, molecule
#   make deps         the Debian packages the tests use (hack/install-test-deps)
#   make venv         .venv with requirements.txt + requirements-test.txt (stamp: fast re-runs)
#   make collection   .build/collections/ansible_collections/drkit/backup -> repo root
#   make sanity       ansible-test sanity on a copy of the tree (works offline, see below)
#   make lint         ansible-lint, production profile (.ansible-lint)
#   make unit         pytest tests/unit (four processes: appliances, databases, directories and the rest)
#   make reliability  the whole reliability suite (make test runs its quick subset)
#   make integration  ansible-test integration (tests/integration/targets) on a copy of the tree
#   make awx          awx_setup.yml against the awx.awx modules' argument specs, its lint, the execution
#                     environment's build context (tests/awx; its own venv .build/awx-venv, requirements-awx.txt)
#   make ee-context   the execution environment's build context in .build/ee/context (ansible-builder create)
#   make molecule     both molecule scenarios (make molecule-default, make molecule-freeipa):
#                     default: the fleet, sshd + slapd hosts on 127.0.0.11-14;
#                     freeipa: an IdM cluster of emulated servers (real slapd) behind sshd on 127.0.0.21-23
#   make demo         install the collection into .build and run its demo playbook on localhost
#   make bench        benchmarks against restic, Borg, tar|gpg, and the fleet of 8 sshd hosts on 127.0.0.31-38
#                     (not part of make test; writes bench/results.json, databases.json, ldap.json, fleet-results.json)
#   make provider-docs docs/providers/<name>.md from each provider's option spec (a unit test fails when stale)
#   make clean        remove .build and tests/output (keeps .venv; `make distclean` removes it too)
#
# Every stage prints its elapsed time ("=== stage NAME  12.3s  ok").

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := test

ROOT        := $(CURDIR)
VENV        := $(ROOT)/.venv
VENV_STAMP  := $(VENV)/.requirements.stamp
BUILD       := $(ROOT)/.build
COLLECTIONS := $(BUILD)/collections
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/drkit/backup
INTEGRATION_ROOT := $(BUILD)/integration/ansible_collections/drkit/backup
DEMO_COLLECTIONS := $(BUILD)/demo-collections
TIMES       := $(BUILD)/times
PIP_VERSION := 26.3

# Tools of the venv come first: ansible-test finds its Python 3.11 there, and
# ansible-doc, ansible-playbook, pytest... are the pinned ones.
export PATH := $(VENV)/bin:$(PATH)

# First line of each stage's recipe: trace the commands, and when the recipe
# ends (ok or failed) print the stage's elapsed time and record it in $(TIMES).
stage = @t0=$$EPOCHREALTIME; trap 'rc=$$?; cd $(ROOT); hack/stage-time $(1) $$t0 $$rc' EXIT; set -x

AWX_VENV    := $(BUILD)/awx-venv
AWX_STAMP   := $(AWX_VENV)/.requirements.stamp

STAGES := venv deps collection sanity integration unit lint awx reliability-subset molecule-default molecule-freeipa
# make test runs these, one after the other, beside the other stages from the unit tests on (DESIGN decision 14):
# sanity reads a copy of the tree and starts no server; the integration targets start servers of their own (their
# own directories, addresses and ports, none of the unit tests' or molecule's). The unit tests wait on their servers
# more than they compute. lint and awx run in the other lane, after unit, to even the two out (measured: 1669 s for
# sanity, lint, awx and integration, 1349 s for the rest). Their output is shown when make test ends.
BESIDE_UNIT := sanity integration

# `make test` runs each stage in its own make; NODEPS=1 keeps unit, lint...
# from re-running venv and collection (already done, in order) each time.
needs = $(if $(NODEPS),,$(1))

.PHONY: test $(STAGES) awx-venv ee-context molecule reliability demo bench provider-docs clean distclean

test:
	@rm -f $(TIMES)
	t0=$$EPOCHREALTIME
	failed=0
	stage() { $(MAKE) --no-print-directory $$1 NODEPS=1 || failed=1; }
	for s in $(filter-out $(BESIDE_UNIT),$(STAGES)); do
	  stage $$s
	  if [ $$s = collection ]; then
	    ( rc=0; for b in $(BESIDE_UNIT); do $(MAKE) --no-print-directory $$b NODEPS=1 > $(BUILD)/$$b.log 2>&1 || rc=1; done
	      exit $$rc ) & beside=$$!
	  fi
	done
	wait $$beside || failed=1
	for b in $(BESIDE_UNIT); do cat $(BUILD)/$$b.log; done
	echo "=== summary"
	awk '{ printf "%-12s %7.1fs  %s\n", $$1, $$2, $$3; t += $$2 } END { printf "%-12s %7.1fs\n", "stages", t }' $(TIMES)
	awk -v a="$$t0" -v b="$$EPOCHREALTIME" 'BEGIN { printf "%-12s %7.1fs  (%s beside the rest)\n", "wall clock", b - a, "$(BESIDE_UNIT)" }'
	exit $$failed

venv:
	$(call stage,venv)
	[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	if [ -e $(VENV_STAMP) ] && [ $(VENV_STAMP) -nt requirements.txt ] && [ $(VENV_STAMP) -nt requirements-test.txt ]; then
	  echo "venv: up to date"
	else
	  $(VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	  $(VENV)/bin/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	  touch $(VENV_STAMP)
	fi

# The real servers and tools the tests use, from Debian (see the script's list).
deps:
	$(call stage,deps)
	hack/install-test-deps
	# The tests' servers listen on ports 55300-55499, inside the kernel's ephemeral range: keep the kernel from
	# handing them to outgoing connections, which now and then made a server's start fail ("port in use").
	sysctl -qw net.ipv4.ip_local_reserved_ports=55300-55499 || echo "deps: ports 55300-55499 not reserved"

collection:
	$(call stage,collection)
	mkdir -p $(COLLECTIONS)/ansible_collections/drkit
	ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/drkit/backup
	test -f $(COLLECTIONS)/ansible_collections/drkit/backup/galaxy.yml

# ansible-test needs a real directory named ansible_collections/drkit/backup:
# a fresh copy of the files git knows about (tracked + untracked-not-ignored).
#
# Offline tricks:
# - ANSIBLE_TEST_CONTENT_ROOT: without it ansible-test walks up to the repo's
#   .git, where .build/ is ignored, and finds no files ("All targets skipped").
#   With it, the git-less copy is read as an unversioned tree.
# - Each sanity test gets its own virtualenv (cached in ~/.ansible/test/venv),
#   bootstrapped by a get-pip script that ansible-test downloads from a host
#   we cannot reach. hack/get_pip_offline.py stands in for it in the cache
#   (~/.ansible/test/cache/get_pip_<pip version>.py); the pip version is read
#   from ansible-test's own source. The test requirements then come from PyPI.
# - No --requirements: it would only install ansible-test's controller
#   requirements into .venv, which already has them (pinned).
# - shellcheck comes from `make deps`: without it ansible-test would skip the
#   shellcheck test with a mere warning.
# - pslint (PowerShell) has nothing to check: this collection has no .ps1/.psm1.
sanity: $(call needs,venv deps)
	$(call stage,sanity)
	pip_version=$$(grep -oP "pip='\K[0-9.]+" $(VENV)/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py)
	install -D -m 644 hack/get_pip_offline.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	rm -rf $(BUILD)/sanity
	hack/copy-tree $(SANITY_ROOT)
	cd $(SANITY_ROOT)
	ANSIBLE_TEST_CONTENT_ROOT=$(SANITY_ROOT) ansible-test sanity --local --python 3.11 --color no

# ansible-lint finds the collection's own modules through .build/collections
# (with offline: true it does not install the collection it is run in).
lint: $(call needs,venv collection)
	$(call stage,lint)
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) ansible-lint --nocolor

# Four pytest processes at once, sharing no server: the appliances' tests (the CipherTrust and MQ Appliance
# emulators), the databases' (PostgreSQL, MariaDB, and Keycloak on them), the directories' and the rest of the
# providers' (slapd, Kanidm, IdM, files), each with its part of the provider contract suite, and the rest (none of
# those servers). Each starts the servers it uses once and waits on them more than it computes, and prints its 15
# slowest tests. Their temporary directories stay short (unix sockets live in some).
UNIT_TMP   := /tmp/drkit-unit
UNIT_MU    := tests/unit/plugins/module_utils
UNIT_P     := $(UNIT_MU)/providers
APPLIANCES := $(UNIT_P)/ciphertrust $(UNIT_P)/mq_appliance $(UNIT_MU)/ciphertrust $(UNIT_MU)/mq_appliance
DATABASES  := $(UNIT_P)/postgresql $(UNIT_P)/mysql $(UNIT_P)/mariadb_physical $(UNIT_P)/keycloak
# Which of the contract suite's providers each runs (by their names in the test ids).
APPLIANCE_NAMES := (ciphertrust or mq_appliance)
DATABASE_NAMES  := (postgresql or mysql or mariadb_physical or keycloak)
unit: $(call needs,venv deps collection)
	$(call stage,unit)
	rm -rf $(UNIT_TMP) && mkdir -p $(UNIT_TMP)
	run() { name=$$1; shift; PYTHONPATH=$(COLLECTIONS) pytest -p no:cacheprovider --basetemp=$(UNIT_TMP)/$$name \
	  --durations=15 "$$@" > $(BUILD)/unit-$$name.log 2>&1; }
	contract=$(UNIT_P)/test_contract.py
	run appliances $(APPLIANCES) $$contract -k "not test_contract or $(APPLIANCE_NAMES)" & a=$$!
	run databases $(DATABASES) $$contract -k "not test_contract or $(DATABASE_NAMES)" & b=$$!
	run directories $(UNIT_P) $(addprefix --ignore=,$(APPLIANCES) $(DATABASES)) \
	  -k "not (test_contract and ($(APPLIANCE_NAMES) or $(DATABASE_NAMES)))" & c=$$!
	run rest tests/unit --ignore=$(UNIT_P) $(addprefix --ignore=,$(APPLIANCES)) & d=$$!
	rc=0
	for job in $$a $$b $$c $$d; do wait $$job || rc=1; done
	for name in appliances databases directories rest; do echo "--- unit: $$name"; cat $(BUILD)/unit-$$name.log; done
	exit $$rc

# The AWX tests' venv (DESIGN decision 32): awx.awx from PyPI's ansible package, and ansible-builder.
awx-venv:
	[ -x $(AWX_VENV)/bin/python ] || python3 -m venv $(AWX_VENV)
	if [ ! -e $(AWX_STAMP) ] || [ requirements-awx.txt -nt $(AWX_STAMP) ]; then
	  $(AWX_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	  $(AWX_VENV)/bin/python -m pip install --quiet -r requirements-awx.txt
	  touch $(AWX_STAMP)
	fi

# No AWX runs here: tests/awx holds awx_setup.yml to the modules' argument specs and writes the EE's context.
awx: $(call needs,venv collection)
	$(call stage,awx)
	$(MAKE) --no-print-directory awx-venv
	DRKIT_AWX_VENV=$(AWX_VENV) PYTHONPATH=$(COLLECTIONS) pytest -q -p no:cacheprovider tests/awx

# The collection's tarball and the execution environment's build context (then: podman build .build/ee/context).
ee-context: $(call needs,venv)
	$(MAKE) --no-print-directory awx-venv
	rm -rf $(BUILD)/ee && mkdir -p $(BUILD)/ee
	ansible-galaxy collection build --force --output-path $(BUILD)/ee .
	mv $(BUILD)/ee/drkit-backup-*.tar.gz $(BUILD)/ee/drkit-backup.tar.gz
	$(AWX_VENV)/bin/ansible-builder create -f execution-environment.yml -c $(BUILD)/ee/context --output-filename Containerfile

# The reliability suite (tests/reliability): faults, corruption, fuzzing, bad input, secrets, counted in one
# summary line. make test runs its quick subset; make reliability runs all of it.
reliability-subset: $(call needs,venv deps collection)
	$(call stage,reliability-subset)
	PYTHONPATH=$(COLLECTIONS) pytest -q -p no:cacheprovider tests/reliability --fast

reliability: $(call needs,venv deps collection)
	$(call stage,reliability)
	PYTHONPATH=$(COLLECTIONS) pytest -q -p no:cacheprovider tests/reliability

# The integration targets run as real ansible-playbook runs on localhost, from a
# copy of the tree (as for sanity); the modules run with the venv's Python.
integration: $(call needs,venv deps)
	$(call stage,integration)
	rm -rf $(BUILD)/integration
	hack/copy-tree $(INTEGRATION_ROOT)
	cd $(INTEGRATION_ROOT)
	ANSIBLE_TEST_CONTENT_ROOT=$(INTEGRATION_ROOT) ansible-test integration --local --python 3.11 --color no --continue-on-error

# The fleet scenario: four sshd processes on 127.0.0.11-14, each with its own slapd, in two clusters,
# backed up by the fleet role over SSH, then a restore killed mid-way and rolled back (see
# extensions/molecule/default/molecule.yml). Molecule finds the scenario from the repo root
# (galaxy.yml); its prerun is off, so the collection comes from .build/collections only.
molecule: molecule-default molecule-freeipa

molecule-default: $(call needs,venv deps collection)
	$(call stage,molecule-default)
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) NO_COLOR=1 ANSIBLE_NOCOLOR=1 molecule test --scenario-name default

# The IdM scenario: three emulated IdM servers (tests/emulators/freeipa, a real slapd each) behind sshd on
# 127.0.0.21-23; the fleet role backs up the hidden replica IdM names, the restore role brings a deleted user
# back and hides the replica again, then rebuilds the lost replica on a fresh host
# (extensions/molecule/freeipa/molecule.yml). Its files live in /var/lib/drkit-tests/molecule-freeipa while it runs.
molecule-freeipa: $(call needs,venv deps collection)
	$(call stage,molecule-freeipa)
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) NO_COLOR=1 ANSIBLE_NOCOLOR=1 molecule test --scenario-name freeipa

# The demo installs the collection as a user would (ansible-galaxy, from this
# directory, offline) and runs its playbook by its FQCN.
demo: $(call needs,venv)
	$(call stage,demo)
	ansible-galaxy collection install --force -p $(DEMO_COLLECTIONS) $(ROOT) >/dev/null
	ANSIBLE_COLLECTIONS_PATH=$(DEMO_COLLECTIONS) ANSIBLE_LOCALHOST_WARNING=false \
	  ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	  ansible-playbook drkit.backup.demo -e demo_root=$(ROOT)/.demo

# Not part of `make test`: drkit against restic, Borg, tar|gpg and the read-and-hash limit (see bench/run.py).
# BENCH_ARGS="--scale 0.1 --reps 1" for a quick run; BENCH_DB_ARGS="--pg-gib 0.2 --mariadb-gib 0.1 --reps 1" for the databases,
# BENCH_LDAP_ARGS="--gib 0.1 --reps 1" for OpenLDAP.
bench: $(call needs,venv collection)
	$(call stage,bench)
	hack/install-bench-deps
	python bench/run.py $(BENCH_ARGS)
	python bench/databases.py $(BENCH_DB_ARGS)
	python bench/ldap.py $(BENCH_LDAP_ARGS)
	python bench/fleet.py $(BENCH_FLEET_ARGS)

provider-docs: $(call needs,venv collection)
	$(VENV)/bin/python hack/provider_docs.py

clean:
	rm -rf $(BUILD) tests/output

distclean: clean
	rm -rf $(VENV)
