"""`cig masks`: sample instance masks whose statistics follow a training set's."""

import json
import logging
import os

from cig_k3.commands import integer

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "masks", help="sample new instance masks like those of a shard folder",
        description="Measure object count, size, shape and orientation in the train shards' instance "
                    "labels and place ellipse-like objects without overlap; writes uint16 PNGs.",
    )
    parser.add_argument("--count", type=integer, required=True, help="number of masks")
    parser.add_argument("--like", required=True, help="shard folder (with manifest.json) to imitate")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=integer, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"),
                        help="field size (default: drawn from the measured fields)")
    parser.add_argument("--seed", type=integer, default=0)
    parser.set_defaults(func=run)
    return parser


def run(args):
    from cig_k3.inference.masks import measure_shards, write_masks

    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    stats = measure_shards(args.like, split=args.split)
    paths = write_masks(stats, args.count, args.out, seed=args.seed, shape=args.size)
    with open(os.path.join(args.out, "mask_statistics.json"), "w", encoding="utf-8") as handle:
        json.dump({"like": str(args.like), "split": args.split, "seed": args.seed, **stats.summary()}, handle, indent=2)
    logger.info("wrote %d masks into %s", len(paths), args.out)
    return 0
