"""Shared test set-up: the Keras backend comes from KERAS_BACKEND (default tensorflow), and
small synthetic shards are made once per session with the project's own prepare()."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# The suite compiles hundreds of tiny XLA programs once each (JAX builds every layer's
# initialiser op by op), so compile time, not run time, dominates: with the backend's
# optimisation passes off a U-Net builds in 7 s instead of 55 on JAX. Subprocesses inherit it.
# Numerics stay within the cross-backend test's 1e-4.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory):
    """40 synthetic 64x64 fields as train/val/test shards (semantic3 labels)."""
    from data_prep import prepare

    out = tmp_path_factory.mktemp("synthetic_shards")
    prepare("synthetic", out, count=40, size=64, seed=0)
    return out


def requires_shared_data(name):
    path = SHARED_DATA / name
    return pytest.mark.skipif(not path.exists(), reason=f"{path} is absent (real data is optional)")
