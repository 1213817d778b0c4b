# Two commands for a fresh machine:
#   make test       creates .venv, installs layerspeed with its dev tools, lints, runs the tests
#   make reproduce  creates .venv, installs layerspeed, fetches MNIST, reproduces the chapter
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup test mutation reproduce lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "layerspeed needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy src
	@echo "Fetching MNIST into the cache first, so that no test downloads it"
	$(VENV)/bin/layerspeed fetch || echo "MNIST could not be fetched (offline?): the tests that need it will skip"
	$(VENV)/bin/layerspeed fetch --dataset fashion-mnist || echo "Fashion-MNIST could not be fetched (offline?): the tests that need it will skip"
	$(PY) -m pytest

# Mutation testing of the numerical core and the verdicts (hours on 2 cores, so not part of `make test`):
# mutmut mutates nn/ (not the compiled loop), probes.py, chain/, the claims and the verdicts,
# and runs their unit tests against each mutant.
mutation: setup
	$(PY) -m pip install --quiet -e '.[mutation]'
	rm -rf mutants
	$(VENV)/bin/mutmut run
	$(VENV)/bin/mutmut results  # the survivors, one a line

reproduce: setup
	$(VENV)/bin/layerspeed fetch
	$(VENV)/bin/layerspeed reproduce

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy src

bench: setup
	$(PY) -m pip install --quiet -e '.[dev,bench]'  # PyTorch (CPU) and JAX, timed beside it
	$(VENV)/bin/layerspeed fetch
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
