"""benchmarks/seed_spread.py: configs over seeds, read from `cig evaluate`'s results.json."""

import json

import pytest

from tests.benchmarks import load_script


def evaluated(folder, c2st, fid, worst=0.5):
    """A run folder holding the part of an evaluation's results.json that the script reads."""
    (folder / "evaluation").mkdir(parents=True)
    results = {"realism": {"sets": {"generated": {"c2st_logistic": c2st, "fid_inception": fid, "cell_fd": 2.0,
                                                  "checkerboard_excess": 0.2, "diversity_ratio": 1.4}},
                           "cell_features_generated": {"worst": [{"w1_iqr": worst}, {"w1_iqr": worst / 2}]}}}
    (folder / "evaluation" / "results.json").write_text(json.dumps(results))
    return str(folder)


@pytest.mark.backend_independent
def test_groups_seeds_and_says_whether_the_c2st_ranges_are_apart(tmp_path, capsys):
    script = load_script("seed_spread")
    runs = [("control", evaluated(tmp_path / "c1", 0.86, 19.5, worst=0.76)),
            ("control", evaluated(tmp_path / "c2", 0.88, 21.5, worst=1.24)),
            ("better", evaluated(tmp_path / "b1", 0.80, 18.0)),
            ("better", evaluated(tmp_path / "b2", 0.82, 18.4)),
            ("mixed", evaluated(tmp_path / "m1", 0.797, 18.8)),
            ("mixed", evaluated(tmp_path / "m2", 0.913, 24.7)),
            ("single", evaluated(tmp_path / "s1", 0.70, 17.0))]
    assert script.main(sum((["--run", f"{name}={run}"] for name, run in runs), [])) == 0
    rows = {line.split(" | ")[0].strip("| "): line for line in capsys.readouterr().out.splitlines()[2:]}
    assert list(rows) == ["control", "better", "mixed", "single"]
    assert "| control | 2 | 0.870 (0.860-0.880) | 20.500 (19.500-21.500) |" in rows["control"]
    assert "1.000 (0.760-1.240)" in rows["control"]  # the worst cell feature, first of the list
    assert rows["control"].endswith("| – |")
    assert rows["better"].endswith("| lower |") and rows["mixed"].endswith("| overlap |")
    assert rows["single"].endswith("| one seed |")  # below every control seed, but one run is no range
    assert script.verdict([0.80, 0.82], [0.86, 0.9]) == "higher"


@pytest.mark.backend_independent
def test_an_unevaluated_run_or_a_bad_argument_is_refused_by_name(tmp_path, capsys):
    script = load_script("seed_spread")
    with pytest.raises(SystemExit, match=r"--run .*nothing: no evaluation/results.json .*cig evaluate"):
        script.main(["--run", f"a={tmp_path / 'nothing'}"])
    with pytest.raises(SystemExit):
        script.main(["--run", "no-name-given"])
    assert "expected NAME=RUN_DIR" in capsys.readouterr().err
