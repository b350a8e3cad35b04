# swarmstack: `make lab` and `make test` are all a new user needs; both set
# up this machine first (Debian packages, .venv, a running Docker engine).
# `make venv` is all a controller of real hosts needs: no root, no Docker.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

LAB_INVENTORY ?= inventory/lab
PLAYBOOK := ansible-playbook -i $(LAB_INVENTORY)
# Prefix each line of a job run beside others with its name and the time
# (bash's printf %(...)T): `make test | grep` follows one job, and CI's log
# shows where the time went.
prefix = while IFS= read -r line || [[ -n "$$line" ]]; do printf '[%s %(%T)T] %s\n' $(1) -1 "$$line"; done
# Each job's whole output is kept in .cache/test-logs/JOB.log as well, and
# its pytest results in JOB.xml; a failed `make test` ends with what failed
# in them (scripts/test_summary.py), as CI may keep only a log's last lines.
TEST_LOGS := $(CURDIR)/.cache/test-logs
logged = tee $(TEST_LOGS)/$(1).log | $(call prefix,$(1))

.PHONY: help venv setup lab lab-up lab-down verify test test-lint test-base-image lint unit base-image stack-images molecule molecule-default molecule-drills bench lock

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

venv: ## Only .venv with the controller's pinned requirements (no root, no Docker; idempotent)
	@scripts/setup-host.sh venv

setup: ## Install what the project and its tests need on this machine (idempotent)
	@scripts/setup-host.sh

lab-up: setup ## Start the three lab nodes (vCon01-03) only
	$(PLAYBOOK) playbooks/lab.yml

lab: lab-up ## Start the lab, deploy the whole stack on it with site.yml, verify it
	$(PLAYBOOK) site.yml
	$(PLAYBOOK) playbooks/verify.yml

verify: setup ## Run playbooks/verify.yml against the lab (the stack must be up)
	$(PLAYBOOK) playbooks/verify.yml

lab-down: setup ## Remove the lab: its containers, volumes, network and key
	$(PLAYBOOK) playbooks/lab.yml -e lab_state=absent

# The lint and the lab's images first, at the same time: with a cold cache
# they took 45 s and about 50 s one after the other, the lint mostly on one
# core and debootstrap mostly on the other. Then the unit tests and the two
# Molecule scenarios run at the same time, each line of their output
# prefixed with its name and the time: they use their own names and address
# ranges, and the base image they all start from is made by then. Beside
# them, stack-images fills the controller's image cache, so that with a cold
# cache the scenarios' builders load the stack's images when they come to
# them instead of one building them in its node while the other waits
# (about 3 min each).
test: setup ## Every test: lint beside the lab's images, then unit tests and both Molecule scenarios at once
	@mkdir -p $(TEST_LOGS)
	@rm -f $(TEST_LOGS)/*.log $(TEST_LOGS)/*.xml
	@$(MAKE) --no-print-directory -j2 test-lint test-base-image || { \
	  if grep -q 'Error [0-9]' $(TEST_LOGS)/lint.log; then \
	    echo "make test failed in the lint; its last lines (all of them in $(TEST_LOGS)/lint.log):"; \
	    tail -n 25 $(TEST_LOGS)/lint.log; fi; \
	  if grep -q 'Error [0-9]' $(TEST_LOGS)/base.log; then python3 scripts/test_summary.py $(TEST_LOGS)/base.log; fi; \
	  exit 1; }
	$(MAKE) --no-print-directory -j4 unit stack-images molecule-default molecule-drills \
	  || { python3 scripts/test_summary.py $(TEST_LOGS)/{unit,images,default,drills}.log; exit 1; }

# `make test`'s first two parts, each line prefixed like the others.
test-lint: setup
	@mkdir -p $(TEST_LOGS)
	@$(MAKE) --no-print-directory lint 2>&1 | $(call logged,lint)

test-base-image: setup
	@mkdir -p $(TEST_LOGS)
	@$(MAKE) --no-print-directory base-image 2>&1 | $(call logged,base)

lint: setup ## yamllint, ansible-lint (production profile), ruff
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .

unit: setup ## Unit and integration tests of the apps against a real redis-server
	@mkdir -p $(TEST_LOGS)
	pytest --junitxml=$(TEST_LOGS)/unit.xml 2>&1 | $(call logged,unit)

base-image: setup ## The lab's images on this machine: the debootstrap base and the plain node image
	$(PLAYBOOK) playbooks/lab_images.yml

stack-images: setup base-image ## The stack's images built in this machine's engine, their archives in the controller's cache
	@mkdir -p $(TEST_LOGS)
	ansible-playbook -i inventory/controller playbooks/images.yml 2>&1 | $(call logged,images)

molecule: setup base-image ## Both Molecule scenarios at once: default and drills
	$(MAKE) --no-print-directory -j2 molecule-default molecule-drills

molecule-default: setup ## Molecule default: 3 nodes, converge, idempotence, verify.yml, testinfra
	@mkdir -p $(TEST_LOGS)
	PYTEST_ADDOPTS=--junitxml=$(TEST_LOGS)/default.xml molecule test 2>&1 | $(call logged,default)

molecule-drills: setup ## Molecule drills: 3 managers + 1 worker, the service-interrupting drills, operations tests
	@mkdir -p $(TEST_LOGS)
	PYTEST_ADDOPTS=--junitxml=$(TEST_LOGS)/drills.xml molecule test -s drills 2>&1 | $(call logged,drills)

# BENCH_QUICK=1: small sizes and short runs, for development.
# The system bench reads the Meteorite Landings file: checked first, so that
# a missing file stops the run before the app bench's minutes, not after.
BENCH_DATA ?= $(or $(SWARMSTACK_DATA_FILE),$(abspath $(CURDIR)/../shared/data/Meteorite_Landings.json))
bench: setup ## Benchmarks: the app, then the system on its own lab (not part of `make test`)
	@test -r "$(BENCH_DATA)" || { echo "make bench: no Meteorite Landings file at $(BENCH_DATA); set SWARMSTACK_DATA_FILE to it" >&2; exit 1; }
	python bench/app_bench.py $(if $(filter-out 0,$(BENCH_QUICK)),--duration 3 --warmup 1 --repeat 1 --no-big)
	python bench/split_vote.py $(if $(filter-out 0,$(BENCH_QUICK)),--tries 2)
	python bench/system_bench.py $(if $(filter-out 0,$(BENCH_QUICK)),--quick)
	python bench/backup_bench.py $(if $(filter-out 0,$(BENCH_QUICK)),--quick)

# The locks are pip freeze of a throwaway venv: the controller's first, then
# the tests' on top of it with the controller's pins as constraints, so that
# test.txt holds controller.txt unchanged; then, in the venv made anew, the
# oldest ansible-core the project supports alone.
lock: ## Re-pin requirements/controller.txt, test.txt and oldest.txt from their .in files
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	python3 -m venv "$$tmp"; \
	pip=("$$tmp/bin/pip" --disable-pip-version-check); \
	"$${pip[@]}" install -q -r requirements/controller.in; \
	{ echo "# Lock of controller.in: every package pinned. Regenerate with 'make lock'."; \
	  "$${pip[@]}" freeze; } > requirements/controller.txt; \
	"$${pip[@]}" install -q -c requirements/controller.txt -r requirements/test.in; \
	{ echo "# Lock of test.in (controller.txt and more): every package pinned. Regenerate with 'make lock'."; \
	  "$${pip[@]}" freeze; } > requirements/test.txt; \
	python3 -m venv --clear "$$tmp"; \
	"$${pip[@]}" install -q -r requirements/oldest.in; \
	{ echo "# Lock of oldest.in: every package pinned. Regenerate with 'make lock'."; \
	  "$${pip[@]}" freeze; } > requirements/oldest.txt
