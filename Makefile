# Boundaries: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

# The first interpreter that *runs* as Python 3.12 or newer. Looking a name up is not
# enough: pyenv's python3.12 shim exists but fails unless .python-version selects it.
PYTHON ?= $(shell for c in python3.14 python3.13 python3.12 python3 python; do \
	if $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	echo $$c; break; fi; done)

.PHONY: help install run test test-fast lint format check ci clean lock bench soak backup-check

help:
	@echo "make run        set up, migrate, load the demo and serve http://$(HOST):$(PORT)"
	@echo "                (another port: make run PORT=8765)"
	@echo "make test       set up and run the whole test suite (browser tests included)"
	@echo "make test-fast  the suite without the browser tests"
	@echo "make lint       ruff (lint and format check) and bandit;  make format  ruff's fixes"
	@echo "make check      migrations up to date, and the deploy checks with production settings"
	@echo "make ci         what CI runs (.ci/run): lint, check, the suite on SQLite and on PostgreSQL"
	@echo "make install    only the virtual environment (.venv) with the pinned dependencies"
	@echo "make lock       regenerate constraints.txt;  make clean  remove .venv, node_modules, caches"
	@echo "make bench      the 1M-incident benchmark (PostgreSQL);  make soak  the restart soak test"
	@echo "make backup-check  pg_dump and pg_restore a seeded database and compare the copy"

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then \
		echo "No Python 3.12 or newer was found. Django 6 needs one."; \
		echo "Install Python 3.12+ (with pyenv: 'pyenv install 3.12'; this folder's .python-version selects it),"; \
		echo "or name one explicitly: make PYTHON=/path/to/python3.12 $(MAKECMDGOALS)"; \
		exit 1; fi
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "Replacing $(VENV): it was made with an older Python."; rm -rf $(VENV); fi
	@echo "Setting up $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP)

# The Nu Html Checker (vnu-jar) for the browser tests, pinned in package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

var/demo-password:
	@mkdir -p var
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(12))' > $@
	@chmod 600 $@

run: $(STAMP) var/demo-password
	DJANGO_DEBUG=true $(PY) manage.py migrate --no-input
	DJANGO_DEBUG=true $(PY) manage.py seed_demo --password="$$(cat var/demo-password)"
	DJANGO_DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP) $(NODE_STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Chromium is missing, so the browser tests cannot run."; \
		echo "Install it with: sudo apt-get install chromium   (never 'playwright install')"; \
		if [ -n "$$CI" ]; then echo "CI is set: the browser tests will fail."; fi; fi
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -c pyproject.toml -r boundaries incidents scripts_library

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: $(STAMP)
	DJANGO_DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	DJANGO_SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	DJANGO_ALLOWED_HOSTS=boundaries.example.org SITE_URL=https://boundaries.example.org \
	EMAIL_HOST=smtp.example.org $(PY) manage.py check --deploy --fail-level WARNING

ci:
	.ci/run

# Performance and resilience (docs/operations.md). Each makes its own throwaway
# PostgreSQL database (BENCH_DATABASE_URL, SOAK_DATABASE_URL, BACKUP_DATABASE_URL to
# choose it), runs for minutes and writes bench-results/*.json; none is part of CI.
# bench exits 1 when a target is not met; soak and backup-check when a check fails.
# soak stops and starts the local PostgreSQL cluster (pg_ctlcluster) part-way through.
BENCH_ARGS ?=

bench: $(STAMP)
	$(PY) -m tests.bench.run $(BENCH_ARGS)

soak: $(STAMP)
	$(PY) -m tests.bench.soak $(BENCH_ARGS)

backup-check: $(STAMP)
	$(PY) -m tests.bench.backup_roundtrip $(BENCH_ARGS)

# Regenerate constraints.txt from what the current ranges resolve to today.
lock:
	rm -rf /tmp/boundaries-lock && $(PYTHON) -m venv /tmp/boundaries-lock
	/tmp/boundaries-lock/bin/pip install --quiet --upgrade pip
	/tmp/boundaries-lock/bin/pip install --quiet -e '.[dev]'
	( echo "# Exact versions for reproducible installs: 'make lock' regenerates this file."; \
	  /tmp/boundaries-lock/bin/pip freeze --all --exclude-editable | grep -v '^boundaries' ) > constraints.txt

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache
