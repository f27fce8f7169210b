# Hotline — set-up, demo and tests. `make serve` and `make test` are the two quick-start commands.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml scripts/setup.sh | cksum | cut -d' ' -f1)

.PHONY: setup serve build test test-fast fuzz lint layers architecture check-wheel browser postgres bench bench-public clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	@rm -f $(VENV)/.installed-*; touch $@

## serve the built-in telecom demo (builds the models on first run, with progress)
serve: setup
	$(BIN)/hotline serve --demo-key

build: setup
	$(BIN)/hotline build

## the whole test suite (installs Debian's chromium for the browser test when run as root)
test: setup browser postgres lint
	$(BIN)/python -m pytest -q -m "not fuzz" -n $(TEST_WORKERS) --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

## fuzz the whole HTTP API on a tiny build: 10,000+ requests, not one 5xx allowed (HOTLINE_FUZZ_EXAMPLES scales it)
fuzz: setup
	$(BIN)/python -m pytest -q -m fuzz tests/serve/test_fuzz.py

## ruff, the layers contract (import-linter) and docs/ARCHITECTURE.md being up to date
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/architecture.py --check

layers: setup
	$(BIN)/lint-imports

## regenerate docs/ARCHITECTURE.md's layer tables from the code
architecture: setup
	$(BIN)/python scripts/architecture.py --write

## build a wheel, install it in a fresh venv outside the checkout, build + assist from another directory
check-wheel: setup
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/check-wheel.sh

postgres:
	@bash scripts/ensure-postgres.sh

browser:
	@bash scripts/ensure-chromium.sh

bench: setup
	$(BIN)/hotline bench speed

bench-public: setup
	$(BIN)/hotline bench public

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
