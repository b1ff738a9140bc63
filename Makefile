# lakehouse-stack: one entry point for the stack, the test bed, the tests and the benchmarks.
# `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Local Pulumi backend and stack: no Pulumi account needed. The passphrase that encrypts the stack's
# secrets is generated once and kept outside the repository.
STACK ?= dev
# The backend URL is written exactly as Pulumi.yaml's `backend.url`: pulumi keeps the selected stack per URL
# string, so `pulumi` typed in the clone (no variables set) then finds the stack `make up` selected.
PULUMI_STATE := $(CURDIR)/.pulumi-state
PULUMI_BACKEND := file://.pulumi-state
PASSPHRASE_FILE ?= $(HOME)/.config/lakehouse-stack/passphrase
PULUMI_ENV := PULUMI_BACKEND_URL=$(PULUMI_BACKEND) PULUMI_CONFIG_PASSPHRASE_FILE=$(PASSPHRASE_FILE) \
	PULUMI_SKIP_UPDATE_CHECK=true

.PHONY: help venv test unit integration docker-check lint format testbed-up testbed-down testbed-status testbed-check \
	demo up preview refresh down outputs env bench faults clean

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv with the pinned requirements
$(STAMP): requirements.txt requirements-services.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

test: venv ## THE test command: prerequisites, lint, unit tests, the test bed's tests, then the Docker check
	$(PY) -m testbed check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -m "not integration and not docker"
	$(PY) -m pytest -m "integration and not docker"
	$(PY) -m pytest -m docker

unit: venv ## unit tests only (no servers; ~5 min, mostly the job tests' local Spark)
	$(PY) -m pytest -m "not integration and not docker"

docker-check: venv ## the stack's own containers on a Docker engine (stand-in images), end to end
	$(PY) -m testbed check
	$(PY) -m pytest -m docker

integration: venv ## integration, end-to-end, browser and engine tests on the real-service test bed
	$(PY) -m testbed check
	$(PY) -m pytest -m "integration and not docker"

lint: venv ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv ## apply ruff's fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

testbed-up: venv ## start the real-service test bed on 127.0.0.1 (writes .testbed/endpoints.json)
	$(PY) -m testbed up

testbed-down: venv ## stop the test bed and remove its data (KEEP=1 keeps the data)
	$(PY) -m testbed down $(if $(KEEP),--keep,)

testbed-status: venv ## what the test bed runs, where, and its memory
	$(PY) -m testbed status

testbed-check: venv ## are the test bed's prerequisites (JDK 17, JDK 24+, Maven) here? says how to install
	$(PY) -m testbed check

DEMO_SECONDS ?= 60
DEMO_RATE ?= 200
demo: venv ## the lakehouse without Docker: test bed + post-deploy steps + producer; dashboard URLs at the end
	$(PY) -m testbed demo --seconds $(DEMO_SECONDS) --rate $(DEMO_RATE)

up: venv ## deploy the lakehouse on the local Docker engine (local Pulumi backend, stack $(STACK))
	@command -v pulumi >/dev/null || { echo "make up needs the Pulumi CLI: see README, Prerequisites"; exit 1; }
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "make up needs a running Docker engine"; exit 1; }
	@mkdir -p $(PULUMI_STATE) $(dir $(PASSPHRASE_FILE))
	@test -s $(PASSPHRASE_FILE) || { umask 077; $(PY) -c 'import secrets; print(secrets.token_urlsafe(32))' > $(PASSPHRASE_FILE); }
	@$(PULUMI_ENV) pulumi stack select $(STACK) 2>/dev/null || $(PULUMI_ENV) pulumi stack init $(STACK)
	$(PULUMI_ENV) pulumi up --yes --stack $(STACK)

preview: venv ## show what `make up` would change
	$(PULUMI_ENV) pulumi preview --stack $(STACK)

refresh: venv ## read the deployed containers, job, tables and dashboards back into the stack's state
	$(PULUMI_ENV) pulumi refresh --yes --stack $(STACK)

env: ## `eval "$(make -s env)"`: `pulumi` typed in the clone then reads the stack's secrets too
	@echo "export PULUMI_BACKEND_URL='$(PULUMI_BACKEND)'"
	@echo "export PULUMI_CONFIG_PASSPHRASE_FILE='$(PASSPHRASE_FILE)'"
	@echo "export PULUMI_SKIP_UPDATE_CHECK=true"

outputs: ## the endpoints and credentials of the deployed stack
	$(PULUMI_ENV) pulumi stack output --stack $(STACK) --show-secrets

down: ## destroy the deployed lakehouse (containers, volumes, buckets, topic, network; images stay cached)
	$(PULUMI_ENV) pulumi destroy --yes --stack $(STACK)

bench: venv ## benchmarks on the test bed: a table, bench-results/<time>.json and plots (no pass/fail)
	$(PY) -m bench

faults: venv ## the fault suite at full size (300,000 events; `make test` runs it at CI size)
	$(PY) -m testbed check
	LAKEHOUSE_FAULTS_SIZE=full $(PY) -m pytest -m integration tests/integration/test_faults_under_load.py

clean: ## remove the virtualenv and caches inside the clone (not the test bed's artifact cache)
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
