# 社会救助联动平台 — `make run` sets everything up and serves; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup db run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

db: setup
	$(BIN)/relief init-db
	$(BIN)/relief deploy processes/relief_linkage.bpmn --by make

run: db
	@echo
	@$(BIN)/relief --help
	@echo
	@echo "数据库已就绪，流程已部署。Try: $(BIN)/relief case start --channel window --level village --applicant docs/examples/applicant.json"

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check engine tests bench
	$(BIN)/mypy engine

bench: setup
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache
