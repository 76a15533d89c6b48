# The two commands a new user needs: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install system-deps demo test lint unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python dependencies into $(VENV) (first run takes a few minutes)"
	@$(BIN)/pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@set -o pipefail; $(BIN)/pip install --quiet -e '.[dev]' 2>&1 | { grep -v "^WARNING: Location" || true; }
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# Debian packages the browser tests and the PDF export need (headless Chromium, poppler's pdfinfo/pdftoppm).
system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/execmetrics demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy extract orchestration dashboards
	$(BIN)/sqlfluff lint dbt_project/models --disable-progress-bar --processes 2

test: install system-deps lint
	DBT_SEND_ANONYMOUS_USAGE_STATS=false $(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/daily_partition.py
	$(BIN)/python bench/backfill.py

clean:
	rm -rf $(VENV) target logs .pytest_cache .ruff_cache .mypy_cache test-artifacts
