"""Configs over several seeds: is one config's realism apart from another's, beyond the seeds?

One trained run is one draw. On BBBC039 four seeds of the default have scored C2ST 0.859-0.940,
and three of the texture encoder 0.797-0.912 (twenty-third and twenty-fourth sessions), wider than most
differences between configs, so a config is adopted on the runs of two seeds or more. This reads
`cig evaluate`'s `evaluation/results.json` of each run, groups the runs by the name given
with each, and prints per group the mean and the range over its seeds of the headline
realism figures (logistic C2ST, Inception FID, cell-feature FD, checkerboard excess,
diversity) and the worst cell feature's W1 in real IQRs. Then, for each group against the
first one (the control), whether their C2ST ranges are apart: "lower" or "higher" only when
every seed of the group is below (above) every seed of the control, "overlap" when not, and
"one seed" when either has a single run.

    python benchmarks/seed_spread.py \
        --run intensity=runs/quality_ctrl_s1/realistic-instance_bbbc039 \
        --run intensity=runs/quality_ctrl_s2/realistic-instance_bbbc039 \
        --run texture=runs/quality_tex_s1/realistic-instance_bbbc039 \
        --run texture=runs/quality_tex_s2/realistic-instance_bbbc039
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FIGURES = (("c2st_logistic", "C2ST logistic"), ("fid_inception", "FID"), ("cell_fd", "cell FD"),
           ("checkerboard_excess", "checkerboard dB"), ("diversity_ratio", "diversity"))


def run_figures(run):
    """The headline realism figures of one run folder's `evaluation/results.json`."""
    path = Path(run) / "evaluation" / "results.json"
    if not path.is_file():
        raise SystemExit(f"--run {run}: no evaluation/results.json (run `cig evaluate --model {run}` first)")
    results = json.loads(path.read_text())
    try:
        realism = results["realism"]
        generated = realism["sets"]["generated"]
    except KeyError:
        raise SystemExit(f"{path}: no realism figures of the generated set (a mask -> image evaluation is needed)")
    figures = {key: float(generated[key]) for key, _ in FIGURES if generated.get(key) is not None}
    worst = (realism.get("cell_features_generated") or {}).get("worst") or []
    if worst:
        figures["worst_cell_w1_iqr"] = float(worst[0]["w1_iqr"])
    return figures


def grouped(pairs):
    """[(name, run)] -> {name: [figures of each run]}, in the order the names first appear."""
    groups = {}
    for name, run in pairs:
        groups.setdefault(name, []).append(run_figures(run))
    return groups


def verdict(control, other):
    """"lower" / "higher" when every value of `other` is below / above every value of `control`;
    "one seed" when either has fewer than two values, since one run says nothing of the spread."""
    if min(len(control), len(other)) < 2:
        return "one seed"
    if max(other) < min(control):
        return "lower"
    if min(other) > max(control):
        return "higher"
    return "overlap"


def summary(groups):
    """Markdown table: per group, each figure's mean and (min-max) over its seeds, and its C2ST
    against the first group's."""
    keys = [(key, label) for key, label in FIGURES] + [("worst_cell_w1_iqr", "worst cell feature (W1/IQR)")]
    lines = ["| config | seeds | " + " | ".join(label for _, label in keys) + " | C2ST vs first |",
             "|---|---|" + "---|" * len(keys) + "---|"]
    names = list(groups)
    control = [row["c2st_logistic"] for row in groups[names[0]] if "c2st_logistic" in row]
    for name in names:
        cells = []
        for key, _ in keys:
            values = [row[key] for row in groups[name] if key in row]
            cells.append(f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})" if values else "")
        c2st = [row["c2st_logistic"] for row in groups[name] if "c2st_logistic" in row]
        against = "–" if name == names[0] or not (c2st and control) else verdict(control, c2st)
        lines.append(f"| {name} | {len(groups[name])} | " + " | ".join(cells) + f" | {against} |")
    return "\n".join(lines)


def named_run(text):
    name, sep, run = text.partition("=")
    if not sep or not name or not run:
        raise argparse.ArgumentTypeError(f"--run {text!r}: expected NAME=RUN_DIR")
    return name, run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=named_run, action="append", required=True, metavar="NAME=RUN_DIR",
                        help="one evaluated run and its config's name; repeat, one per seed (the first name is the control)")
    args = parser.parse_args(argv)
    print(summary(grouped(args.run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
