"""`cig evaluate`: paired metrics, mask consistency, FID/KID and uncertainty of a trained
generator on a split, logged to its MLflow run and written as a report (PNG + HTML)."""

import json
import logging
from pathlib import Path

import numpy as np

from cig_k3.commands import integer

log = logging.getLogger("cig.evaluate")


def add_parser(subparsers):
    parser = subparsers.add_parser("evaluate", help="measure a trained generator on a split of shards")
    parser.add_argument("--model", required=True, help="run folder (or generator .keras) of cig train")
    parser.add_argument("--data", required=True, help="shard folder (cig prepare)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--out", default=None, help="report folder (default MODEL/evaluation)")
    parser.add_argument("--crop", type=integer, default=None, help="evaluation crop (default: the run's crop)")
    parser.add_argument("--max-images", type=integer, default=64, help="images scored (stated in the report)")
    parser.add_argument("--samples", type=integer, default=8, help="dropout samples per condition for uncertainty")
    parser.add_argument("--judge", default=None,
                        help="segmenter .keras that judges mask consistency (default DATA/judge/judge.keras, "
                             "trained on DATA's train split on first use and kept, so every model meets the same judge)")
    parser.add_argument("--judge-steps", type=integer, default=200, help="training steps of a new judge")
    parser.add_argument("--inception-weights", default=None,
                        help="InceptionV3 weights file (no-top) for FID/KID in ImageNet features; never downloaded")
    parser.add_argument("--tracking", choices=("mlflow", "none"), default="mlflow")
    parser.set_defaults(func=run)
    return parser


def run(args):
    run_dir = Path(args.model)
    run_dir = run_dir.parent if run_dir.suffix == ".keras" else run_dir
    tracked = None
    if args.tracking == "mlflow":
        tracked = _attach_run(run_dir)
    report = evaluate_run(
        run_dir, args.data, split=args.split, out=args.out or run_dir / "evaluation", tracked=tracked,
        crop=args.crop, max_images=args.max_images, samples=args.samples, judge_path=args.judge,
        judge_steps=args.judge_steps, inception_weights=args.inception_weights,
    )
    print(json.dumps(report["headline"], indent=1))
    return 0


def _attach_run(run_dir):
    try:
        from cig_k3 import tracking

        return tracking.attach_run(run_dir)
    except Exception as error:  # noqa: BLE001 - evaluation never depends on the tracking store
        log.warning("not logging to MLflow: %s", error)
        return None


def _collect(stream, max_images):
    conditions, targets, instances = [], [], []
    for batch in stream.epoch(0):
        conditions.append(batch[0])
        targets.append(batch[1])
        if len(batch) > 2:
            instances.append(batch[2])
        if sum(len(t) for t in targets) >= max_images:
            break
    if not targets:
        raise ValueError(f"{stream.shard_dir}: the {stream.split} split holds no samples to evaluate")
    cut = lambda arrays: np.concatenate(arrays)[:max_images] if arrays else None  # noqa: E731
    return cut(conditions), cut(targets), cut(instances)


def _predict(generator, conditions, batch_size=8, sample=False):
    """`conditions`: an array, or a dict of arrays (a generator that also takes a style)."""
    import keras

    from cig_k3.layers import sampling

    outputs = []
    count = len(next(iter(conditions.values()))) if isinstance(conditions, dict) else len(conditions)
    with sampling(generator, enabled=sample):
        for start in range(0, count, batch_size):
            batch = keras.tree.map_structure(lambda array: array[start:start + batch_size], conditions)
            outputs.append(keras.ops.convert_to_numpy(generator(batch, training=False)))
    return np.concatenate(outputs)


def get_judge(shards, judge_path, crop, steps, seed=0):
    """The judge segmenter: loaded if it exists, else trained on the train split and kept."""
    from cig_k3.data import BatchStream, has_split
    from cig_k3.evaluation.judge import load_judge, train_judge

    path = Path(judge_path) if judge_path else Path(shards) / "judge" / "judge.keras"
    if path.exists():
        return load_judge(path), path
    log.info("training the judge segmenter on %s (train split, %d steps); kept at %s", shards, steps, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    train = BatchStream(shards, split="train", batch_size=8, crop=crop, seed=seed, steps_per_epoch=steps)
    val = None
    if has_split(train.manifest, "val"):
        val = BatchStream(shards, split="val", batch_size=8, crop=crop, seed=seed, augment=None).epoch(0)
    else:  # the rule for data without val fields (README): validate on nothing, and say so
        log.warning("%s has no val split: the judge segmenter trains without validation", shards)
    judge = train_judge(train.forever(), val, steps=steps, epochs=1, out_path=path, seed=seed, verbose=0)
    return judge, path


def evaluate_run(run_dir, shards, split="test", out=None, tracked=None, crop=None, max_images=64, samples=8,
                 judge_path=None, judge_steps=200, inception_weights=None):
    """Evaluate RUN_DIR/generator.keras on `split` of `shards`; returns the results dict."""
    from cig_k3.data import BatchStream, read_manifest
    from cig_k3.evaluation import distances, metrics, report, uncertainty
    from cig_k3.evaluation.conditioning import generator_inputs
    from cig_k3.evaluation.features import encoder_extractor, inception_extractor
    from cig_k3.evaluation.judge import judge_encoder, load_judge
    from cig_k3.evaluation.segmentation import mask_consistency
    from cig_k3.export import load_generator

    run_dir = Path(run_dir)
    out = Path(out or run_dir / "evaluation")
    generator = load_generator(run_dir / "generator.keras")
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    crop = crop or config.get("data", {}).get("crop", 128)
    masks = read_manifest(shards)["task"] == "mask2image"  # virtual staining shards hold no instance masks
    stream = BatchStream(shards, split=split, batch_size=8, crop=crop, augment=None, seed=0, with_instances=masks)
    conditions, real, instances = _collect(stream, max_images)
    inputs = generator_inputs(generator, conditions, real)
    fake = _predict(generator, inputs)
    channel_names = stream.manifest.get("raw_channels")
    results = {"split": split, "crop": crop, "n_images": int(len(real)),
               "paired": metrics.evaluate_paired(real, fake, channel_names=channel_names)["summary"]}

    draws = np.stack([_predict(generator, inputs, sample=True) for _ in range(samples)], axis=1)
    foreground = conditions[..., 0] < 0.5 if stream.task == "mask2image" else None
    spread = uncertainty.uncertainty_dataset(draws, real=real, foreground=foreground)
    results["uncertainty"] = {k: v for k, v in spread.items() if k != "per_image"}

    if stream.task == "mask2image":
        judge, used = get_judge(shards, judge_path, crop, judge_steps)
        consistency = mask_consistency(judge, conditions, real, fake,
                                       instance_masks=instances if instances is not None and len(instances) else None)
        results["mask_consistency"] = consistency
        results["mask_consistency"]["judge"] = str(used)
    elif judge_path:
        # Virtual staining has no masks to train a judge on; a judge given explicitly (for
        # example the BBBC039 nuclei judge for a DAPI channel) still gives domain features.
        judge, used = load_judge(judge_path), Path(judge_path)
    else:
        judge = None
    if judge is not None:
        features = encoder_extractor(judge_encoder(judge))
        results["distances_judge"] = distances.fid_kid(
            features(real[..., :1]), features(fake[..., :1]), features=f"{features.name} ({used}, channel 0)",
            n_subsets=50, subset_size=max(2, min(len(real) // 2, 1000)),
        )
    if inception_weights:
        inception = inception_extractor(inception_weights)
        results["distances_inception"] = distances.fid_kid(
            inception(real[..., :1]), inception(fake[..., :1]), features=inception.name,
            n_subsets=50, subset_size=max(2, min(len(real) // 2, 1000)),
        )
    results["headline"] = _headline(results)
    report.write_report(out, results, examples={"condition": _display_condition(conditions), "real": real,
                                                 "generated": fake, "uncertainty": draws.std(axis=1) * 2 - 1})
    (out / "results.json").write_text(json.dumps(_plain(results), indent=1))
    if tracked is not None:
        from cig_k3 import tracking

        tracking.log_metrics(tracked, {f"{split}_{k}": v for k, v in results["headline"].items()
                                       if isinstance(v, (int, float))})
        tracking.log_artifact(tracked, out, "evaluation")
    return _plain(results)


def _display_condition(conditions):
    if conditions.shape[-1] >= 2:  # one-hot: show the foreground in [-1, 1]
        return (1.0 - conditions[..., :1]) * 2.0 - 1.0
    return conditions[..., :1]


def _headline(results):
    paired = results["paired"]
    headline = {k: paired[f"{k}_mean"] for k in ("mae", "psnr", "ssim", "pearson") if f"{k}_mean" in paired}
    headline["n_images"] = results["n_images"]
    consistency = results.get("mask_consistency")
    if consistency:
        for key in ("dice_foreground", "f1_50", "ap_50"):
            real, fake = consistency["real"].get(key), consistency["fake"].get(key)
            if real is not None and fake is not None:
                headline[f"consistency_{key}_real"] = real
                headline[f"consistency_{key}_fake"] = fake
                headline[f"consistency_{key}_ratio"] = fake / real if real else float("nan")
    judged = results.get("distances_judge")
    if judged:
        headline.update({"fid_judge": judged["fid"], "kid_judge": judged["kid_mean"],
                         "kid_judge_std": judged["kid_std"]})
    spread = results.get("uncertainty", {}).get("summary", {})
    for key, value in spread.items():
        headline[f"uncertainty_{key}"] = value
    return headline


def _plain(value):
    """JSON-able copy: numpy scalars and arrays to Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{value.shape}"
    if isinstance(value, np.generic):
        return value.item()
    return value
