"""A prepare killed mid-way and run again gives the same bytes as an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

REPO = Path(__file__).resolve().parents[2]


def _command(out):
    return [sys.executable, "-m", "data_prep", "synthetic", "--count", "150", "--size", "64",
            "--shard-size", "5", "--workers", "2", "--no-progress", "--out", str(out)]


def test_killed_prepare_resumes_to_identical_bytes(tmp_path, dp):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    subprocess.run(_command(clean), check=True, cwd=REPO, env=env, capture_output=True)

    process = subprocess.Popen(_command(resumed), cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (resumed / "train-000001.tar").exists():
        assert process.poll() is None and time.monotonic() < deadline, "prepare ended before it was killed"
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGKILL)  # the workers too
    process.wait()
    assert not (resumed / "manifest.json").exists()
    assert dp.output_files(resumed) != dp.output_files(clean)

    subprocess.run(_command(resumed), check=True, cwd=REPO, env=env, capture_output=True)
    assert dp.output_files(resumed) == dp.output_files(clean)
