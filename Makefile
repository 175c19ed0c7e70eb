# 社会救助联动平台 — `make run` sets everything up and serves; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

HOST   ?= 127.0.0.1
PORT   ?= 5000
RELIEF_SCHEDULER ?= on

PO     := $(wildcard web/translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

# The BPMN modeler/viewer and DMN editor bundles (frontend/: bpmn-js, dmn-js, esbuild) are build output
# in web/static/dist; bpmnlint (.bpmnlintrc, recommended rules) checks processes/ in `make lint`.
FRONTEND := web/static/dist/.built

.PHONY: setup db run serve test lint bench clean translations

setup: $(STAMP) $(MO) $(FRONTEND)

# Compiled catalogs are build output (not committed); the .po files are the source.
web/translations/%/LC_MESSAGES/messages.mo: web/translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

# Refresh the English catalog after changing user-visible strings, then translate the new entries.
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k _l -o web/translations/messages.pot .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations -l en

$(FRONTEND): frontend/package.json frontend/package-lock.json frontend/build.mjs $(wildcard frontend/src/*)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent
	touch $@

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

db: setup
	$(BIN)/relief init-db
	$(BIN)/relief deploy processes/relief_linkage.bpmn processes/notice_objection.bpmn processes/feedback_rectification.bpmn processes/complaint.bpmn --by make
	@if [ "$$RELIEF_ENV" = "production" ]; then echo "RELIEF_ENV=production: demo data not loaded"; \
	else $(BIN)/relief demo-data; fi

run: db
	@echo
	@echo "社会救助联动平台: http://$(HOST):$(PORT)/  (demo users in README.md, password Demo@2026)"
	RELIEF_SCHEDULER=$(RELIEF_SCHEDULER) $(BIN)/flask --app web run --host $(HOST) --port $(PORT)

# The production server (deploy/gunicorn.conf.py: RELIEF_BIND, RELIEF_WORKERS). The deadline jobs are not
# run in it: start `relief scheduler run` as a process of its own.
serve: db
	RELIEF_SCHEDULER=off $(BIN)/gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check engine web tests bench scripts deploy
	$(BIN)/mypy engine web
	frontend/node_modules/.bin/bpmnlint processes/*.bpmn

bench: setup
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache frontend/node_modules web/static/dist
