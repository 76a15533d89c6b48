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
	@# pip's own output (build backend banners included) is shown only when it fails
	@log=$$(mktemp); \
	if ! { $(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]'; } >$$log 2>&1; then \
		cat $$log; rm -f $$log; echo "error: installing the Python dependencies failed (pip's output above)" >&2; exit 1; \
	fi; rm -f $$log
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# Debian packages the browser tests and the PDF export need (headless Chromium, poppler's pdfinfo/pdftoppm, psql).
system-deps:
	@bash scripts/system-deps.sh

# Optional system packages as make test installs them (root: apt; otherwise one line saying what to install).
demo: install
	@bash scripts/system-deps.sh --optional
	$(BIN)/execmetrics demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --explicit-package-bases extract orchestration dashboards bench
	$(BIN)/sqlfluff lint dbt_project/models --disable-progress-bar --processes 2

test: install system-deps lint
	DBT_SEND_ANONYMOUS_USAGE_STATS=false $(BIN)/pytest

# Every figure of docs/PERFORMANCE.md (long: the cards bench alone fills about 10 GB at 10,000 tenants; the large
# company's day runs at BENCH_DAY_SCALE, 1 = 10,000 tenants, with BENCH_DAY_ACTIVITY_DAYS of activity, 31 = the day and
# the 30 MAU reads, the 29 earliest at BENCH_DAY_HISTORY_RATE x the per-user events and API requests, every session
# kept: about 50 GB of disk at scale 1 with 0.033, about 300 GB with 1).
BENCH_DAY_SCALE ?= 1
BENCH_DAY_ACTIVITY_DAYS ?= 31
BENCH_DAY_HISTORY_RATE ?= 0.033
bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --memory --rows 10000000
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/daily_partition.py
	$(BIN)/python bench/backfill.py
	$(BIN)/python bench/cards.py
	$(BIN)/python bench/day.py --scale $(BENCH_DAY_SCALE) --activity-days $(BENCH_DAY_ACTIVITY_DAYS) \
		--history-rate $(BENCH_DAY_HISTORY_RATE)

clean:
	rm -rf $(VENV) target logs .pytest_cache .ruff_cache .mypy_cache test-artifacts
