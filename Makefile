# Tickwork: `make run` starts the platform on embedded defaults, `make test` runs every check.
# Both create .venv on first use, so a fresh machine needs only Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-faults lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tickwork needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tickwork run

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check platform billing tests
	$(BIN)/ruff format --check platform billing tests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

# Fault injection against real processes (Redis restarted, database away 30 s, clock jumps,
# workers and spawners killed, a miniature load run): about 5 minutes on both lanes, so not part
# of `make test`.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -m faults

bench: $(STAMP)
	$(BIN)/tickwork bench all

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
