# Drape: `make run` serves the web process and a worker; `make test` runs the suite.
# Both create the virtualenv and install everything on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
GLTF   := $(if $(wildcard tools/gltf/package-lock.json),tools/gltf/node_modules/.installed)

.PHONY: run test lint typecheck bench schema-docs migrate backup restore clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

tools/gltf/node_modules/.installed: tools/gltf/package-lock.json
	cd tools/gltf && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	$(BIN)/python -m drape.devstack

test: $(STAMP) $(GLTF)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy drape db server realtime workers

bench: $(STAMP)
	$(BIN)/python -m pip install -q -r bench/requirements-bench.txt
	$(BIN)/python -m bench.run_all

migrate: $(STAMP)
	$(BIN)/python -m db.migrate

schema-docs: $(STAMP)
	$(BIN)/python -m db.schema_docs docs/schema.md

clean:
	rm -rf $(VENV) .data tools/gltf/node_modules
