# Two entry points for a fresh machine: `make demo` runs the whole job on the embedded default,
# `make test` runs the test suite. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m airflow_braze_td.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py --json benchmarks/results/throughput.json

chaos: $(STAMP)
	$(BIN)/python benchmarks/chaos.py --json benchmarks/results/chaos.json

clean:
	rm -rf $(VENV) .demo
