# IMDB sentiment: `make serve` and `make test` work on a fresh clone (Python 3.11+, make, PyPI).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 1
DATA ?= ../shared/data/imdb
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The serve extra only: no TensorFlow (what the Docker runtime image installs).
$(VENV)/.serve: requirements/serve.lock | $(BIN)/python
	$(BIN)/pip install -q -r requirements/serve.lock
	touch $@

# The load-test runner only (locust, aiohttp, matplotlib): no service, no TensorFlow.
$(VENV)/.loadtest: requirements/loadtest.lock | $(BIN)/python
	$(BIN)/pip install -q -r requirements/loadtest.lock
	touch $@

# Everything: serve + train + dev (loadtest included).
$(VENV)/.dev: requirements/dev.lock | $(BIN)/python
	$(BIN)/pip install -q -r requirements/dev.lock
	touch $@ $(VENV)/.serve $(VENV)/.loadtest

.PHONY: install install-dev
install: $(VENV)/.serve ## Create .venv with the serve extra only
install-dev: $(VENV)/.dev ## Create .venv with every extra (serve, train, dev)

.PHONY: serve
serve: $(VENV)/.serve ## Serve the committed models on HOST:PORT (127.0.0.1:8000) with WEB_CONCURRENCY workers
	$(BIN)/python -m service --host $(HOST) --port $(PORT) --workers $(WEB_CONCURRENCY)

# The page's end-to-end test needs a Chromium: the system's if there is one, else Debian's with apt
# as root (CI), else Playwright's own download. Never fails: without a browser, only that test does.
.PHONY: browser
browser: $(VENV)/.dev ## Find or install a Chromium for the browser test (apt as root, else playwright)
	@$(BIN)/python scripts/browser.py

# tests/test_protocol_nginx.py runs Debian's nginx: installed with apt as root when missing (CI).
# Never fails: without nginx that test fails in CI and skips elsewhere, saying so.
.PHONY: nginx
nginx: ## Find or install nginx for the protocol test behind nginx (apt as root)
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    echo "nginx test: installing Debian's nginx-light with apt" && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; } || \
	  echo "nginx test: no nginx, and no apt as root to install it"

.PHONY: test
test: $(VENV)/.dev browser nginx ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: $(VENV)/.dev ## The unit tier (no test marked slow): under a minute, for the inner loop
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV)/.dev ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: $(VENV)/.dev ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The generated code is committed; its messages go to a descriptor pool of their own (see
# service/protos/__init__.py), hence the sed.
PROTO := service/protos/grpc_predict_v2.proto
.PHONY: protos
protos: $(VENV)/.dev ## Regenerate the gRPC code in service/protos/ from the vendored .proto (grpcio-tools)
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO)
	sed -i 's/_descriptor_pool\.Default()\.AddSerializedFile/_descriptor_pool.DescriptorPool().AddSerializedFile/' $(PROTO:.proto=_pb2.py)

.PHONY: train
train: $(VENV)/.dev ## Train, evaluate and export every model (the four chapter models, fasttext and ngram) into models/ (data: DATA)
	$(BIN)/python -m training --data $(DATA) --out models

.PHONY: bench
bench: $(VENV)/.dev ## Benchmark against baselines side by side; writes bench/results.{md,json}
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run --data $(DATA)

# Real containers with Debian's podman (docs/deploy.md): as root, and in CI on a fresh machine.
K8S_VERSIONS ?= 1.30.0 1.37.0

.PHONY: deploy-tools
deploy-tools: ## Install podman, buildah, debootstrap, docker-compose... when missing; podman's settings
	bash deploy/install-check-tools.sh

.PHONY: check-deploy
check-deploy: $(VENV)/.dev deploy-tools ## Lint the deploy files; build, run, scale and break the image with podman
	$(BIN)/hadolint --failure-threshold error Dockerfile
	docker-compose --profile train --profile monitoring config --quiet
	for version in $(K8S_VERSIONS); do \
	  $(BIN)/kubernetes-validate --strict --kubernetes-version $$version deploy/k8s/*.yaml || exit 1; \
	done
	$(BIN)/mypy deploy/checks
	bash deploy/base-images.sh
	$(BIN)/python deploy/checks/run.py

URL ?= http://127.0.0.1:8000
USERS ?= 16
DURATION ?= 30
RATE ?=
.PHONY: loadtest
loadtest: $(VENV)/.loadtest ## Load-test URL with USERS for DURATION s (RATE=n: open loop); report in loadtest/reports/
	$(BIN)/python -m loadtest.run --url $(URL) --users $(USERS) --duration $(DURATION) $(if $(RATE),--rate $(RATE))

.PHONY: soak
soak: $(VENV)/.dev ## 100,000 mixed requests: 0 errors, memory growth < 10%; writes bench/soak.{md,json,png}
	$(BIN)/python -m bench.soak

.PHONY: overload
overload: $(VENV)/.dev ## Admission control: open loop at 1-5x capacity, the cost of a refusal, closed loop at 16-1024 connections, hostile bodies; bench/{overload,refusal,admission,hostile}.md
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.overload
	$(BIN)/python -m bench.refusal
	$(BIN)/python -m bench.admission
	$(BIN)/python -m bench.hostile

.PHONY: audit
audit: $(VENV)/.dev ## pip-audit on requirements/serve.lock; says how many packages it could not reach
	$(BIN)/python scripts/audit.py requirements/serve.lock

.PHONY: lock
lock: | $(BIN)/python ## Re-resolve requirements/*.lock from pyproject.toml
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra serve --extra train --extra dev --python-version 3.11 -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --extra serve --python-version 3.11 -c requirements/dev.lock -o requirements/serve.lock
	$(BIN)/uv pip compile pyproject.toml --extra loadtest --python-version 3.11 -c requirements/dev.lock -o requirements/loadtest.lock
	$(BIN)/uv pip compile pyproject.toml --extra serve --extra train --python-version 3.11 -c requirements/dev.lock -o requirements/train.lock

.PHONY: docs
docs: $(VENV)/.serve ## Rewrite the settings table of docs/operations.md from service/settings.py
	$(BIN)/python scripts/settings_table.py

.PHONY: clean
clean: ## Remove caches (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
