# fitdata: `make help` lists the targets. `make run` and `make test` are all a newcomer needs;
# both install what they need first (uv, then the locked dependencies).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000

# Where `make uv` puts uv when pip cannot install it for the user.
UV_FALLBACK_DIR := $(HOME)/.cache/fitdata/uv-venv
# uv from PATH, else from pip's user scripts folder, else from the fallback venv. Recursive
# (`=`) so it is looked up again after `make uv` installed it.
UV = $(shell command -v uv 2>/dev/null \
	|| { d="$$($(PYTHON) -m site --user-base 2>/dev/null)/bin/uv"; test -x "$$d" && echo "$$d"; } \
	|| { test -x "$(UV_FALLBACK_DIR)/bin/uv" && echo "$(UV_FALLBACK_DIR)/bin/uv"; } \
	|| echo uv)
RUN = $(UV) run --frozen
# `python -m pytest` puts the checkout on sys.path, so the no-skips plugin can be loaded.
PYTEST = $(RUN) python -m pytest -p tests.support.no_skips

.PHONY: help
help: ## List the targets
	@echo "Usage: make <target>   (HOST=$(HOST) PORT=$(PORT) for run)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-17s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

.PHONY: uv
uv: ## Install uv if it is missing (pip --user, else a private venv)
	@if [ "$(UV)" = "uv" ] && ! command -v uv >/dev/null 2>&1; then \
		echo "uv not found; installing it with pip" >&2; \
		$(PYTHON) -m pip install --user --quiet uv 2>/dev/null \
		|| $(PYTHON) -m pip install --user --quiet --break-system-packages uv 2>/dev/null \
		|| { $(PYTHON) -m venv "$(UV_FALLBACK_DIR)" \
			&& "$(UV_FALLBACK_DIR)/bin/pip" install --quiet uv; }; \
	fi

.PHONY: install
install: uv ## Install the locked dependencies into .venv (uv sync --frozen; the service and dev tools)
	$(UV) sync --frozen

# The browser end-to-end test drives the system Chromium (Playwright's own download is never
# used). `make browser` installs Debian's package when none is found; under CI=true the test
# fails rather than skips without it.
CHROMIUM_PACKAGES := chromium fonts-liberation

.PHONY: browser
browser: ## Install Chromium for the browser test (apt-get; sudo when not root) if missing
	@if [ -n "$${FITDATA_TEST_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 \
		|| command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make browser: Chromium not found and no apt-get; install Chromium or set" \
			"FITDATA_TEST_CHROMIUM (the browser test skips locally, fails in CI)" >&2; \
		exit 0; \
	fi; \
	sudo=""; \
	if [ "$$(id -u)" != "0" ]; then \
		sudo="sudo"; [ -t 0 ] || sudo="sudo -n"; \
	fi; \
	echo "Chromium not found; installing Debian's chromium for the browser test" >&2; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt_install="$$sudo apt-get install -y -qq --no-install-recommends $(CHROMIUM_PACKAGES)"; \
	$$apt_install >/dev/null 2>&1 || { $$sudo apt-get update -qq && $$apt_install; } \
	|| echo "make browser: could not install chromium; the browser test skips locally," \
		"fails in CI" >&2

.PHONY: run
run: install ## Start the service (embedded: SQLite, in-process worker) with the demo gym
	$(RUN) fitdata demo
	@echo 'Serving on http://$(HOST):$(PORT). In another terminal:' >&2
	@echo '  eval "$$(.venv/bin/fitdata demo 2>/dev/null)"' >&2
	@echo '  curl -H "Authorization: Bearer $$OWNER_TOKEN" http://$(HOST):$(PORT)/organizations/$$ORG_ID/members' >&2
	$(RUN) fitdata serve --host $(HOST) --port $(PORT)

.PHONY: demo
demo: install ## Create (or find) the demo gym and print a token per role
	$(RUN) fitdata demo

.PHONY: test
test: install lint typecheck browser test-core ## Everything CI runs: lint, types, contracts, the core alone, all tests
	$(PYTEST) tests/unit tests/integration tests/e2e

# The core alone: a fresh virtual environment with only fitdata_core's own dependencies (the
# project without its `service` extra) and the `core-test` group, at the versions uv.lock
# pins; proves the frameworks and clients are absent, then runs the unit tests that need
# nothing but the core (tests/support/core_only.py picks them).
.PHONY: test-core
test-core: uv ## The core installed alone in an empty venv: no service dependencies, its unit tests pass
	@work="$$(mktemp -d)"; trap 'rm -rf "$$work"' EXIT; \
	$(UV) venv --quiet "$$work/venv"; \
	$(UV) export --frozen --quiet --no-default-groups --group core-test --no-emit-project \
		--no-hashes --output-file "$$work/requirements.txt"; \
	$(UV) pip install --quiet --python "$$work/venv/bin/python" -r "$$work/requirements.txt"; \
	$(UV) pip install --quiet --python "$$work/venv/bin/python" --no-deps .; \
	"$$work/venv/bin/python" tests/support/core_only.py; \
	"$$work/venv/bin/python" -m pytest -p tests.support.core_only -p tests.support.no_skips \
		--noconftest -p no:cacheprovider tests/unit

.PHONY: test-unit
test-unit: install ## Unit tests (no services needed)
	$(PYTEST) tests/unit

.PHONY: test-integration
test-integration: install ## Integration tests (Postgres, Redis, S3, SMTP, fake providers)
	$(PYTEST) tests/integration

.PHONY: test-e2e
test-e2e: install browser ## End-to-end: a real `fitdata serve` over HTTP and in Chromium
	$(PYTEST) tests/e2e

.PHONY: lint
lint: install ## ruff check, ruff format --check, import-linter contracts
	$(RUN) ruff check src tests bench
	$(RUN) ruff format --check src tests bench
	$(RUN) lint-imports

.PHONY: format
format: install ## Format the code and apply safe lint fixes
	$(RUN) ruff format src tests bench
	$(RUN) ruff check --fix src tests bench

.PHONY: typecheck
typecheck: install ## mypy (strict) over src
	$(RUN) mypy src

.PHONY: bench
bench: install ## Run the benchmark scripts in bench/ (if any)
	@shopt -s nullglob; scripts=(bench/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "no benchmarks in bench/"; fi; \
	for script in "$${scripts[@]}"; do echo "== $$script"; $(RUN) python "$$script"; done

.PHONY: clean
clean: ## Remove caches and build output (keeps .venv and the data in ./var)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis dist build
	find . -name __pycache__ -type d -prune -not -path "./.venv/*" -exec rm -rf {} +

.PHONY: clean-data
clean-data: ## Delete the embedded data (./var: SQLite, files, mail outbox, secrets)
	rm -rf var
