# planner: two commands for users (`make demo`, `make test`); see README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
CONSTRAINTS := requirements/constraints.txt
STAMP  := $(VENV)/.installed
export PYBAMM_DISABLE_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-fast clean

install: $(STAMP)

# torch==2.13.0 goes in first and alone: a resolver that sees an unpinned torch pulls CUDA wheels.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "pip>=24" -c $(CONSTRAINTS) || true
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/planner demo --dir demo-campaign --force

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) demo-campaign .pytest_cache
