# The two commands of the README: `make lab` and `make test`.
# Both need only python3 (3.11+) and make; they set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node's `ws` client checks the contract from outside Python, when npm is there (CI has it).
NPM       := $(shell command -v npm 2>/dev/null)
NODE_DEPS := tests/node/node_modules/.package-lock.json
# This lab's JupyterLab defaults (no "Get notified about Jupyter news?" prompt), in .venv only.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.d/rtlab.json

.PHONY: lab test setup notebooks clean

setup: $(STAMP) $(LAB_SETTINGS)

# setuptools' "Editable installation" notice is information, not a warning: not shown.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(LAB_SETTINGS): $(STAMP) rtlab/tools/lab.py
	$(BIN)/python -m rtlab.tools.lab --write-settings

# JupyterLab at notebooks/00_start_here.ipynb, on 127.0.0.1 (with --allow-root as root); prints
# one line with the URL to open; its own log goes to .venv/jupyter-lab.log. Ctrl+C stops it.
lab: setup
	@$(BIN)/python -m rtlab.tools.lab notebooks/00_start_here.ipynb --log $(VENV)/jupyter-lab.log

test: $(STAMP) $(if $(NPM),$(NODE_DEPS))
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

$(NODE_DEPS): tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --silent

# Re-run every notebook top to bottom and store the outputs (after editing one).
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=300 notebooks/[0-9]*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info tests/artifacts tests/node/node_modules
