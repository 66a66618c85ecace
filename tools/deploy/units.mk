# Shared by each zip unit's Makefile, which `sam build` runs (BuildMethod: makefile) with ARTIFACTS_DIR set.
# ROOT is the repository root, found from the including Makefile's own path (sam may run make elsewhere).
PYTHON ?= $(if $(wildcard $(ROOT)/.venv/bin/python),$(ROOT)/.venv/bin/python,python3)
BUILD_UNIT = cd $(ROOT) && $(PYTHON) -m tools.deploy.build
