# The course's commands. `make run` runs the course, `make test` passes the tests;
# both create .venv with the locked versions on first use.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help setup run compare test lint test-unit test-notebooks test-browser lab data check offline-kit clean

help:
	@echo "make run    run every notebook headless in the active profile; output in runs/<timestamp>/"
	@echo "make compare DATA=folder  train and compare both models on your images/ and masks/ (or DATA=camvid; report.md)"
	@echo "make test   lint, unit tests, then every notebook under nbval in the ci profile"
	@echo "make test-browser  notebooks 02, 05 and 06 in JupyterLab in headless Chromium (not part of make test)"
	@echo "make lab    open JupyterLab on notebooks/"
	@echo "make data   download the datasets now, so the course works offline later"
	@echo "make check  the readiness checklist (for workshops)"
	@echo "make offline-kit  one archive with datasets, encoder weights and wheels (KIT_FLAGS=--no-wheels ...)"

# Recreated whenever pyproject.toml or constraints.txt changes.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt --editable ".[test]"
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m segutils.course.runner

# Notebooks 05 and 06 on a folder holding images/ and masks/ (notebook 08 for DATA=camvid), DATASET injected the papermill
# way. DATA reaches the runner verbatim, single-quoted (spaces, quotes, $ and any letters); the runner expands ~,
# makes a relative path absolute and keeps a registered name (camvid) a name.
quote = '$(subst ','"'"',$(value $1))'
compare: $(STAMP)
	@test -n $(call quote,DATA) || { echo "usage: make compare DATA=/path/to/folder (with images/ and masks/)"; exit 2; }
	$(PY) -m segutils.course.runner --compare $(call quote,DATA)

lint: $(STAMP)
	$(VENV)/bin/ruff check segutils tests tests_browser

test-unit: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder tests/

test-notebooks: $(STAMP)
	SEGUTILS_PROFILE=ci $(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env --nbval-cell-timeout=300 notebooks/

test: lint test-unit test-notebooks

# Not part of `make test`: JupyterLab on 127.0.0.1 and the system's Chromium (skips without it).
test-browser: $(STAMP)
	$(PY) -m pytest -rs tests_browser/

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

data: $(STAMP)
	$(PY) -m segutils.course.data download-all

# segutils refuses to import under TF_USE_LEGACY_KERAS=1: the checklist gets the shell's value under another name
# and shows it as a red row instead of a traceback.
check: $(STAMP)
	env -u TF_USE_LEGACY_KERAS SEGUTILS_SHELL_TF_USE_LEGACY_KERAS="$${TF_USE_LEGACY_KERAS-}" $(PY) -m segutils.course.readiness

# Workshop kit for a room without Wi-Fi (README, "For instructors"); run `make data` first.
# It goes to data/, which git ignores.
KIT ?= data/segutils-kit.tar
KIT_FLAGS ?=
offline-kit: $(STAMP)
	$(PY) -m segutils.course.kit build --out $(KIT) $(KIT_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
