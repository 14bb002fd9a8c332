# moby.engine developer entry points.
#
#   make demo   run playbooks/demo.yml twice against a real engine + registry (2nd run must not change anything)
#   make test   sanity, units (newest and oldest dependencies), integration (system engine, then the
#               Docker 28.5 matrix), docs, lint, molecule and the Podman pass, in that order;
#               stops at the first failure
#
# Both work from a fresh clone as root: missing Debian packages are installed, dockerd and a local
# registry are started in the background when needed (see scripts/engine-up.sh).
# Everything generated goes to .venv/ and build/ (both git-ignored).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT      := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV      := $(ROOT)/.venv
BUILD     := $(ROOT)/build
COLL      := $(BUILD)/ansible_collections/moby/engine
PYTHON    ?= python3
STAMP     := $(VENV)/.installed

.PHONY: help venv engine collection sanity units units-floor units-py38 integration test test-steps test-podman test-podman5 demo bench clean

help:
	@echo "make demo         run the demo playbook twice (idempotence check)"
	@echo "make test         sanity + units + integration (+ test-podman when TEST_PODMAN=1, the default)"
	@echo "make test-podman  the integration suite against Podman's Docker-compatible service"
	@echo "make test-podman5 the same against Podman 5.4, from a Debian 13 root (scripts/podman5.sh)"
	@echo "make docs         antsibull-docs lint + HTML docs site in build/docs/build/html"
	@echo "make lint         changelog lint, ansible-lint (production), Galaxy build + galaxy-importer"
	@echo "make molecule     fleet rollout scenario: 3 extra dockerds + the registry (extensions/molecule/fleet)"
	@echo "make venv | engine | collection | sanity | units | integration | bench | clean"

# --- venv: controller tooling, reinstalled only when a requirements file changes ----------------
venv: $(STAMP)

$(STAMP): tests/requirements.txt requirements.txt
	@# A fresh Debian has no python3 and/or no python3-venv (ensurepip); install them when missing.
	@if ! command -v $(PYTHON) >/dev/null || ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	  echo "[venv] installing python3 python3-venv"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv; \
	fi
	@# A half-made venv (interrupted run, missing ensurepip) is rebuilt from scratch.
	@[ -x $(VENV)/bin/pip ] || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt -r requirements.txt
	@touch $@

# --- engine: dockerd + registry + base image + build/integration_config.yml ----------------------
# The venv comes first because integration_config.yml names its python.
engine: venv
	scripts/engine-up.sh

# --- collection: ansible-test needs the tree at .../ansible_collections/moby/engine --------------
collection:
	@command -v rsync >/dev/null || { echo "[collection] installing rsync"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync; }
	@mkdir -p $(COLL)
	@# --delete keeps removed files from lingering in the copy; the generated integration_config.yml
	@# and ansible-test's output in the copy are left alone.
	rsync -a --delete \
	  --exclude=/.venv --exclude=/build --exclude=/.git --exclude=/tests/output \
	  --exclude=/tests/integration/integration_config.yml \
	  --exclude=__pycache__ --exclude=.pytest_cache \
	  $(ROOT)/ $(COLL)/

# --- tests ---------------------------------------------------------------------------------------
sanity: venv collection
	@# ansible-test skips its shellcheck test (with only a warning) when the program is missing.
	@command -v shellcheck >/dev/null || { echo "[sanity] installing shellcheck"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; }
	scripts/ansible-test.sh sanity

units: venv collection
	scripts/ansible-test.sh units

integration: engine collection
	scripts/ansible-test.sh integration

# The unit tests again, against the oldest requests/requests-unixsocket/urllib3 that requirements.txt allows.
FLOOR_VENV := $(BUILD)/venv-floor
units-floor: venv collection
	@[ -x $(FLOOR_VENV)/bin/pytest ] && [ $(FLOOR_VENV)/.installed -nt tests/unit/requirements-floor.txt ] || { \
	  rm -rf $(FLOOR_VENV) && $(PYTHON) -m venv $(FLOOR_VENV) && \
	  $(FLOOR_VENV)/bin/pip install -q --disable-pip-version-check "$$(grep '^ansible-core' tests/requirements.txt)" \
	    pytest pytest-mock -r tests/unit/requirements-floor.txt && touch $(FLOOR_VENV)/.installed; }
	$(FLOOR_VENV)/bin/pip list --disable-pip-version-check 2>/dev/null | grep -iE '^(requests|requests-unixsocket|urllib3) '
	cd $(COLL) && PYTHONPATH=$(BUILD) $(FLOOR_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/unit

# The unit tests on Python 3.8, with what requirements.txt gives a 3.8 host (requests-unixsocket 0.3.0, urllib3
# 1.26): at its floor and at its newest. ansible-core no longer installs on 3.8, but its module_utils, which a task
# runs on the host, do run there: the venv's ansible package alone is put on the path, as AnsiballZ ships it.
PY38 := $(BUILD)/pythons/python3.8
units-py38: venv collection
	@if [ ! -x $(PY38) ]; then echo "units-py38: NOT RUN: no Python 3.8 in build/pythons (pyenv's, found by scripts/ansible-test.sh)"; exit 0; fi; \
	mkdir -p $(BUILD)/py38-ansible && ln -sfn "$$($(VENV)/bin/python -c 'import ansible, os; print(os.path.dirname(ansible.__file__))')" \
	  $(BUILD)/py38-ansible/ansible; \
	for set in floor:tests/unit/requirements-floor-py38.txt newest:requirements.txt; do \
	  venv=$(BUILD)/venv-py38-$${set%%:*} requirements=$${set#*:}; \
	  { [ -x $$venv/bin/pytest ] && [ $$venv/.installed -nt $$requirements ]; } || { rm -rf $$venv && $(PY38) -m venv $$venv && \
	    $$venv/bin/pip install -q --disable-pip-version-check pytest pytest-mock -r $$requirements && touch $$venv/.installed; } || exit 1; \
	  echo "units-py38 ($${set%%:*}): $$($$venv/bin/pip list --disable-pip-version-check 2>/dev/null | \
	    grep -iE '^(requests|requests-unixsocket|urllib3) ' | tr -s ' ' | tr '\n' ';')"; \
	  (cd $(COLL) && PYTHONPATH=$(BUILD)/py38-ansible:$(BUILD) $$venv/bin/python -m pytest -q -p no:cacheprovider tests/unit) || exit 1; \
	done

# Sequential on purpose (also under make -j): sanity, then units, then integration.
# scripts/host-net-guard.sh records the host's interfaces and addresses once the system engine runs
# (starting it, on a machine where none answered, creates docker0: that is the machine's own set-up) and
# fails the run when the steps (which start extra dockerds) made one vanish or appear; scripts/engine-guard.sh
# does the same for the system engine's containers, images, volumes and networks. Both check even after a
# failed step.
test:
	$(MAKE) --no-print-directory engine
	@scripts/host-net-guard.sh snapshot $(BUILD)/host-net.before
	@scripts/engine-guard.sh snapshot $(BUILD)/engine.before
	@rc=0; $(MAKE) --no-print-directory test-steps || rc=$$?; \
	  scripts/host-net-guard.sh check $(BUILD)/host-net.before || rc=1; \
	  scripts/engine-guard.sh check $(BUILD)/engine.before || rc=1; exit $$rc

test-steps:
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory units
	$(MAKE) --no-print-directory units-floor
	$(MAKE) --no-print-directory units-py38
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory test-matrix
	$(MAKE) --no-print-directory docs
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory molecule
	@if [ "$(TEST_PODMAN)" = 1 ]; then $(MAKE) --no-print-directory test-podman; \
	else echo "test: Podman pass not run (TEST_PODMAN=$(TEST_PODMAN)); run make test-podman"; fi
	@if [ "$(TEST_PODMAN5)" = 1 ]; then $(MAKE) --no-print-directory test-podman5; \
	else echo "test: Podman 5 pass not run (TEST_PODMAN5=$(TEST_PODMAN5)); run make test-podman5"; fi

# --- test-podman: the integration suite against Podman (scripts/podman-up.sh starts its service) ----
# Same registry and targets as the Docker pass; moby_docker_host points at Podman's socket. Targets in
# tests/integration/podman-skip.txt are excluded and listed as SKIPPED with their reason (never
# counted as passed). make test runs this pass too unless TEST_PODMAN=0 (it adds about 3.5 minutes on 2 cores).
TEST_PODMAN ?= 1
PODMAN_SKIP := tests/integration/podman-skip.txt
test-podman: engine collection
	scripts/podman-up.sh
	@awk -F'\t' '!/^#/ && NF { printf "test-podman: SKIPPED %s: %s\n", $$1, $$2 }' $(PODMAN_SKIP)
	@# The service this pass started is stopped at its end, also on failure.
	@rc=0; INTEGRATION_CONFIG=$(BUILD)/integration_config.podman.yml INTEGRATION_LOG=$(BUILD)/integration.podman.log \
	  scripts/ansible-test.sh integration \
	  $$(awk -F'\t' '!/^#/ && NF { printf "--exclude %s ", $$1 }' $(PODMAN_SKIP)) || rc=$$?; \
	pid=$$(cat $(BUILD)/podman/podman.pid 2>/dev/null || true); \
	if [ -n "$$pid" ] && kill -0 $$pid 2>/dev/null; then echo "test-podman: stopping the podman service (pid $$pid)"; kill $$pid; fi; \
	exit $$rc

# --- test-podman5: the same against Podman 5.4 (Debian 13's), run from a Debian 13 root ------------
# scripts/podman5.sh makes the root once (debootstrap from Debian's mirror, about 40 s) and starts the service with
# runc in mount and PID namespaces of its own (nothing is mounted on the host); the namespace ends at the end, also
# on failure. tests/integration/podman5-skip.txt lists what does not run there, with why. TEST_PODMAN5=0 leaves it
# out (it adds about 3.5 minutes on 2 cores from a fresh root, 3 with the root made).
TEST_PODMAN5 ?= 1
PODMAN5_SKIP := tests/integration/podman5-skip.txt
test-podman5: engine collection
	@awk -F'\t' '!/^#/ && NF { printf "test-podman5: SKIPPED %s: %s\n", $$1, $$2 }' $(PODMAN5_SKIP)
	@rc=0; scripts/podman5.sh up || rc=$$?; \
	if [ $$rc = 0 ]; then \
	  INTEGRATION_CONFIG=$(BUILD)/integration_config.podman5.yml INTEGRATION_LOG=$(BUILD)/integration.podman5.log \
	    scripts/ansible-test.sh integration \
	    $$(awk -F'\t' '!/^#/ && NF { printf "--exclude %s ", $$1 }' $(PODMAN5_SKIP)) || rc=$$?; \
	fi; \
	scripts/podman5.sh down || rc=1; exit $$rc

# --- release hygiene and the fleet scenario (make test runs docs, lint and molecule last) ----------
.PHONY: tools docs lint molecule
# Docs, lint, Galaxy and molecule tooling, on top of the test venv; ansible-core stays pinned.
TOOLS_STAMP := $(VENV)/.tools-installed
tools: $(TOOLS_STAMP)
$(TOOLS_STAMP): $(STAMP) tests/requirements-tools.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements-tools.txt
	@touch $@

TOOLS_ENV = PATH=$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(BUILD) ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 NO_COLOR=1

docs: tools collection
	$(TOOLS_ENV) antsibull-docs lint-collection-docs --plugin-docs $(COLL)
	$(TOOLS_ENV) scripts/docs-build.sh

# galaxy-importer runs offline (tests/galaxy-importer.cfg: no containers, no ansible-test, offline
# ansible-lint) and exits 0 even when it reports problems, so its log is checked for WARNING/ERROR.
lint: tools collection
	$(TOOLS_ENV) antsibull-changelog lint
	$(TOOLS_ENV) python scripts/examples-playbooks.py $(BUILD)/lint-examples
	$(TOOLS_ENV) ansible-lint playbooks extensions/molecule $(BUILD)/lint-examples galaxy.yml meta
	rm -rf $(BUILD)/galaxy && mkdir -p $(BUILD)/galaxy
	$(TOOLS_ENV) ansible-galaxy collection build --output-path $(BUILD)/galaxy $(ROOT)
	cd $(BUILD)/galaxy && $(TOOLS_ENV) GALAXY_IMPORTER_CONFIG=$(ROOT)/tests/galaxy-importer.cfg \
	  python -m galaxy_importer.main moby-engine-*.tar.gz > importer.log 2>&1 || { cat importer.log; exit 1; }
	@if grep -E '^(WARNING|ERROR)' $(BUILD)/galaxy/importer.log; then \
	  echo "lint: galaxy-importer reported the problems above (full log: build/galaxy/importer.log)"; exit 1; fi
	@echo "lint: galaxy-importer accepted $$(ls $(BUILD)/galaxy/*.tar.gz)"

# Molecule's delegated driver: create.yml starts one dockerd per inventory host, destroy.yml removes them.
molecule: tools engine collection
	$(TOOLS_ENV) molecule test -s fleet 2>&1 | tee $(BUILD)/molecule.log
	@scripts/check-no-secrets.sh $(BUILD)/molecule.log

# --- demo: run twice; the second run must report changed=0 failed=0 ------------------------------
DEMO_RESET_CMD = ANSIBLE_COLLECTIONS_PATH=$(BUILD) $(VENV)/bin/ansible-playbook -i playbooks/inventory.ini \
	playbooks/demo-reset.yml -e @$(BUILD)/integration_config.yml
DEMO_CMD = ANSIBLE_COLLECTIONS_PATH=$(BUILD) ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 \
	$(VENV)/bin/ansible-playbook -i playbooks/inventory.ini playbooks/demo.yml -e @$(BUILD)/integration_config.yml

demo: engine collection
	@echo "=== demo: reset the demo's images ==="
	$(DEMO_RESET_CMD) > $(BUILD)/demo-reset.log || { tail -n 40 $(BUILD)/demo-reset.log; exit 1; }
	@echo "=== demo: first run ==="
	$(DEMO_CMD) | tee $(BUILD)/demo-1.log
	@echo "=== demo: second run (must not change anything) ==="
	$(DEMO_CMD) | tee $(BUILD)/demo-2.log
	@# The recap has one line per host: "host : ok=N changed=N unreachable=N failed=N ...".
	@awk '/PLAY RECAP/ {r=1; next} r && /changed=/ { \
	    for (i = 1; i <= NF; i++) { split($$i, kv, "="); if (kv[1] ~ /^(changed|failed|unreachable)$$/ && kv[2] > 0) bad = 1 } \
	    seen = 1 } \
	  END { if (!seen) { print "demo: no PLAY RECAP in second run"; exit 1 } \
	        if (bad) { print "demo: second run was not idempotent (changed/failed/unreachable > 0)"; exit 1 } \
	        print "demo: second run idempotent (changed=0 failed=0)" }' $(BUILD)/demo-2.log
	@scripts/check-no-secrets.sh $(BUILD)/demo-reset.log $(BUILD)/demo-1.log $(BUILD)/demo-2.log

# --- bench: figures, not pass/fail; the benchmark itself belongs to another developer --------------
# tests/bench/bench.py; BENCH_ARGS chooses sections (info pull build push_pull export_load fleet).
bench: engine collection
	@# The interpreter wrapper measures each module process's peak RSS with GNU time.
	@[ -x /usr/bin/time ] || { echo "[bench] installing time"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }
	ANSIBLE_COLLECTIONS_PATH=$(BUILD) PATH=$(VENV)/bin:$$PATH $(VENV)/bin/python tests/bench/bench.py $(BENCH_ARGS)

# --- clean: generated files. The registry we started is stopped (its storage goes away); dockerd is
# left running since it may be shared and its images live in /var/lib/docker.
clean:
	@pid=$$(cat $(BUILD)/registry/registry.pid 2>/dev/null || true); \
	if [ -n "$$pid" ] && kill -0 $$pid 2>/dev/null; then echo "stopping registry pid $$pid"; kill $$pid; fi
	@# Podman's service (make test-podman) keeps its storage in build/podman: stop it before that goes.
	@pid=$$(cat $(BUILD)/podman/podman.pid 2>/dev/null || true); \
	if [ -n "$$pid" ] && kill -0 $$pid 2>/dev/null; then echo "stopping podman service pid $$pid"; kill $$pid; fi
	@# Podman 5's root has /dev, /sys and /proc mounted while its pass runs: unmount before anything is removed.
	@[ ! -d $(BUILD)/podman5 ] || scripts/podman5.sh down
	rm -rf --one-file-system $(BUILD) $(VENV) tests/output

# --- test-matrix: the integration suite against newer engines beside the system engine (issue 12) ---
# scripts/engines.sh starts Docker 28.5 (Debian unstable's docker.io and containerd, unpacked under
# build/engines by scripts/engines-get.sh, nothing installed) three times: d28-classic (classic image
# store), d28-containerd (containerd image store) and d28-min144 (DOCKER_MIN_API_VERSION=1.44, as
# Docker 29). tests/integration/engine-matrix.txt says which targets run on which engine; the others
# are printed as SKIPPED with their reason. The engines always come down at the end. make test runs it
# after the system engine's pass. MATRIX_ENGINES="d28-classic" runs chosen engines.
.PHONY: test-matrix engines-up engines-down
test-matrix: engine collection
	scripts/test-matrix.sh $(MATRIX_ENGINES)

engines-up: engine
	scripts/engines.sh up $(MATRIX_ENGINES)

engines-down:
	scripts/engines.sh down $(MATRIX_ENGINES)
