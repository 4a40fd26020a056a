# One command to run the server, one to run the tests (README "Quickstart").
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Server databases the suite re-runs its database tests on; set to empty to skip one.
MARIADB_TEST_URL  ?= mysql+pymysql://root@127.0.0.1:3306/wharfinger_test
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/wharfinger_test
PYTEST_ARGS ?=

.PHONY: install run test test-sqlite test-mariadb test-postgres lint bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m app.devrun

test: test-sqlite test-mariadb test-postgres

test-sqlite: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-mariadb: install
	@if [ -n "$(MARIADB_TEST_URL)" ]; then \
	  echo "== database tests on MariaDB"; \
	  WHARFINGER_TEST_DATABASE_URL='$(MARIADB_TEST_URL)' $(BIN)/pytest -m 'db and not e2e and not matrix and not fuzz' $(PYTEST_ARGS); fi

test-postgres: install
	@if [ -n "$(POSTGRES_TEST_URL)" ]; then \
	  echo "== database tests on PostgreSQL"; \
	  WHARFINGER_TEST_DATABASE_URL='$(POSTGRES_TEST_URL)' $(BIN)/pytest -m 'db and not e2e and not matrix and not fuzz' $(PYTEST_ARGS); fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests bench worker.py wsgi.py

bench: install
	$(BIN)/python -m bench.token --runs 3

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
