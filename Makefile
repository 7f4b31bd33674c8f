# safecity: `make run` starts the demo city; `make test` installs everything and runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/system-packages.txt 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: install run test lint typecheck contracts unit openapi openapi-check bench clean

$(STAMP): pyproject.toml scripts/system-packages.txt
	bash scripts/install-system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/safecity demo

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

openapi: install
	$(BIN)/safecity openapi --output docs/openapi.json

openapi-check: install
	$(BIN)/safecity openapi --check docs/openapi.json

unit: install
	$(BIN)/pytest -q

test: lint typecheck openapi-check unit

bench: install
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
