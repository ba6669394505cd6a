# `make run` and `make test` each set everything up on a fresh machine: a pinned uv in .tools/,
# a virtualenv in .venv/ installed from uv.lock, then the command.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
SEED ?= 2026
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test dev lint sample clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --python $(PYTHON) --quiet
	touch $@

data/sample/truth.csv: | $(VENV)/.synced
	$(VENV)/bin/utvalg sample --seed $(SEED) --out data/sample

run: $(VENV)/.synced data/sample/truth.csv
	$(VENV)/bin/utvalg run

# The Dagster UI on http://127.0.0.1:3000 (never on all interfaces); HOST and PORT may be overridden.
HOST ?= 127.0.0.1
PORT ?= 3000
dev: $(VENV)/.synced data/sample/truth.csv
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg dev --host $(HOST) --port $(PORT)

test: $(VENV)/.synced
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check pipelines assets tests
	$(VENV)/bin/mypy

sample: $(VENV)/.synced
	$(VENV)/bin/utvalg sample --seed $(SEED) --out data/sample

clean:
	rm -rf .tools $(VENV) data/warehouse data/sample
