# The two commands of the README. Both work on a fresh clone with only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
SAMPLE := data/sample
DB := data/quota_plan.duckdb
CONFIG := config/plan.yaml
DAGSTER_HOME ?= $(CURDIR)/$(dir $(DB)).dagster

.PHONY: run test setup clean ui bench browser java

# Two installs, each stamped: `make run` needs the runtime dependencies only; `make test` adds
# the test tools and Spark (the suite's Spark tests). Byte-compiling: pip would compile every
# module one after the other (half the install's time); compileall does it on every core, skipping
# the packages' own test folders (81 s -> 60 s for the runtime install on 2 cores). Compiled once
# here, as Python does not cache what it compiles where PYTHONDONTWRITEBYTECODE is set.
COMPILE = $(BIN)/python -m compileall -q -j 0 -x '/tests?/' \
	"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" pipeline models >/dev/null || true  # a module that fails to compile here compiles on import

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --no-compile -e .
	$(COMPILE)
	@touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --no-compile -e ".[dev,spark]"
	$(COMPILE)
	@touch $(TEST_STAMP) $(RUN_STAMP)

setup: $(TEST_STAMP)

## make run: generate the sample data set (once), run the whole plan, print the summary;
## the workbook, quota letters and report land in data/exports/quota_plan/<plan_id>/ (the DuckDB
## file's stem, then the plan id); every run shows in `make ui`'s history (data/.dagster)
run: $(RUN_STAMP)
	@test -f $(SAMPLE)/accounts.csv || $(BIN)/quota-plan sample --out $(SAMPLE)
	@# exit 3 = the plan was written and summarised but is held for review (docs/review.md): not a failure of make run
	$(BIN)/quota-plan run --input $(SAMPLE) --config $(CONFIG) --db $(DB) --progress || test $$? -eq 3

## make test: the whole test suite (the report test needs Debian's chromium, the Spark tests
## Java 17+: both installed when missing)
test: $(TEST_STAMP) browser java
	$(BIN)/python -m pytest -n 2 --dist loadscope -q

browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || \
	  echo "chromium is missing and could not be installed (needs root): apt-get install -y chromium"
	@command -v pdfinfo >/dev/null 2>&1 || apt-get install -y -q poppler-utils >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q poppler-utils >/dev/null; } || \
	  echo "poppler-utils is missing and could not be installed (needs root): apt-get install -y poppler-utils"

java:
	@command -v java >/dev/null 2>&1 || apt-get install -y -q openjdk-17-jre-headless >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless >/dev/null; } || \
	  echo "java is missing and could not be installed (needs root): apt-get install -y openjdk-17-jre-headless"

## make ui: the Dagster UI on this code location (http://127.0.0.1:3000)
## (DAGSTER_HOME: the .dagster/ folder beside the DuckDB file, the home `quota-plan run` uses too)
ui: $(RUN_STAMP)
	@mkdir -p $(DAGSTER_HOME)
	DAGSTER_HOME=$(DAGSTER_HOME) QUOTA_PLAN_INPUT=$(SAMPLE) QUOTA_PLAN_DB=$(DB) \
	  $(BIN)/dagster dev -w workspace.yaml

bench: $(RUN_STAMP)
	$(BIN)/python benchmarks/bench_plan.py

clean:
	rm -rf data
