# Everything runs in a project-local virtual environment (.venv) built from the
# committed lock file (uv.lock). The only prerequisites are python3.11 and make.
PYTHON ?= python3.11
TOOLS  := .cache/tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
STAMP  := $(VENV)/.synced-$(shell cat uv.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# Byte-compile on install: with PYTHONDONTWRITEBYTECODE set, every run would recompile.
export UV_COMPILE_BYTECODE := 1

.PHONY: venv demo test lint typecheck bench-validate bench-experiments clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	rm -f $(VENV)/.synced-*
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/accuguard demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench-validate: $(STAMP)
	$(VENV)/bin/python bench/validate_vs_evidently.py

bench-experiments: $(STAMP)
	$(VENV)/bin/python bench/experiments_vs_gbstats.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
