# Set-up and everyday commands. `make run` and `make test` are all a fresh machine needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Where `make run` serves (and what the demo logins' link says): make run RUNDEV_ADDR=0.0.0.0:8001
RUNDEV_ADDR ?= 127.0.0.1:8000

.PHONY: run test lint format venv venv-dev messages docs docs-serve bench-import bench-admin bench-seed bench-expiry bench-tiers bench-classify bench-segments bench-posting bench-import-purchases bench-dispatch bench-recommendations bench-home clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

venv: $(VENV)/.runtime-installed
venv-dev: $(VENV)/.dev-installed

## run: install, migrate, load demo data once, then serve the admin with a Celery worker and beat
run: venv
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo --if-empty --addr $(RUNDEV_ADDR)
	$(BIN)/python manage.py rundev --addr $(RUNDEV_ADDR)

## test: the whole suite (PostgreSQL when DATABASE_URL is set, else SQLite)
test: venv-dev
	$(BIN)/python -m pytest --create-db $(PYTEST_ARGS)

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## messages: refresh the zh-hans catalogue from the source, then compile it
messages: venv-dev
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --ignore '.venv/*' --ignore 'var/*'
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore '.venv/*'

## docs: build the book (docs/, mkdocs.yml) into var/site; strict, so a broken link fails
docs: venv-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir var/site

## docs-serve: serve the book with live reload at http://127.0.0.1:8001/
docs-serve: venv-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

bench-import: venv-dev
	$(BIN)/python benchmarks/bench_import_members.py

clean:
	rm -rf var db.sqlite3

bench-admin: venv-dev
	$(BIN)/python benchmarks/bench_admin_lists.py

bench-seed: venv-dev
	$(BIN)/python benchmarks/bench_seed_demo.py

bench-expiry: venv-dev
	$(BIN)/python benchmarks/bench_expiry.py

bench-tiers: venv-dev
	$(BIN)/python benchmarks/bench_reevaluate_tiers.py
bench-classify: venv-dev
	$(BIN)/python benchmarks/bench_classify.py

bench-segments: venv-dev
	$(BIN)/python benchmarks/bench_segments.py

bench-posting: venv-dev
	$(BIN)/python benchmarks/bench_posting.py

bench-import-purchases: venv-dev
	$(BIN)/python benchmarks/bench_import_purchases.py

bench-dispatch: venv-dev
	$(BIN)/python benchmarks/bench_dispatch.py

bench-recommendations: venv-dev
	$(BIN)/python benchmarks/bench_recommendations.py

## bench-home: the admin home page of each role with 1,000,000 members (median target 300 ms)
bench-home: venv-dev
	$(BIN)/python benchmarks/bench_home.py
