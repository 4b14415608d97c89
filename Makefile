# make demo   build the environment, start the sandbox, run steps 1-6 against it, stop it
# make test   build the environment and run the whole test suite (unit, contract and end-to-end), then again on
#             Python 3.10 with the floor lock (make test-floor; says so plainly when python3.10 is missing)
# make sandbox  run the local Domino sandbox in the foreground
# make bench  run the benchmarks under bench/
# make soak   the whole path under faults and kills on a local sandbox (127.0.0.1), bounded in time; prints issue 9's figures
# make lint   ruff (lint + import order) and mypy (dmm/ and config_loader.py), configured in pyproject.toml

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-lock
# make bench runs in its own environment: Evidently and NannyML (requirements-bench.txt, ~1.5 GB) never enter .venv
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed-bench
# The floor: Python 3.10 (Domino 6.0's standard environment) with the oldest versions requirements.txt admits.
# python3.10 on PATH if it runs (a pyenv shim for a version that is not selected does not), else pyenv's 3.10.x.
FLOOR_VENV := .venv310
FLOOR_BIN := $(FLOOR_VENV)/bin
FLOOR_STAMP := $(FLOOR_VENV)/.installed-floor
PYTHON310 ?= $(shell for candidate in "$$(command -v python3.10)" $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python3.10; do \
  if [ -n "$$candidate" ] && "$$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
  echo "$$candidate"; break; fi; done)
# pip.conf on some machines names index folders that do not exist; those warnings are noise
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install test test-floor demo sandbox bench soak lint clean

install: $(STAMP)

# One recipe makes .venv and .venv310: $(call make_venv,PYTHON,VENV DIR,REQUIREMENTS FILE) then touch the stamp.
# The project itself (pyproject.toml: dmm, sandbox, example, config_loader, prediction_capture_example) goes in
# editable and without dependencies, after the lock files: the exact set stays the one the lock files name.
# domino-data-capture declares attrs<22 but imports only the standard library; see requirements-nodeps.txt
define make_venv
	test -x $(2)/bin/python || $(1) -m venv $(2)
	$(2)/bin/python -m pip install --quiet --disable-pip-version-check -r $(3) 2>&1 | $(QUIET_PIP)
	$(2)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt 2>&1 | $(QUIET_PIP)
	$(2)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(2)/bin/python -c "import domino.training_sets, domino_data.data_sources, domino_data_capture.data_capture_client, mlflow, flask"
	cd / && $(CURDIR)/$(2)/bin/python -c "import dmm, sandbox, example, config_loader, prediction_capture_example"
endef

$(STAMP): requirements-lock.txt requirements-nodeps.txt pyproject.toml
	$(call make_venv,$(PYTHON),$(VENV),requirements-lock.txt)
	touch $(STAMP)

# The report test opens monitoring_report.html in headless Chromium (Debian's package, as root).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is missing and cannot be installed here: the browser test will be skipped"; fi

# The Spark executor's tests (tests/test_spark_engine.py, -m spark) need PySpark (requirements-spark.txt) and Java 17
# (Debian's package, as root, as for Chromium). The floor venv does not get PySpark: its Spark tests are skipped.
SPARK_STAMP := $(VENV)/.installed-spark
JAVA := /usr/bin/java
$(JAVA):
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	else echo "Java is missing and cannot be installed here: the Spark tests will be skipped"; fi

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt 2>&1 | $(QUIET_PIP)
	touch $(SPARK_STAMP)

test: $(STAMP) $(SPARK_STAMP) $(JAVA) $(CHROMIUM) lint
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-floor

# The whole suite again, on Python 3.10 with requirements-floor.txt (+ the no-deps lock and the project, editable).
$(FLOOR_STAMP): requirements-floor.txt requirements-nodeps.txt pyproject.toml
	$(call make_venv,$(PYTHON310),$(FLOOR_VENV),requirements-floor.txt)
	touch $(FLOOR_STAMP)

test-floor:
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "*** python3.10 was not found (neither on PATH nor under pyenv): the floor lock (requirements-floor.txt)"; \
	  echo "*** was NOT tested. Install CPython 3.10 (e.g. pyenv install 3.10) or pass PYTHON310=/path/to/python3.10."; \
	else $(MAKE) --no-print-directory $(FLOOR_STAMP) && \
	  echo "Floor run: $$($(FLOOR_BIN)/python --version) with requirements-floor.txt" && \
	  $(FLOOR_BIN)/python -m pytest -p no:cacheprovider; fi

demo: $(STAMP)
	$(BIN)/python -m example.demo

sandbox: $(STAMP)
	$(BIN)/python -m sandbox serve

# The lock and the competitors resolved together (pip refuses if they conflict), then the no-deps lock and the
# project, editable, as in .venv.
$(BENCH_STAMP): requirements-lock.txt requirements-nodeps.txt requirements-bench.txt pyproject.toml
	test -x $(BENCH_BIN)/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt -r requirements-bench.txt 2>&1 | $(QUIET_PIP)
	$(BENCH_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt 2>&1 | $(QUIET_PIP)
	$(BENCH_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_BIN)/python bench/traffic.py
	$(BENCH_BIN)/python bench/analysis.py
	$(BENCH_BIN)/python bench/step6.py
	$(BENCH_BIN)/python bench/capture.py

# SOAK_ARGS, e.g. "--seeds 3 --count 60 --budget 1800"; a new round starts only within the budget (default 900 s)
soak: $(STAMP)
	$(BIN)/python -m example.soak $(SOAK_ARGS)

# both run, so one report shows every finding; the target fails if either does
lint: $(STAMP)
	status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; exit $$status

clean:
	rm -rf $(VENV) $(FLOOR_VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache demo-output *.egg-info
