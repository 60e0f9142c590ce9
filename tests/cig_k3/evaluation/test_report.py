import numpy as np
import pytest

from cig_k3.evaluation import distances, metrics, report

pytestmark = pytest.mark.backend_independent


def test_write_report_produces_html_and_figures(tmp_path, rng):
    real = rng.uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
    fake = np.clip(real + rng.normal(0, 0.1, real.shape), -1, 1).astype(np.float32)
    condition = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (4, 16, 16))]
    results = {
        "paired": metrics.evaluate_paired(real, fake),
        "distances": distances.fid_kid(rng.normal(size=(20, 3)), rng.normal(size=(20, 3)),
                                       "judge_encoder", n_subsets=3, subset_size=10),
    }
    path = report.write_report(str(tmp_path / "report"), results,
                               examples={"condition": condition, "real": real, "fake": fake})
    folder = tmp_path / "report"
    assert (folder / "report.html").exists() and path.endswith("report.html")
    assert (folder / "examples.png").stat().st_size > 0
    assert (folder / "paired_tables_ssim_hist.png").exists()
    page = (folder / "report.html").read_text()
    assert "paired.summary.ssim_mean" in page and "distances.features" in page
    assert 'src="examples.png"' in page
