# Two commands: `make run` (demo on http://127.0.0.1:8000) and `make test` (whole suite).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_PG_URL := postgres://postgres@127.0.0.1:5432/segments

.PHONY: run test venv lint format bench clean

# The Python that .python-version names (through pyenv when present), else any python3 >= 3.12.
define find_python
for candidate in "$$(pyenv which python 2>/dev/null)" python$$(cat .python-version 2>/dev/null) python3.13 python3.12 python3; do \
  [ -n "$$candidate" ] || continue; \
  path=$$(command -v "$$candidate" 2>/dev/null) || continue; \
  "$$path" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo "$$path"; exit 0; }; \
done; echo "No Python >= 3.12 found; install one (pyenv install 3.13)." >&2; exit 1
endef

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { py=$$($(find_python)) && echo "Creating $(VENV) with $$py" && "$$py" -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo --url http://127.0.0.1:8000
	@# The background worker (rule refreshes, previews, the rules' schedule) runs beside the
	@# server and stops with it.
	DEBUG=1 $(BIN)/python manage.py worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# PostgreSQL: $$DATABASE_URL when set, else the local server when it answers; SQLite only
# when neither exists (loudly, and PostgreSQL-only tests are skipped).
test: $(STAMP)
	@if [ -z "$$DATABASE_URL" ]; then \
	  if $(BIN)/python -c 'import psycopg; psycopg.connect("$(LOCAL_PG_URL:/segments=/postgres)", connect_timeout=3).close()' 2>/dev/null; then \
	    export DATABASE_URL=$(LOCAL_PG_URL); \
	  else \
	    echo "!!!!!!!! No PostgreSQL found: running on SQLite, PostgreSQL-only tests are SKIPPED !!!!!!!!"; \
	  fi; \
	fi; \
	echo "make test: database $${DATABASE_URL:-sqlite}"; \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles test-artifacts
