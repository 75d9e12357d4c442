# The two commands of the README. Both work on a fresh clone with only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := data/sample
DB := data/quota_plan.duckdb
CONFIG := config/plan.yaml

.PHONY: run test setup clean ui bench browser java

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	@touch $(STAMP)

setup: $(STAMP)

## make run: generate the sample data set (once), run the whole plan, print the summary;
## the workbook, quota letters and report land in data/exports/<plan_id>/
run: $(STAMP)
	@test -f $(SAMPLE)/accounts.csv || $(BIN)/quota-plan sample --out $(SAMPLE)
	$(BIN)/quota-plan run --input $(SAMPLE) --config $(CONFIG) --db $(DB)

## make test: the whole test suite (the report test needs Debian's chromium, the Spark tests
## Java 17+: both installed when missing)
test: $(STAMP) browser java
	$(BIN)/python -m pytest -n 2 -q

browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || \
	  echo "chromium is missing and could not be installed (needs root): apt-get install -y chromium"

java:
	@command -v java >/dev/null 2>&1 || apt-get install -y -q openjdk-17-jre-headless >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless >/dev/null; } || \
	  echo "java is missing and could not be installed (needs root): apt-get install -y openjdk-17-jre-headless"

## make ui: the Dagster UI on this code location (http://127.0.0.1:3000)
ui: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/.dagster_home QUOTA_PLAN_INPUT=$(SAMPLE) QUOTA_PLAN_DB=$(DB) \
	  $(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_plan.py

clean:
	rm -rf data .dagster_home
