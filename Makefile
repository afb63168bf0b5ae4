# Two entry points for a fresh machine: `make demo` (install + run the demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: demo test install lint bench-survival clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so that nothing pulls a CUDA build: this takes the CPU wheel.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# pycox and SurvivalEVAL are numerical references for tests only; --no-deps keeps its stale pins out.
	$(BIN)/python -m pip install --quiet --no-deps pycox==0.3.0 torchtuples==0.2.2 survivaleval==0.9.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/oncoplan demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) oncoplan-demo .pytest_cache
