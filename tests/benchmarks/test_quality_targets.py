"""benchmarks/quality.py's targets table: each of issue 14's targets judged against the floor
and flat-mask rows measured the same way."""

import pytest

from tests.benchmarks import load_script

quality = load_script("quality")

pytestmark = pytest.mark.backend_independent

FLOOR = {"fid_inception": 17.9, "c2st_logistic": 0.513, "checkerboard_excess": 0.25}
FLAT = {"fid_inception": 223.0, "c2st_logistic": 1.0}


def verdicts(row):
    return {entry["target"]: entry["verdict"] for entry in quality.targets(row, FLOOR, FLAT)}


def test_a_row_like_real_meets_every_target():
    row = {"fid_inception": 30.0, "c2st_logistic": 0.6, "nuclei_cv_offset": 0.2, "nuclei_contrast_offset": 0.4,
           "cell_worst": "background_lbp_entropy 0.80", "checkerboard_excess": 0.1, "diversity_ratio": 0.3,
           "synthetic_dice_ratio": 0.97, "synthetic_ap50_ratio": 0.92, "follows_texture": True}
    assert set(verdicts(row).values()) == {"met"}


def test_misses_and_gaps_are_named():
    row = {"fid_inception": 125.0, "c2st_logistic": 0.998, "nuclei_cv_offset": 0.33, "nuclei_contrast_offset": 0.11,
           "cell_worst": "background_lbp_uniform_fraction 7.56", "checkerboard_excess": 2.41,
           "diversity_ratio": 0.48, "synthetic_dice_ratio": float("nan"), "follows_texture": False}
    result = verdicts(row)
    assert result["Inception FID at most 2x the floor"] == "missed"  # 125 > 35.8
    assert result["C2ST logistic within 0.15 of the floor"] == "missed"  # 0.998 > 0.663
    assert result["FID below the flat-mask baseline's"] == "met"
    assert result["C2ST below the flat-mask baseline's"] == "met"
    assert result["nuclei CV median within 0.5 real IQR"] == "met"
    # Offsets are signed: 0.6 IQR below the real median misses as 0.6 above does.
    assert verdicts({**row, "nuclei_cv_offset": -0.6})["nuclei CV median within 0.5 real IQR"] == "missed"
    assert result["worst cell feature within 1 IQR (W1 / IQR)"] == "missed"
    assert result["checkerboard excess (dB), mean over draws, no higher than real vs real"] == "missed"
    assert result["diversity ratio at least 0.25"] == "met"
    assert result["synthetic / real Dice ratio at least 0.95"] == "not measured"  # NaN: not trained
    assert result["synthetic / real AP@0.5 ratio at least 0.9"] == "not measured"
    assert result["uncertainty map follows texture, not the outline"] == "missed"
    # The flat-mask baseline itself does not beat itself.
    assert verdicts({**row, **FLAT})["C2ST below the flat-mask baseline's"] == "missed"
