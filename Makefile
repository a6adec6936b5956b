# Drape: `make run` serves the web process and a worker; `make test` runs the suite.
# Both create the virtualenv and install everything on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
GLTF   := $(if $(wildcard tools/gltf/package-lock.json),tools/gltf/node_modules/.installed)
# npm tool folders the tests run (glTF Transform; three.js and Filament for Chromium; the
# AsyncAPI parser; openapi-typescript and tsc for the generated client).
TOOLS  := $(foreach t,gltf-transform render asyncapi tsclient,$(if $(wildcard tools/$(t)/package-lock.json),tools/$(t)/node_modules/.installed))

.PHONY: chromium playground run test lint typecheck bench schema-docs migrate backup restore admin clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

tools/gltf/node_modules/.installed: tools/gltf/package-lock.json
	cd tools/gltf && npm ci --no-audit --no-fund --loglevel=error
	touch $@

tools/%/node_modules/.installed: tools/%/package-lock.json
	cd tools/$* && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the avatar render tests (headless, software WebGL) and its WebDriver
# for the playground test; as root only.
chromium:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	@command -v chromedriver >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium-driver)

# The files /playground loads from npm packages, copied beside its own (server/playground/).
PLAYGROUND_VENDOR := three/build/three.module.js three/build/three.core.js \
	three/examples/jsm/loaders/GLTFLoader.js three/examples/jsm/utils/BufferGeometryUtils.js \
	three/examples/jsm/utils/SkeletonUtils.js three/examples/jsm/libs/meshopt_decoder.module.js \
	three/examples/jsm/controls/OrbitControls.js socket.io-client/dist/socket.io.esm.min.js

server/playground/vendor/.copied: tools/playground/node_modules/.installed
	rm -rf server/playground/vendor && mkdir -p server/playground/vendor
	cd tools/playground/node_modules && cp --parents $(PLAYGROUND_VENDOR) ../../../server/playground/vendor/
	touch $@

playground: server/playground/vendor/.copied

run: $(STAMP) playground
	$(BIN)/python -m drape.devstack

test: $(STAMP) $(GLTF) $(TOOLS) chromium playground
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

# make backup DIR=backups/2026-11-25    make restore DIR=backups/2026-11-25 [FORCE=1]
backup: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make backup DIR=backups/NAME" >&2; exit 2; }
	$(BIN)/python -m db.backup dump "$(DIR)"

restore: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make restore DIR=backups/NAME [FORCE=1]" >&2; exit 2; }
	$(BIN)/python -m db.backup restore "$(DIR)" $(if $(FORCE),--force)

# make admin USER=name [REVOKE=1]: grant (or revoke) the admin role on DATABASE_URL. USER must be
# given on the command line: the shell's own $USER names no account of ours.
admin: $(STAMP)
	@test "$(origin USER)" = "command line" || { echo "usage: make admin USER=name [REVOKE=1]" >&2; exit 2; }
	$(BIN)/python -m db.admin $(if $(REVOKE),revoke,grant) "$(USER)"

clean:
	rm -rf $(VENV) .data tools/gltf/node_modules tools/gltf-transform/node_modules tools/render/node_modules \
		tools/playground/node_modules server/playground/vendor tools/asyncapi/node_modules \
		tools/tsclient/node_modules
