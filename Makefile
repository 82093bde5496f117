# The newcomer's commands: `make run` and `make test`. Nothing else to install by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
PYTEST_ARGS ?=
FLASK := $(BIN)/flask --app shop

.PHONY: run test bench lighthouse lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@# The worker sends queued email and releases lapsed reservations beside the web server.
	$(FLASK) worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check shop tests
	$(BIN)/mypy shop
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python tests/benchmark/run.py $(BENCH_ARGS)

# Lighthouse (mobile) on storefront pages, in Debian's Chromium; needs npm.
lighthouse: $(VENV)/.installed-dev
	$(BIN)/python tests/benchmark/lighthouse.py $(LIGHTHOUSE_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check shop tests
	$(BIN)/ruff format --check shop tests

clean:
	rm -rf $(VENV) instance
