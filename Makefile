# livecast: two commands on a fresh machine (Python >= 3.11 and pip only):
#   make run    create .venv if needed, install, migrate, serve on the embedded default
#   make test   create .venv if needed, install, run the whole test suite
#   make browser-deps   hls.js from npm for the browser tests (tests/browser; they also need Debian's chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install schema bench clean browser-deps
HLS_JS := tests/browser/node_modules/hls.js/package.json

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "livecast needs Python >= 3.11: run make PYTHON=python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/livecast migrate
	$(BIN)/livecast serve --no-migrate

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# hls.js for the browser tests (tests/browser), from the committed lock file; they also need Debian's chromium
# (apt-get install chromium). .ci/run installs both; without them the browser tests skip (fail under CI=1).
browser-deps: $(HLS_JS)

$(HLS_JS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	touch $@

schema: install
	$(BIN)/livecast export-schema schema.graphql

bench: install
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
