# Yuqing developer commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast test-pg lint bench demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with dev dependencies

run: $(STAMP) ## migrate, load the demo on an empty database, and serve on http://127.0.0.1:8000
	$(BIN)/yuqing demo --host 127.0.0.1 --port 8000

test: $(STAMP) ## run the test suite (SQLite; PostgreSQL too when YUQING_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -n 2 -m "not serial"
	$(BIN)/python -m pytest -m serial

test-fast: $(STAMP) ## the fast lane: SQLite only, no slow, browser or ../shared-data tests
	YUQING_TEST_DATABASE_URL= $(BIN)/python -m pytest -n 2 -m "not slow and not browser and not shared and not serial"

lint: $(STAMP)
	$(BIN)/ruff check app collectors analysis tests
	$(BIN)/mypy analysis collectors app

bench: $(STAMP) ## run the benchmarks and write docs/BENCHMARKS.md
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache data/*.db*
