"""benchmarks/compare.py: one table of reference and backends; the arithmetic, and a smoke run."""

import subprocess
import sys

import pytest

from tests.benchmarks import BENCHMARKS, load_script



def load_compare():
    return load_script("compare")


@pytest.mark.backend_independent
def test_ratios_to_the_reference_and_fractions_of_the_run_peak():
    compare = load_compare()
    rows = [
        {"preset": "pix2pix", "implementation": "reference (PyTorch eager)", "batch": 1, "images_per_second": 2.0,
         "gflop_per_image": 90.0, "peak_rss_mb": 900.0},
        {"preset": "pix2pix", "implementation": "reference (PyTorch eager)", "batch": 4, "images_per_second": 4.0,
         "gflop_per_image": 90.0, "peak_rss_mb": 1000.0},
        {"preset": "pix2pix", "implementation": "torch", "batch": 4, "images_per_second": 5.0,
         "gflop_per_image": 90.0, "peak_rss_mb": 800.0, "peak_fp32_gflops": 450.0},
        {"preset": "cig", "implementation": "jax", "batch": 1, "images_per_second": 3.0,
         "gflop_per_image": 30.0, "peak_rss_mb": 700.0, "peak_fp32_gflops": 900.0},
        {"preset": "cig", "implementation": "tensorflow", "batch": 1, "error": "boom"},
        {"preset": "pix2pix", "implementation": "reference, again", "batch": 1, "images_per_second": 1.0,
         "gflop_per_image": 90.0},
    ]
    assert compare.finish(rows) == 900.0  # the largest peak of the run is every row's denominator
    torch_row, jax_row, failed, again = rows[2], rows[3], rows[4], rows[5]
    assert torch_row["vs reference"] == pytest.approx(1.25) and jax_row["vs reference"] == pytest.approx(1.5)
    assert torch_row["fraction of fp32 peak"] == pytest.approx(5.0 * 90 / 900)
    assert jax_row["fraction of fp32 peak"] == pytest.approx(3.0 * 30 / 900)
    assert again["vs reference"] == pytest.approx(0.5)  # against the first reference run
    assert "img/s" not in failed and failed["error"] == "boom"
    table = compare._common.table(rows, compare.COLUMNS)
    assert table.count("\n") == len(rows) + 1 and "| cig | jax | 1 | 3 | 1.5 | 0.1 | 30 | 700 |" in table


@pytest.mark.slow  # a Keras process with a fit and two matmul peaks: about a minute on 2 cores
@pytest.mark.backend_independent
def test_quick_run_prints_one_table():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "compare.py"), "--quick", "--backends", "tensorflow", "--presets", "cig",
                             "--crop", "64"], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Machine: " in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| cig | tensorflow | 1 |")]
    assert len(rows) == 1
    rate = float(rows[0].split("|")[4])
    assert rate > 0
