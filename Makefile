# Quanyu: two commands do everything on a fresh machine.
#   make demo   install, start the embedded PostGIS, load the Kongtong demo, serve the dashboard
#   make test   install and run the test suite (real PostGIS, headless Chromium)
# With conda: `conda env create -f environment.yml && conda activate quanyu` first; the
# Makefile then uses that environment's Python instead of creating .venv.

SHELL := /bin/bash
PYTHON ?= python3
ifdef CONDA_PREFIX
  VENV_PY := $(CONDA_PREFIX)/bin/python
  STAMP := $(CONDA_PREFIX)/.quanyu-installed
else
  VENV_PY := .venv/bin/python
  STAMP := .venv/.installed
endif
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: serve-prod install demo serve test db-start db-stop system-deps browser-deps bench clean-db

$(STAMP): pyproject.toml
ifndef CONDA_PREFIX
	@test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
endif
	$(VENV_PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

# PostgreSQL + PostGIS from Debian when root and missing (conda users have them already).
system-deps:
	@$(VENV_PY) -m geo doctor --install

browser-deps:
	@$(VENV_PY) -m geo doctor --install --browser

db-start: install system-deps
	$(VENV_PY) -m geo db start

db-stop:
	$(VENV_PY) -m geo db stop

# Served by gunicorn: WORKERS processes of THREADS threads against one database (caches are
# keyed by data versions, so every worker serves the same current data); quiet but for the
# address to open (geo/web/gunicorn_conf.py). `python app.py` is Flask's development server.
WORKERS ?= 2
THREADS ?= 64
GUNICORN = QUANYU_HOST=$(HOST) QUANYU_PORT=$(PORT) QUANYU_WORKERS=$(WORKERS) QUANYU_THREADS=$(THREADS) \
	$(VENV_PY) -m gunicorn -c python:geo.web.gunicorn_conf app:server

demo: db-start
	$(VENV_PY) -m geo demo --if-empty
	$(GUNICORN)

serve: db-start
	$(GUNICORN)

serve-prod: serve

# Everything: lint and format check (ruff, config in pyproject.toml), then the whole suite.
# The fast suite without a browser: `$(VENV_PY) -m pytest -q -m "not browser"`.
test: install system-deps browser-deps
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m ruff format --check .
	$(VENV_PY) -m geo db start --test
	$(VENV_PY) -m pytest -q

# The benchmark's partition peers (spopt's max-p, GerryChain) come with the `bench` extra.
bench: db-start
	$(VENV_PY) -m pip install --quiet -e ".[test,bench]"
	$(VENV_PY) -m geo bench --scale $(or $(SCALE),district)
