"""benchmarks/_common.py: the score table the realism scripts print."""

import pytest

from tests.benchmarks import load_script


@pytest.mark.backend_independent
def test_print_scores_prints_one_row_per_set_as_it_is_scored(capsys):
    common = load_script("_common")
    scored = []

    def score(images):
        scored.append(images)
        return 10.0 * len(scored) + 0.04, 0.5 + len(scored) / 100, (0.4, 0.6 + len(scored) / 100)

    common.print_scores(score, ((name, [name]) for name in ("drawn", "oracle")), first_column="change")
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["| change | FID | C2ST logistic | 95 % CI |", "|---|---|---|---|",
                     "| drawn | 10.0 | 0.510 | 0.400-0.610 |", "| oracle | 20.0 | 0.520 | 0.400-0.620 |"]
    assert scored == [["drawn"], ["oracle"]]
