"""Shared pieces of the reliability suite: small shards, one tiny trained run, and the
one-line error rule.

Every bad input must end in exactly one non-empty line on stderr, written by our error
handler (`cig <command>: error: ...` or `data_prep: error: ...`), naming the file or
option, with no traceback, and must leave nothing under the final output names.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import tiny_config, tiny_values  # noqa: F401 - the reliability tests import them from here

REPO = Path(__file__).resolve().parents[2]


def one_error_line(err, prefix, *names):
    """The single line of `err`; it starts with `prefix` and contains every name in `names`."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith(prefix), lines[0]
    for name in names:
        assert str(name) in lines[0], f"{name!r} is not named in: {lines[0]}"
    return lines[0]


def run_module(*args, env=None, timeout=300):
    """`python -m <args>` in the repository, as a user would run it; returns CompletedProcess."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def final_outputs(folder, suffixes=(".tar", ".json", ".keras", ".tif", ".tiff", ".npz", ".onnx", ".png")):
    """Files under `folder` with a final name (not hidden temporaries, not the lock file)."""
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith(".") and p.suffix in suffixes)


@pytest.fixture(scope="session")
def small_shards(tmp_path_factory):
    """24 synthetic 64x64 fields, 4 per shard: several train shards, and val and test ones."""
    from data_prep import prepare

    out = tmp_path_factory.mktemp("reliability_shards")
    prepare("synthetic", out, count=24, size=64, seed=0, shard_size=4, ratios="0.6,0.2,0.2", progress=False)
    return out


@pytest.fixture(scope="session")
def binary_shards(tmp_path_factory):
    """The same fields with binary labels: 2 condition channels instead of semantic3's 3."""
    from data_prep import prepare

    out = tmp_path_factory.mktemp("reliability_binary_shards")
    prepare("synthetic", out, count=24, size=64, seed=0, shard_size=4, ratios="0.6,0.2,0.2",
            encoding="binary", progress=False)
    return out


@pytest.fixture(scope="session")
def no_val_shards(tmp_path_factory):
    """A folder of pairs whose splits.csv names train and test fields only, as many public
    data sets come: 6 train and 2 test fields of 64x64, 2 per shard, and no val split."""
    from data_prep import prepare
    from tests.data_prep.conftest import make_pairs

    source = tmp_path_factory.mktemp("no_val_source")
    names = [f"field{index}" for index in range(8)]
    make_pairs(source, names, shape=(64, 64))
    rows = "".join(f"{name},{'test' if index >= 6 else 'train'}\n" for index, name in enumerate(names))
    (source / "splits.csv").write_text("name,split\n" + rows)
    out = tmp_path_factory.mktemp("no_val_shards")
    manifest = prepare(source, out, shard_size=2, progress=False)
    assert not manifest["splits"]["val"]["shards"] and manifest["splits"]["test"]["count"] == 2
    return out


@pytest.fixture(scope="session")
def trained_run(small_shards, tmp_path_factory):
    """One finished tiny run (checkpoint, generator.keras, gan.keras); copy it before changing it."""
    from cig_k3.training import train

    run = tmp_path_factory.mktemp("reliability_run") / "run"
    train(tiny_config(small_shards, run))
    return run


@pytest.fixture
def run_copy(trained_run, tmp_path):
    """A private copy of the trained run folder."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy
