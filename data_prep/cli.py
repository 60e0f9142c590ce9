"""`python -m data_prep` / `cig-prepare` / `cig prepare`: one argument builder, one run function.

Examples:
    python -m data_prep synthetic --count 200 --out runs/shards
    python -m data_prep ../shared/data/bbbc039 --out /tmp/bbbc039_shards --workers 2
    python -m data_prep ../shared/data/isl_neurons --out /tmp/isl_shards \\
        --input phase_zstack.tif --targets dapi.tif map2.tif nfh.tif --tile 256
"""

import argparse
import logging
import sys


def _whole(text):
    """An int option that also accepts MLproject's float rendering ("24.0")."""
    value = float(text)
    if not value.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)

DESCRIPTION = (
    "Turn a source into train/val/test WebDataset shards plus manifest.json. SOURCE is a folder "
    "with images/ and masks/ paired by file stem (mask2image; a splits.csv in it is used), a "
    "folder with an input stack and target images (--task virtual_staining: tiles, bottom-right "
    "quadrant = test, bottom-left = val, top half = train), or 'synthetic' with --count N."
)


def add_arguments(parser):
    """Add the prepare options to `parser` (shared by `python -m data_prep` and `cig prepare`)."""
    from data_prep.schema import ENCODINGS, TASKS

    parser.add_argument("source", metavar="SOURCE", help="a folder, or 'synthetic'")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for shards and manifest.json")
    parser.add_argument("--task", choices=TASKS, default=None,
                        help="default: virtual_staining when --input is given, else mask2image")
    group = parser.add_argument_group("synthetic source")
    group.add_argument("--count", type=_whole, help="number of synthetic fields")
    group.add_argument("--size", type=_whole, default=256, help="synthetic field height and width (default 256)")
    group.add_argument("--seed", type=_whole, default=0, help="seed of the synthetic fields (default 0)")
    group = parser.add_argument_group("virtual staining source")
    group.add_argument("--input", metavar="FILE", help="input stack in SOURCE, e.g. phase_zstack.tif (C x H x W)")
    group.add_argument("--targets", nargs="+", metavar="FILE", default=(), help="target images in SOURCE")
    group.add_argument("--tile", type=_whole, default=256, help="tile size in pixels (default 256)")
    group = parser.add_argument_group("splits and labels")
    group.add_argument("--splits", metavar="CSV", help="CSV with columns name,split (default: SOURCE/splits.csv "
                                                         "if present, else a hash of the field name)")
    group.add_argument("--ratios", default="0.8,0.1,0.1", help="train,val,test ratios of the hash split")
    group.add_argument("--encoding", choices=ENCODINGS, default="semantic3",
                       help="semantic3: background/interior/boundary (default); binary; raw: values kept")
    group.add_argument("--mask-type", choices=("instance", "semantic"), default="instance",
                       help="what the masks hold: instance labels (default) or class ids (kept as they are)")
    group.add_argument("--channels", nargs="+", metavar="NAME", help="names of the image channels")
    group = parser.add_argument_group("job")
    group.add_argument("--shard-size", type=_whole, default=64, help="samples per shard (default 64)")
    group.add_argument("--workers", type=_whole, default=1, help="reader processes (default 1)")
    group.add_argument("--dask", metavar="ADDRESS", default=None,
                       help="run one Dask task per shard instead: local, local:N (a LocalCluster of N "
                            "processes) or a scheduler address (tcp://host:8786); same bytes as without")
    group.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                       help="fail: stop at the first bad file, write nothing; skip: leave it out, list it")
    group.add_argument("--max-pixels", type=_whole, default=None,
                       help="largest accepted image, height x width x channels (default 200,000,000)")
    group.add_argument("--overwrite", action="store_true", help="replace a data set prepared with other options")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(args):
    """Run prepare from parsed arguments; returns the exit status."""
    from data_prep.pipeline import prepare

    options = dict(
        task=args.task, count=args.count, size=args.size, seed=args.seed, input=args.input,
        targets=tuple(args.targets or ()), tile=args.tile, splits=args.splits, ratios=args.ratios,
        encoding=args.encoding, mask_type=args.mask_type, channels=args.channels,
        shard_size=args.shard_size, on_error=args.on_error,
    )
    if args.max_pixels is not None:
        options["max_pixels"] = args.max_pixels
    prepare(args.source, args.out, workers=args.workers, overwrite=args.overwrite, dask=args.dask,
            progress=False if args.no_progress else None, **options)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m data_prep", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return add_arguments(parser)


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except (ValueError, OSError) as error:
        # One clear line for the user; the traceback is for --verbose.
        if args.verbose:
            raise
        print(f"data_prep: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("data_prep: interrupted; run the same command again to finish the job.", file=sys.stderr)
        return 130
