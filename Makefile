# The two commands a newcomer needs: `make dev` and `make test`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
FIREBASE := tools/firebase/node_modules/.bin/firebase
VERCEL_AI := tools/vercel-ai/node_modules/.package-lock.json
# checkov has its own locked environment (tools/checkov/): in the project's it would
# downgrade packaging and pytest.
CHECKOV := tools/checkov/.venv/bin/checkov

.PHONY: dev test lint fmt bench fuzz package install tools clean chromium

$(UV):
	@echo "installing uv ..."
	python3 -m pip install --user --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

$(FIREBASE): tools/firebase/package.json tools/firebase/package-lock.json
	cd tools/firebase && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VERCEL_AI): tools/vercel-ai/package.json tools/vercel-ai/package-lock.json
	cd tools/vercel-ai && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHECKOV): tools/checkov/pyproject.toml tools/checkov/uv.lock | $(UV)
	cd tools/checkov && $(UV) sync --frozen --quiet
	@touch $@

# pydantic-evals pins an older pydantic-ai than ours: its own environment, for the interchange
# tests (docs/api-decisions/evals.md).
EVALS_COMPAT := tools/evals_compat/.venv/.synced
$(EVALS_COMPAT): tools/evals_compat/pyproject.toml tools/evals_compat/uv.lock | $(UV)
	cd tools/evals_compat && $(UV) sync --frozen
	@touch $@


# The official npm clients the tests drive (openai, @ag-ui/client), from their lock file.
CLIENTS := tests/clients/node_modules/.installed
$(CLIENTS): tests/clients/package.json tests/clients/package-lock.json
	cd tests/clients && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: .venv/.synced $(FIREBASE) $(VERCEL_AI) $(CLIENTS) $(EVALS_COMPAT)

# Headless Chromium for the browser tests (Debian's package; never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium chromium-driver; \
	  else echo "chromium missing: run 'sudo apt-get install -y chromium chromium-driver' (browser tests will be skipped)"; fi; }

## Run the whole service locally on http://127.0.0.1:8080 (emulators + functions + gateway)
dev: install
	$(PY) -m tools.localstack

## Run the test suite against the real emulators (started and stopped by the suite)
# Two pytest-xdist workers, whole files each, every worker with its own emulators and
# functions: most tests wait on the emulators, so two overlap well even on two cores.
# PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
test: install chromium
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## ruff, pyright (strict on shared/) and checkov over infra/ (skips only inline, with the reason)
lint: .venv/.synced $(CHECKOV)
	tools/lint.sh

fmt: .venv/.synced
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: install
	$(PY) -m bench

# A full run takes longer than a test's default 300 s limit (pyproject's pytest-timeout).
fuzz: install
	$(PY) -m pytest tests/test_fuzz.py -m fuzz --fuzz-examples=100 --timeout=0 $(PYTEST_ARGS)

package: .venv/.synced
	$(PY) -m tools.package

clean:
	rm -rf .venv build .data .pytest_cache
