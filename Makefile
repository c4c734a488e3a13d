# Two commands do all set-up: `make demo` (the full demo on the bike data) and `make test`.
# Each creates the virtual environment and installs the pinned versions it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint bench ui clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modelmedic demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

bench: $(STAMP)
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

ui: $(STAMP)
	$(BIN)/modelmedic ui

clean:
	rm -rf $(VENV) modelmedic-home .pytest_cache .ruff_cache
