# The two commands of the README: `make lab` and `make test`.
# Both need only python3 (3.11+) and make; they set up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node's `ws` client checks the contract from outside Python, when npm is there (CI has it).
NPM       := $(shell command -v npm 2>/dev/null)
NODE_DEPS := tests/node/node_modules/.package-lock.json
# JupyterLab refuses to run as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test setup notebooks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 $(ROOT_FLAG) --notebook-dir=notebooks

test: $(STAMP) $(if $(NPM),$(NODE_DEPS))
	$(BIN)/python -m pytest

$(NODE_DEPS): tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --silent

# Re-run every notebook top to bottom and store the outputs (after editing one).
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=300 notebooks/[0-9]*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info tests/artifacts tests/node/node_modules
