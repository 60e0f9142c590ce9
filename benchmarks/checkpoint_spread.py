"""Within one training: how much do the generator's last epochs differ in realism, and does
averaging them help?

Two seeds of one config can land 0.07 apart in C2ST (`seed_spread.py`). This asks where that
comes from. If the generator's realism swings from epoch to epoch of the same run, the run's
last epoch is one draw of a wobble: averaging the last epochs' weights, or keeping the epoch
that scores best on the val split, would tame it. If the epochs of a run agree and the runs
disagree, the seeds land in different places and only more seeds help.

`train` trains a config (`cig train`'s JSON) with one more callback, which keeps the
generator's weight average (`optimizer.generator_ema`, the weights `cig train` saves) at the
end of every epoch from `--from-epoch` on, in RUN/snapshots/epochNN.npz. `score` draws the
test (and, with `--split val`, the val) masks with each epoch's weights and with the uniform
average of the weights of each `--average FIRST-LAST` epochs, exactly as `cig evaluate`
draws (field n with seed n, noise on), and prints the realism table (C2ST, FID, cell FD,
worst cell feature) with the floor and the flat-mask baseline of the same split.

On BBBC039 (twenty-fourth session, seeds 3 and 4 of the default preset, benchmarks/RESULTS.md)
the answer was the second: within a run C2ST falls steadily through the decay (0.971 -> 0.911
over epochs 12-18 of seed 4) with no swing, the last epoch is within the CI of the best, the
mean of the last four epochs' weights scores as the last does (0.942 / 0.905 against 0.940 /
0.911), and the seeds stay apart from the decay's start (seed 3's FID is 44 from epoch 13 on,
seed 4's falls to 24).

    python benchmarks/checkpoint_spread.py train --config logs/ctrl2_config.json --seed 3 \
        --out runs/quality_ctrl_s3/realistic-instance_bbbc039 --from-epoch 10
    python benchmarks/checkpoint_spread.py score --run runs/quality_ctrl_s3/realistic-instance_bbbc039 \
        --shards data/bbbc039 --split test val --average 12-18 15-18
"""

import argparse
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RAW = "raw:"  # the prefix of the raw (not averaged) weights kept beside the average


def snapshot_callback(folder, first_epoch):
    """A Keras callback writing the generator's averaged (and raw) trainable weights, by
    variable path, to `folder`/epochNN.npz at the end of every epoch NN >= `first_epoch`."""
    import keras

    from cig_k3.training.callbacks import _sync

    class Snapshots(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 < first_epoch:
                return
            _sync(self.model)
            optimizer = self.model.optimizer["generator"]
            variables = optimizer._trainable_variables
            averages = getattr(optimizer, "_model_variables_moving_average", None) or variables
            values = {variable.path: keras.ops.convert_to_numpy(average)
                      for variable, average in zip(variables, averages, strict=True)}
            values.update({RAW + variable.path: keras.ops.convert_to_numpy(variable) for variable in variables})
            Path(folder).mkdir(parents=True, exist_ok=True)
            path = Path(folder) / f"epoch{epoch + 1:02d}.npz"
            temporary = path.with_name(f".{path.stem}.tmp.npz")
            np.savez(temporary, **values)
            temporary.replace(path)

    return Snapshots()


def snapshots(run):
    """{epoch: path} of RUN/snapshots/epochNN.npz."""
    found = {int(re.fullmatch(r"epoch(\d+)", path.stem).group(1)): path
             for path in sorted((Path(run) / "snapshots").glob("epoch*.npz"))}
    if not found:
        raise SystemExit(f"{run}: no snapshots/epochNN.npz (train it with `checkpoint_spread.py train`)")
    return found


def averaged(paths):
    """{variable path: mean over `paths`' npz files} of the averaged weights (not the raw)."""
    loaded = [np.load(path) for path in paths]
    return {key: np.mean([item[key] for item in loaded], axis=0)
            for key in loaded[0].files if not key.startswith(RAW)}


def with_weights(model, values):
    """`model` with its trainable weights set from {variable path: array}."""
    missing = [weight.path for weight in model.trainable_weights if weight.path not in values]
    if missing:
        raise SystemExit(f"snapshot lacks {len(missing)} of the generator's weights, e.g. {missing[0]}")
    for weight in model.trainable_weights:
        weight.assign(values[weight.path])
    return model


def parse_range(text):
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if not match or int(match.group(1)) > int(match.group(2)):
        raise SystemExit(f"--average {text!r}: give FIRST-LAST epochs, e.g. 12-18")
    return int(match.group(1)), int(match.group(2))


def train_main(args):
    from cig_k3.config import TrainConfig
    from cig_k3.training.run import train

    if not Path(args.config).is_file():
        raise SystemExit(f"--config {args.config}: no such file (a cig train config JSON, e.g. a run's config.json)")
    values = json.loads(Path(args.config).read_text())
    values.update(seed=args.seed, out=args.out)
    config = TrainConfig.from_dict(values)
    train(config, callbacks=[snapshot_callback(Path(args.out) / "snapshots", args.from_epoch)])
    print(f"trained {args.out}; snapshots of epochs {sorted(snapshots(args.out))}")


def score_main(args):
    from instance_features import draw

    from cig_k3.evaluation.realism import RealismOptions, chosen_fields, load_fields, realism_suite
    from cig_k3.export import load_generator

    run = Path(args.run)
    found = snapshots(run)
    crop = json.loads((run / "config.json").read_text())["data"]["crop"]
    weights = {f"epoch {epoch}": dict(np.load(path)) for epoch, path in found.items()}
    for text in args.average:
        first, last = parse_range(text)
        chosen = [found[epoch] for epoch in range(first, last + 1) if epoch in found]
        if len(chosen) != last - first + 1:
            raise SystemExit(f"--average {text}: {run} has snapshots of epochs {sorted(found)}")
        weights[f"average {first}-{last}"] = averaged(chosen)
    model = load_generator(run)
    if not getattr(model, "takes_instances", False):
        raise SystemExit(f"{run}: not an instance generator")
    train_all = load_fields(args.shards, "train", with_conditions=False)
    for split in args.split:
        reference = load_fields(args.shards, split)
        count = min(len(reference), len(train_all))
        train = train_all.subset(chosen_fields(len(train_all), count)) if count < len(train_all) else train_all
        sets = {}
        for name, values in weights.items():
            with_weights(model, {key: value for key, value in values.items() if not key.startswith(RAW)})
            sets[name] = draw(model, reference, None, max(crop, 128))
        results = realism_suite(reference, sets, train=train, options=RealismOptions(cnn_steps=0),
                                cache=Path(args.shards) / "realism_cache")
        print(f"\n{run}, {split} split ({len(reference)} fields)\n"
              "| weights | C2ST logistic (95 % CI) | FID | cell FD | worst cell feature (W1/IQR) |\n|---|---|---|---|---|")
        for name, metrics in results["sets"].items():
            if name == "blurred":
                continue
            low, high = metrics["c2st_logistic_ci95"]
            worst = metrics.get("cell_worst") or {}
            worst_text = f"{worst.get('feature', '')} {worst['w1_iqr']:.2f}" if "w1_iqr" in worst else ""
            print(f"| {name} | {metrics['c2st_logistic']:.3f} ({low:.3f}-{high:.3f}) | {metrics['fid_inception']:.1f} "
                  f"| {metrics.get('cell_fd', float('nan')):.2f} | {worst_text} |", flush=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    trainer = commands.add_parser("train", help="train a config, keeping the last epochs' weights")
    trainer.add_argument("--config", required=True, help="a cig train config JSON")
    trainer.add_argument("--seed", type=int, required=True)
    trainer.add_argument("--out", required=True)
    trainer.add_argument("--from-epoch", type=int, default=1, help="keep the weights from this epoch on")
    scorer = commands.add_parser("score", help="score each kept epoch and averages of them")
    scorer.add_argument("--run", required=True)
    scorer.add_argument("--shards", required=True)
    scorer.add_argument("--split", nargs="+", default=["test"], choices=["test", "val"])
    scorer.add_argument("--average", nargs="*", default=[], help="FIRST-LAST: the mean of those epochs' weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return train_main(args) if args.command == "train" else score_main(args)


if __name__ == "__main__":
    sys.exit(main())
