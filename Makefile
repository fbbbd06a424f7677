# logship: every target creates and uses its own virtualenv in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-all lint bench bench-quick bench-peers clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install logship with its dev tools

demo: $(STAMP) ## run the agent on the bundled sample logs; output in demo-out/
	$(BIN)/logship run -c config/demo.yaml

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## lint, then the test suite without the slow and soak tests
	$(BIN)/python -m pytest; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

test-all: lint ## the whole suite, slow tests included
	$(BIN)/python -m pytest -m 'not soak'; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

bench: $(STAMP) ## the benchmark suite, every scenario (~10 min; installs rsyslog/syslog-ng)
	$(BIN)/python benchmarks/suite.py

bench-quick: $(STAMP) ## the suite on 100,000 lines: a smoke test of every scenario
	$(BIN)/python benchmarks/suite.py --quick

bench-peers: $(STAMP) ## logship vs rsyslog vs syslog-ng on 1,000,000 nginx lines
	$(BIN)/python benchmarks/suite.py peers

# One scenario: make bench-null, bench-file, bench-kafka, bench-elasticsearch, bench-files,
# bench-multiline, bench-json, bench-latency (see `python benchmarks/suite.py --help`).
bench-%: $(STAMP)
	$(BIN)/python benchmarks/suite.py $*

clean: ## remove the virtualenv and generated output
	rm -rf $(VENV) demo-out demo-data benchmarks/out .pytest_cache .mypy_cache .ruff_cache build *.egg-info
